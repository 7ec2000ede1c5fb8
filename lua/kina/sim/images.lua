--- kina.sim.images — image references, records and the simulated registry.
--
-- Image record (stored in state): { reference (normalised), digest ("sha256:<64 hex>", the
-- digest of the image index kina.sim.oci writes for it, unless the reference pins one),
-- mediaType, size, platforms = {{os, architecture}}, created (unix) }.
--
-- The "registry" has every well-formed reference, unless KINA_SIM_IMAGES is set: then only the
-- comma-separated references it lists (normalised before comparing; a listed reference without
-- tag matches every tag) can be pulled.
local json = require("kina.json")
local oci = require("kina.sim.oci")
local errors = require("kina.sim.errors")

local M = {}

local COMPONENT = "^[a-z0-9]+$"

local function valid_component(c)
  -- [a-z0-9]+ separated by one of . _ __ -+
  if c == "" then return false end
  local s = c:gsub("__", "_"):gsub("%-+", "-")
  for part in (s .. "."):gmatch("(.-)[._-]") do
    if not part:match(COMPONENT) then return false end
  end
  return not s:match("[._-]$")
end

--- Normalise a reference as Apple's CLI does (docker.io default domain, library/ for
-- single names, :latest when neither tag nor digest).
-- @return normalised, {domain=, path=, tag=, digest=}
-- @return[2] nil, error message
function M.normalize(ref)
  if type(ref) ~= "string" or ref == "" then return nil, "invalid reference format: " .. tostring(ref) end
  local rest, digest = ref:match("^(.-)@(sha256:%x+)$")
  rest = rest or ref
  if digest and #digest ~= 71 then return nil, "invalid reference format: " .. ref end
  if ref:find("@") and not digest then return nil, "invalid reference format: " .. ref end
  local name, tag = rest:match("^(.*):([%w_][%w_.-]*)$")
  if not name or name:find("/[^/]*$") and tag:find("/") then name, tag = rest, nil end
  if tag and #tag > 128 then return nil, "invalid reference format: " .. ref end
  local first, remainder = name:match("^([^/]+)/(.+)$")
  local domain, path
  if first and (first:find("[.:]") or first == "localhost") then
    domain, path = first, remainder
  else
    domain, path = "docker.io", name
    if not path:find("/") then path = "library/" .. path end
  end
  for c in path:gmatch("[^/]+") do
    if not valid_component(c) then return nil, "invalid reference format: " .. ref end
  end
  if path:find("//") or path:sub(1, 1) == "/" or path:sub(-1) == "/" then
    return nil, "invalid reference format: " .. ref
  end
  if not tag and not digest then tag = "latest" end
  local out = domain .. "/" .. path .. (tag and (":" .. tag) or "") .. (digest and ("@" .. digest) or "")
  return out, { domain = domain, path = path, tag = tag, digest = digest }
end

--- The short form Apple prints in tables: docker.io/library/alpine:latest → alpine:latest.
function M.display(ref)
  local s = ref:gsub("^docker%.io/library/", ""):gsub("^docker%.io/", "")
  return s
end

--- True for kindest/node images (they boot like a kind node).
function M.is_node_image(ref)
  return ref:match("^docker%.io/kindest/node[:@]") ~= nil or ref:match("/kindest/node[:@]") ~= nil
end

--- The digest pinned in a reference ("…@sha256:<hex>"), or nil.
function M.pinned_digest(ref)
  return ref:match("@(sha256:%x+)$")
end

--- Whether the simulated registry has `ref` (normalised).
function M.registry_has(ref, getenv)
  local list = (getenv or os.getenv)("KINA_SIM_IMAGES")
  if not list or list == "" then return true end
  for item in list:gmatch("[^,%s]+") do
    local n = M.normalize(item)
    if n == ref then return true end
    if n and not item:find("[:@][^/]*$") then
      local base = n:gsub(":latest$", "")
      if ref:sub(1, #base + 1) == base .. ":" or ref:sub(1, #base + 1) == base .. "@" then return true end
    end
  end
  return false
end

--- New image record for a normalised reference. Digest and size are those of the image
-- index `image save` writes for it (kina.sim.oci), so `image inspect`, the archive and
-- `ctr images import` in a node all report the same digest. A reference that pins a digest
-- keeps the pinned one (the simulated content cannot hash to it; see README).
function M.record(ref, now, platform)
  platform = platform or { os = "linux", architecture = "arm64" }
  local d = oci.describe({ reference = ref, platform = { os = platform.os, architecture = platform.architecture,
    variant = platform.variant } })
  return {
    reference = ref,
    digest = M.pinned_digest(ref) or d.digest,
    mediaType = d.mediaType,
    size = d.size,
    platforms = json.array({ { os = platform.os, architecture = platform.architecture, variant = platform.variant } }),
    created = now,
  }
end

--- What `image save` hands kina.sim.oci for a stored record.
function M.archive_entry(img)
  local p = img.platforms and img.platforms[1] or { os = "linux", architecture = "arm64" }
  return { reference = img.reference, platform = { os = p.os, architecture = p.architecture, variant = p.variant } }
end

--- Whether Apple's `--scheme auto` (up to 1.2.2) went to `domain` ("host[:port]") over http:
-- "localhost", or an IPv4 literal in 10/8, 127/8, 192.168/16 or 172.16/12
-- (apple/container Sources/Services/ContainerAPIService/Client/RequestScheme.swift
-- isInternalHost before 1.3.0; updates-2026-12 §1). The DNS-domain rule of that function
-- needs `dns.domain`, which the simulator does not keep (README "Still unconfirmed").
function M.auto_http_host(domain)
  local host = (domain or ""):match("^([^:]*)")
  if host == "localhost" then return true end
  local a, b, c, d = host:match("^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
  if not a then return false end
  a, b = tonumber(a), tonumber(b)
  if a > 255 or b > 255 or tonumber(c) > 255 or tonumber(d) > 255 then return false end
  return a == 10 or a == 127 or (a == 192 and b == 168) or (a == 172 and b >= 16 and b <= 31)
end

--- The scheme an image operation uses: `requested` (--scheme) or the release's default,
-- `auto` up to 1.2.2 and `https` from 1.3.0, where `auto` is refused with
-- `unsupported scheme auto` (apple/container PR 2100, RequestScheme.swift: a
-- ContainerizationError invalidArgument, so `Error: …` and exit 1).
function M.resolve_scheme(v, requested, domain)
  requested = requested or (v.scheme_auto and "auto" or "https")
  if requested == "auto" and v.scheme_auto then
    return M.auto_http_host(domain) and "http" or "https"
  end
  if requested ~= "http" and requested ~= "https" then
    errors.throw("invalidArgument", "unsupported scheme " .. requested)
  end
  return requested
end

--- Whether the registry at `domain` speaks plain HTTP only. KINA_SIM_HTTP_REGISTRIES lists
-- them (comma-separated host[:port]; empty: none); unset, every registry `auto` sent to http
-- is one, as a local `registry:2` without TLS is (kind's local-registry recipe, port 5001).
function M.plain_http_registry(domain, getenv)
  local list = (getenv or os.getenv)("KINA_SIM_HTTP_REGISTRIES")
  if list == nil then return M.auto_http_host(domain) end
  for item in list:gmatch("[^,%s]+") do
    if item == domain then return true end
  end
  return false
end

--- Error of an https request to a registry that answers in plain HTTP: swift-nio-ssl's
-- handshake failure as BoringSSL reports a non-TLS reply (the wording Apple's CLI prints
-- around it is unconfirmed; README "Still unconfirmed").
function M.tls_to_plain_http_error()
  return errors.raw("handshakeFailed(NIOSSL.BoringSSLError.sslError([Error: 268435703 " ..
    "error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER]))")
end

--- Error raised when the registry lacks a reference (wording of a registry 404;
-- the exact wrapping is unconfirmed in the reference).
function M.not_found_error(ref, parts)
  local repo = parts and parts.path or ref
  local tag = parts and (parts.digest or parts.tag) or "latest"
  local host = (parts and parts.domain == "docker.io") and "registry-1.docker.io" or (parts and parts.domain or "")
  return errors.raw(string.format(
    "HTTP request to https://%s/v2/%s/manifests/%s failed with response: 404 Not Found. Reason: " ..
    '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":"unknown tag=%s"}]}',
    host, repo, tag, tag))
end

--- Process defaults an image carries (what its OCI config says).
function M.defaults(ref)
  local path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  if M.is_node_image(ref) then
    return {
      entrypoint = { "/usr/local/bin/entrypoint", "/sbin/init" },
      cmd = {},
      env = { "container=docker", path_env },
      stop_signal = "SIGRTMIN+3",
      workdir = "/",
    }
  end
  return { entrypoint = {}, cmd = { "/bin/sh" }, env = { path_env }, workdir = "/" }
end

return M
