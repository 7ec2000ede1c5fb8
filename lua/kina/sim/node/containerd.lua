--- kina.sim.node.containerd — containerd in a simulated kindest/node: the daemon (started by
-- systemd at boot and on `systemctl restart`, with the configuration it reads at that moment),
-- `containerd`, `ctr` and `crictl`, per containerd line of the node's kind release
-- (kina.sim.node.release).
--
-- The daemon's state is per boot (the node's runtime record): {state = "active" | "failed" |
-- "inactive", since, settings (kina.sim.node.containerd_config.settings), error}. Only a
-- (re)start reads the configuration: editing config.toml changes nothing until then. A
-- config containerd rejects leaves the unit failing and restarting every second
-- (kind containerd.service: Type=notify, Restart=always, RestartSec=1) with the socket absent,
-- until a restart finds a config it accepts.
--
-- Images persist in /var/lib/kina-sim/images.json (containerd's metadata store, on disk).
local rootfs = require("kina.sim.node.rootfs")
local oci = require("kina.sim.oci")
local cconfig = require("kina.sim.node.containerd_config")
local digest = require("kina.core.digest")

local C = {}

C.SOCKET = "/run/containerd/containerd.sock"
C.ROOT_DIR = "/var/lib/containerd"

--- The containerd line of a release ("1.7", "2.1", "2.2", "2.3"): what config loader, dump and ctr
-- behaviour apply.
function C.line(release)
  local major, minor = release.containerd:match("^(%d+)%.(%d+)")
  major, minor = tonumber(major), tonumber(minor)
  if major < 2 then return minor >= 7 and "1.7" or "1.6" end
  if minor >= 3 then return "2.3" end
  if minor == 2 then return "2.2" end
  return "2.1"
end

local function stamp(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) .. string.format(".%09dZ", math.floor((t % 1) * 1e9))
end

local function log_line(t, level, msg, fields)
  return 'time="' .. stamp(t) .. '" level=' .. level .. ' msg="' .. msg:gsub('"', '\\"') .. '"' .. (fields and (" " .. fields) or "")
end

---------------------------------------------------------------------------------------------
-- The daemon

local DESC = "containerd.service - containerd container runtime"

--- Start containerd at time `t` (boot or `systemctl start/restart`): read the configuration,
-- record the outcome in the runtime record and the journal. Returns true or nil, error.
function C.start(n, t)
  local rt = n:runtime()
  local release = n:release()
  local line = C.line(release)
  local cfg, err = cconfig.load(n.root, line == "1.6" and "1.7" or line)
  n:journal("containerd", "Starting " .. DESC .. "...", t)
  n:journal("containerd", log_line(t, "info", "starting containerd",
    "revision=" .. release.containerd_commit .. " version=v" .. release.containerd), t, "containerd")
  if not cfg then
    -- cmd/containerd/main.go: fmt.Fprintf(os.Stderr, "containerd: %s\n", err); os.Exit(1)
    n:journal("containerd", "containerd: " .. err, t, "containerd")
    n:journal("containerd", "containerd.service: Main process exited, code=exited, status=1/FAILURE", t)
    n:journal("containerd", "containerd.service: Failed with result 'exit-code'.", t)
    n:journal("containerd", "Failed to start " .. DESC .. ".", t)
    local restarts = rt.containerd and rt.containerd.restarts or 0
    rt.containerd = { state = "failed", since = t, error = err, restarts = restarts }
    return nil, err
  end
  if line ~= "1.7" and line ~= "1.6" then
    for _, f in ipairs(cfg.files) do
      local text = rootfs.read(n.root, f) or ""
      local v = tonumber(text:match("\n%s*version%s*=%s*(%d+)") or text:match("^%s*version%s*=%s*(%d+)"))
      if v and v < cfg.version and (line == "2.3" or f == cconfig.ROOT) then
        -- cmd/containerd/server/config/config.go (2.3: per file) / server.go (2.2)
        n:journal("containerd", log_line(t, "warning", ("Configuration migrated from version %d, use `containerd config migrate` to avoid migration"):format(v)), t, "containerd")
      end
    end
  end
  n:journal("containerd", log_line(t, "info", "containerd successfully booted in 0.041s"), t, "containerd")
  n:journal("containerd", "Started " .. DESC .. ".", t)
  rt.containerd = { state = "active", since = t, settings = cconfig.settings(cfg), line = line }
  rootfs.mkdir_p(n.root, C.ROOT_DIR)
  return true
end

function C.stop(n, t)
  local rt = n:runtime()
  if rt.containerd and rt.containerd.state ~= "inactive" then
    n:journal("containerd", "Stopping " .. DESC .. "...", t)
    n:journal("containerd", "containerd.service: Deactivated successfully.", t)
    n:journal("containerd", "Stopped " .. DESC .. ".", t)
  end
  rt.containerd = { state = "inactive", since = t }
end

--- systemd's view of containerd.service now: "active", "activating" (booting, or failed and
-- waiting for its automatic restart) or "inactive" (stopped).
function C.state(n)
  if not n:booted() then return "activating" end
  local rt = n:runtime()
  if not rt.containerd then
    C.start(n, n.node.boot_complete_at(n.rec, n.ctx.env) - 0.05)
  end
  local d = rt.containerd
  if d.state == "failed" and n:now() >= d.since + 1 then
    -- Restart=always, RestartSec=1: systemd tries again with whatever config.toml holds now
    local count = (d.restarts or 0) + 1
    n:journal("containerd", ("containerd.service: Scheduled restart job, restart counter is at %d."):format(count), d.since + 1)
    local ok = C.start(n, n:now())
    if not ok then rt.containerd.restarts = count end
    d = rt.containerd
  end
  if d.state == "active" then return "active" end
  if d.state == "inactive" then return "inactive" end
  return "activating"
end

--- The settings of the running daemon (nil when it does not run).
function C.running(n)
  if C.state(n) ~= "active" then return nil end
  return n:runtime().containerd.settings
end

---------------------------------------------------------------------------------------------
-- Image store

local function load_images(n)
  local st = n:state("images", { images = {} })
  st.images = st.images or {}
  return st
end

local function find_image(st, ns, name)
  for idx, img in ipairs(st.images) do
    if img.name == name and (img.namespace or "k8s.io") == ns then return img, idx end
  end
end

local function put_image(st, entry)
  local _, idx = find_image(st, entry.namespace, entry.name)
  if idx then st.images[idx] = entry else st.images[#st.images + 1] = entry end
end

-- pkg/progress Bytes: go-units CustomSize("%02.1f %s", size, 1024, B KiB MiB …)
local function human_size(bytes)
  local units, i, v = { "B", "KiB", "MiB", "GiB", "TiB" }, 1, bytes
  while v >= 1024 and i < #units do v = v / 1024; i = i + 1 end
  return string.format("%02.1f %s", v, units[i])
end

-- text/tabwriter.NewWriter(out, 1, 8, 1, ' ', 0) over rows of cells, each row ending in a tab
-- (as ctr's listings print them): every column as wide as its widest cell plus one.
local function tabulate(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for c, cell in ipairs(row) do widths[c] = math.max(widths[c] or 0, #cell) end
  end
  local out = {}
  for _, row in ipairs(rows) do
    local line = {}
    for c, cell in ipairs(row) do line[c] = cell .. string.rep(" ", widths[c] - #cell + 1) end
    out[#out + 1] = table.concat(line) .. "\n"
  end
  return table.concat(out)
end

local function containerd_down(n, prog)
  local msg = 'failed to dial "/run/containerd/containerd.sock": connection error: desc = "transport: error while dialing: dial unix /run/containerd/containerd.sock: connect: no such file or directory"'
  if prog == "ctr" then n:err("ctr: " .. msg .. "\n")
  else
    n:err('time="' .. os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(n:now())) .. '" level=fatal msg="validate service connection: validate CRI v1 image API for endpoint \\"unix:///run/containerd/containerd.sock\\": rpc error: code = Unavailable desc = connection error: desc = \\"transport: error while dialing: dial unix /run/containerd/containerd.sock: connect: no such file or directory\\""\n')
  end
  return 1
end

---------------------------------------------------------------------------------------------
-- Platforms (github.com/containerd/platforms): the node is linux/arm64, normalised to
-- arm64/v8. Default() also matches older arm variants; DefaultStrict()/OnlyStrict() match
-- the platform (and its normalised variant) only.

local NODE = { os = "linux", architecture = "arm64", variant = "v8" }

local function norm(p)
  if type(p) ~= "table" then return nil end
  local arch, variant = p.architecture, p.variant
  if arch == "aarch64" then arch = "arm64" end
  if arch == "arm64" and (variant == nil or variant == "" or variant == "8") then variant = "v8" end
  if arch == "x86_64" then arch = "amd64" end
  return { os = p.os, architecture = arch, variant = variant ~= "" and variant or nil }
end

-- The node's platform: the container's (`container run --platform`), linux/arm64 on a Mac.
local function node_platform(n)
  local p = n.rec.platform
  if type(p) == "table" and type(p.architecture) == "string" then return norm({ os = p.os or "linux", architecture = p.architecture, variant = p.variant }) end
  return NODE
end

local function parse_platform(s)
  local os_, arch, variant = tostring(s):match("^([%w_]+)/([%w_]+)/?([%w_]*)$")
  if not os_ then
    arch = tostring(s):match("^([%w_]+)$")
    if not arch then return nil end
    os_ = "linux"
  end
  return norm({ os = os_, architecture = arch, variant = variant })
end

-- A matcher: "all", {strict = platform}, or {loose = platform}.
local function matches(m, p)
  if m == "all" then return true end
  p = norm(p)
  if not p then return true end -- descriptors without a platform are always followed
  local want = m.strict or m.loose
  if p.os ~= want.os then return false end
  if p.architecture == want.architecture then
    return (p.variant or "") == (want.variant or "") or (m.loose ~= nil and want.architecture == "arm64")
  end
  -- Default() on arm64 also takes linux/arm/v7 … v5 (platforms.Only)
  return m.loose ~= nil and want.architecture == "arm64" and p.architecture == "arm" and p.variant ~= "v8"
end

local function platform_text(p)
  p = norm(p)
  if not p then return "" end
  return p.os .. "/" .. p.architecture .. (p.variant and ("/" .. p.variant) or "")
end

---------------------------------------------------------------------------------------------
-- ctr

-- urfave/cli flag definitions of `ctr images import` per line (cmd/ctr/commands/images/import.go
-- at v1.6.20, v1.7.24, v2.2.0; SnapshotterFlags, LabelFlag in cmd/ctr/commands/commands.go).
local function import_flags(line)
  local f = {
    ["base-name"] = "string", digests = "bool", ["skip-digest-for-named"] = "bool", ["index-name"] = "string",
    ["all-platforms"] = "bool", platform = "string", ["no-unpack"] = "bool", ["compress-blobs"] = "bool",
    snapshotter = "string",
  }
  if line ~= "1.6" then f["local"] = "bool"; f["discard-unpacked-layers"] = "bool" end
  if line:match("^2") then f["sync-fs"] = "bool"; f.label = "list" end
  return f
end

local IMPORT_HELP = [[
NAME:
   ctr images import - Import images

USAGE:
   ctr images import [command options] [flags] <in>
]]

-- Go's flag package: `-x`, `--x`, `-x=v`, `--x v` for non-bool flags; parsing stops at the
-- first non-flag argument ("-" included) or after "--".
local function parse_go_flags(args, defs)
  local vals, pos, i = {}, {}, 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for k = i + 1, #args do pos[#pos + 1] = args[k] end
      break
    end
    if a == "-" or a:sub(1, 1) ~= "-" then
      for k = i, #args do pos[#pos + 1] = args[k] end
      break
    end
    local name, value = a:gsub("^%-%-?", ""):match("^([^=]+)=?(.*)$")
    local has_value = a:find("=", 1, true) ~= nil
    local kind = defs[name]
    if not kind then return nil, "flag provided but not defined: -" .. name end
    if kind == "bool" then
      if has_value then
        if value == "true" or value == "1" then vals[name] = true
        elseif value == "false" or value == "0" then vals[name] = false
        else return nil, ('invalid boolean value "%s" for -%s: parse error'):format(value, name) end
      else vals[name] = true end
    else
      if not has_value then
        i = i + 1
        if args[i] == nil then return nil, "flag needs an argument: -" .. name end
        value = args[i]
      end
      if kind == "list" then
        vals[name] = vals[name] or {}
        table.insert(vals[name], value)
      else
        vals[name] = value
      end
    end
    i = i + 1
  end
  return vals, pos
end

-- archive.AddRefPrefix / FilterRefPrefix (core/images/archive/reference.go)
local function ref_translator(prefix, check_prefix)
  return function(ref)
    if prefix == "" then return "" end
    if ref:find("[/:@]") then
      if check_prefix then
        if ref:sub(1, #prefix) ~= prefix then return "" end
        local nxt = ref:sub(#prefix + 1, #prefix + 1)
        if nxt ~= "" and not nxt:match("[/:@]") then return "" end
      end
      return ref
    end
    return prefix .. ":" .. ref
  end
end

-- client/import.go imageName (the transfer service's imagestore.go keeps the containerd
-- name only when the translator leaves it unchanged; for kind's forms the result is the same).
local function image_name(annotations, translate, transfer)
  local ann = type(annotations) == "table" and annotations or {}
  local name = ann["io.containerd.image.name"]
  if type(name) == "string" and name ~= "" then
    if transfer and translate and translate(name) ~= name then return "" end
    return name
  end
  name = ann["org.opencontainers.image.ref.name"]
  if type(name) == "string" and name ~= "" then return translate and translate(name) or name end
  return ""
end

-- Walk the descriptor graph under index.json as images.WalkNotEmpty with FilterPlatforms:
-- children with a platform that does not match are skipped. Every blob reached must be in the
-- archive. Returns true or nil, "content digest …: not found".
local function walk(archive, desc, matcher)
  local kids, err = oci.children(archive, desc)
  if not kids then return nil, err end
  for _, k in ipairs(kids) do
    if matches(matcher, k.platform) or not k.platform then
      if oci.is_index(k.mediaType) or oci.is_manifest(k.mediaType) then
        local ok, werr = walk(archive, k, matcher)
        if not ok then return nil, werr end
      elseif not archive.blobs[k.digest] then
        return nil, "content digest " .. tostring(k.digest) .. ": not found"
      end
    end
  end
  return true
end

-- The manifest of `desc` for `matcher` (images.Manifest): {digest, config, layers, size} or nil.
local function manifest_for(archive, desc, matcher)
  if oci.is_manifest(desc.mediaType) then
    local m = oci.blob_json(archive, desc.digest)
    if not m or type(m.config) ~= "table" then return nil end
    local cfg = oci.blob_json(archive, m.config.digest)
    local p = desc.platform or (cfg and { os = cfg.os, architecture = cfg.architecture, variant = cfg.variant })
    if p and not matches(matcher, p) then return nil end
    local size = (archive.blobs[desc.digest] or {}).size or 0
    size = size + (m.config.size or 0)
    for _, l in ipairs(type(m.layers) == "table" and m.layers or {}) do size = size + (l.size or 0) end
    -- the snapshots an unpack commits: the chain IDs of the config's diff_ids (image-spec
    -- config.md: ChainID(L1) = DiffID(L1), ChainID(L1..Ln) = sha256(ChainID(L1..Ln-1) + " " + DiffID(Ln)))
    local chain = {}
    for i, d in ipairs(cfg and type(cfg.rootfs) == "table" and type(cfg.rootfs.diff_ids) == "table" and cfg.rootfs.diff_ids or {}) do
      chain[i] = i == 1 and d or ("sha256:" .. digest.sha256(chain[i - 1] .. " " .. d))
    end
    return { digest = desc.digest, config = m.config.digest, layers = m.layers or {}, size = size, platform = p, chain = chain }
  end
  if oci.is_index(desc.mediaType) then
    for _, k in ipairs(oci.children(archive, desc) or {}) do
      if matches(matcher, k.platform) then
        local found = manifest_for(archive, k, matcher)
        if found then
          found.size = found.size + ((archive.blobs[desc.digest] or {}).size or 0)
          return found
        end
      end
    end
  end
  return nil
end

local KNOWN_SNAPSHOTTERS = { overlayfs = true, native = true, ["fuse-overlayfs"] = true }

local function ctr_import(n, rest, ns, line)
  local flags, pos = parse_go_flags(rest, import_flags(line))
  if not flags then
    n:out("Incorrect Usage: " .. pos .. "\n\n" .. IMPORT_HELP)
    n:err("ctr: " .. pos .. "\n")
    return 1
  end
  local settings = C.running(n)
  if not settings then return containerd_down(n, "ctr") end
  local transfer = line:match("^2") ~= nil and not flags["local"]
  if line == "1.7" and flags["local"] == false then transfer = true end -- BoolTFlag: --local=false
  local file = pos[1]
  if not file or file == "" then
    n:err("ctr: please provide a file to import\n"); return 1
  end
  if transfer and flags["discard-unpacked-layers"] ~= nil then
    n:err('ctr: "--discard-unpacked-layers" requires "--local" flag\n'); return 1
  end
  if flags["skip-digest-for-named"] and not flags.digests and not transfer then
    n:err("ctr: --skip-digest-for-named must be specified with --digests option\n"); return 1
  end
  local platform
  if flags.platform and flags.platform ~= "" then
    platform = parse_platform(flags.platform)
    if not platform then
      n:err(('ctr: "%s": unknown operating system or architecture: invalid argument\n'):format(flags.platform)); return 1
    end
  end
  local snapshotter = flags.snapshotter or (n.env and n.env.CONTAINERD_SNAPSHOTTER) or ""
  -- the transfer service unpacks only to the (platform, snapshotter) pairs of its
  -- unpack_config, by default the host platform with overlayfs (plugins/transfer
  -- plugin_defaults_other.go, core/transfer/local/pull.go getSupportedPlatform): any other
  -- --snapshotter leaves no platform to unpack (containerd issue 11606)
  if transfer and not flags["no-unpack"] then
    local allowed = settings.transfer_unpack or { { snapshotter = "overlayfs" } }
    local matched = false
    for _, u in ipairs(allowed) do
      local key = type(u) == "table" and u.snapshotter or "overlayfs"
      if snapshotter == key or snapshotter == "" then matched = true end
    end
    if not matched then
      n:err("ctr: unable to initialize unpacker: no unpack platforms defined: invalid argument\n"); return 1
    end
  end
  local fh, close
  if file == "-" then
    fh = n.io.stdin or { read = function() return nil end }
  else
    fh = io.open(rootfs.host(n.root, n:path(file)), "rb")
    if not fh then n:err("ctr: open " .. file .. ": no such file or directory\n"); return 1 end
    close = true
  end
  local archive, aerr = oci.read_archive(fh)
  if close then fh:close() end
  if not archive then n:err("ctr: " .. aerr .. "\n"); return 1 end

  -- names (client/import.go Import; transfer: core/transfer/image/imagestore.go Store)
  local base = flags["base-name"] or ""
  local prefix = base ~= "" and base or ("import-" .. os.date("!%Y-%m-%d", math.floor(n:now())))
  local translate = ref_translator(prefix, base ~= "")
  local images = {}
  local index_desc = { mediaType = oci.MEDIA_INDEX, digest = archive.index_digest, size = archive.index_size }
  if flags["index-name"] and flags["index-name"] ~= "" and archive.index_digest then
    images[#images + 1] = { name = flags["index-name"], target = index_desc }
  end
  for _, m in ipairs(archive.index.manifests) do
    if type(m) == "table" and type(m.digest) == "string" then
      local target = { mediaType = m.mediaType, digest = m.digest, size = m.size, platform = m.platform }
      local name = image_name(m.annotations, translate, transfer)
      if name ~= "" then images[#images + 1] = { name = name, target = target } end
      -- referrers (core/images AnnotationManifestSubject) get no digest name
      local subject = type(m.annotations) == "table" and m.annotations["io.containerd.manifest.subject"]
      if flags.digests and not subject and not (flags["skip-digest-for-named"] and name ~= "") then
        images[#images + 1] = { name = prefix .. "@" .. m.digest, target = target }
      end
    end
  end
  -- content: every manifest of the requested platforms must be complete
  local walk_matcher
  if flags["all-platforms"] then walk_matcher = "all"
  elseif platform then walk_matcher = { strict = platform }
  else walk_matcher = { loose = node_platform(n) } end -- the client's platforms.Default()
  for _, m in ipairs(archive.index.manifests) do
    if type(m) == "table" and (matches(walk_matcher, m.platform) or not m.platform) then
      if not archive.blobs[m.digest] then n:err("ctr: content digest " .. tostring(m.digest) .. ": not found\n"); return 1 end
      local ok, werr = walk(archive, m, walk_matcher)
      if not ok then n:err("ctr: " .. werr .. "\n"); return 1 end
    end
  end
  local st = load_images(n)
  -- unpacking: the node's platform (DefaultStrict on 2.x, Default on 1.x) or --platform;
  -- with the transfer service, in its configured snapshotter
  local here = node_platform(n)
  local unpack_matcher = platform and { strict = platform } or (line:match("^1") and { loose = here } or { strict = here })
  local snap = snapshotter ~= "" and snapshotter or "overlayfs"
  -- images.Platforms: the platforms the target names (an index: its manifests')
  local function platforms_of(target)
    local seen, list = {}, {}
    local descs = oci.is_index(target.mediaType) and (oci.children(archive, target) or {}) or { target }
    for _, d in ipairs(descs) do
      local p = d.platform
      if type(p) == "table" and p.os then
        local text = p.os .. "/" .. p.architecture .. ((p.variant and p.variant ~= "") and ("/" .. p.variant) or "")
        if not seen[text] then seen[text] = true; list[#list + 1] = text end
      end
    end
    table.sort(list)
    return table.concat(list, ",")
  end
  local labels
  for _, l in ipairs(flags.label or {}) do
    local k, v = l:match("^([^=]+)=?(.*)$")
    labels = labels or {}
    labels[k] = v
  end
  local function entry(img)
    local found = manifest_for(archive, img.target, unpack_matcher)
    local e = {
      name = img.name, namespace = ns, target = img.target, digest = img.target.digest,
      media_type = img.target.mediaType, size = found and found.size or (img.target.size or 0),
      id = found and found.config or nil, platform = platforms_of(img.target),
      chain = found and found.chain or nil, unpacked = {}, labels = {}, created = n:now(),
    }
    for k, v in pairs(labels or {}) do e.labels[k] = v end
    -- the CRI plugin labels every image of its namespace it manages (oracle: all three records)
    if ns == "k8s.io" then e.labels["io.cri-containerd.image"] = "managed" end
    return e, found
  end
  if transfer then
    for _, img in ipairs(images) do
      local e, found = entry(img)
      if found and not flags["no-unpack"] then e.unpacked[snap] = true end
      put_image(st, e)
      n:out(img.name .. "\tsaved\t\n")
    end
    n:out(string.format("Importing\telapsed: 0.1 s\ttotal:   0.0 B\t(0.0 B/s)\t\n"))
  else
    local entries = {}
    for i, img in ipairs(images) do
      local e, found = entry(img)
      entries[i] = { e = e, found = found }
      put_image(st, e)
    end
    n:save_state("images", st)
    if not flags["no-unpack"] then
      if snapshotter ~= "" and not KNOWN_SNAPSHOTTERS[snapshotter] then
        n:out("unpacking " .. images[1].name .. " (" .. images[1].target.digest .. ")...")
        n:err("ctr: snapshotter not loaded: " .. snapshotter .. ": invalid argument\n")
        return 1
      end
      for _, x in ipairs(entries) do
        n:out("unpacking " .. x.e.name .. " (" .. x.e.digest .. ")...")
        if not x.found then
          n:err("ctr: no match for platform in manifest " .. x.e.digest .. ": not found\n")
          return 1
        end
        x.e.unpacked[snap] = true
        put_image(st, x.e)
        n:save_state("images", st)
        n:out("done\n")
      end
    end
  end
  -- the CRI plugin learns of new images in its namespace and records each under its image
  -- ID (oracle: `sha256:<config digest>`, label io.cri-containerd.image=managed)
  if ns == "k8s.io" then
    for _, img in ipairs(images) do
      local e = entry(img)
      if e.id and not find_image(st, ns, e.id) then
        local idrec = {}
        for k, v in pairs(e) do idrec[k] = v end
        idrec.name = e.id
        local named = find_image(st, ns, img.name)
        idrec.unpacked = named and named.unpacked or {}
        put_image(st, idrec)
      end
    end
  end
  n:save_state("images", st)
  return 0
end

function C.ctr(n, argv)
  local release = n:release()
  local line = C.line(release)
  local ns = (n.env and n.env.CONTAINERD_NAMESPACE) or "default"
  local i = 2
  while i <= #argv and argv[i]:sub(1, 1) == "-" do
    local a = argv[i]
    if a == "-n" or a == "--namespace" then ns = argv[i + 1]; i = i + 2
    elseif a:match("^%-%-?namespace=") or a:match("^%-n=") then ns = a:match("=(.*)"); i = i + 1
    elseif a == "--address" or a == "-a" or a == "--timeout" or a == "--connect-timeout" then i = i + 2
    elseif a:match("^%-%-?address=") or a:match("^%-%-?timeout=") or a:match("^%-%-?connect%-timeout=") then i = i + 1
    elseif a == "--debug" then i = i + 1
    elseif a == "--version" or a == "-v" then
      -- urfave/cli's version printer: "<app name> <package> <version>" (oracle: `ctr
      -- github.com/containerd/containerd 1.6.20~ds1`)
      n:out("ctr " .. (line:match("^1") and "github.com/containerd/containerd" or "github.com/containerd/containerd/v2")
        .. " v" .. release.containerd .. "\n")
      return 0
    else
      n:out("Incorrect Usage: flag provided but not defined: -" .. a:gsub("^%-+", ""):gsub("=.*$", "") .. "\n\n")
      n:err("ctr: flag provided but not defined: -" .. a:gsub("^%-+", ""):gsub("=.*$", "") .. "\n")
      return 1
    end
  end
  local group, verb = argv[i], argv[i + 1]
  if group == "version" then
    -- cmd/ctr/commands/version/version.go
    n:out("Client:\n  Version:  v" .. release.containerd .. "\n  Revision: " .. release.containerd_commit .. "\n  Go version: " .. release.go .. "\n\n")
    if not C.running(n) then return containerd_down(n, "ctr") end
    n:out("Server:\n  Version:  v" .. release.containerd .. "\n  Revision: " .. release.containerd_commit .. "\n  UUID: "
      .. (function()
        local h = digest.sha256("containerd uuid " .. n.rec.id)
        return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-" .. h:sub(13, 16) .. "-" .. h:sub(17, 20) .. "-" .. h:sub(21, 32)
      end)() .. "\n")
    return 0
  end
  if group == "snapshots" or group == "snapshot" then
    -- cmd/ctr/commands/snapshots: `ctr snapshots [--snapshotter X] ls`, KEY PARENT KIND
    local snap, k = (n.env and n.env.CONTAINERD_SNAPSHOTTER) or "overlayfs", i + 1
    while argv[k] and argv[k]:sub(1, 1) == "-" do
      if argv[k] == "--snapshotter" then snap = argv[k + 1]; k = k + 2
      elseif argv[k]:match("^%-%-snapshotter=") then snap = argv[k]:match("=(.*)"); k = k + 1
      else n:err("ctr: flag provided but not defined: -" .. argv[k]:gsub("^%-+", "") .. "\n"); return 1 end
    end
    if argv[k] ~= "ls" and argv[k] ~= "list" then n:err("ctr: no such command: " .. tostring(argv[k]) .. "\n"); return 1 end
    if not C.running(n) then return containerd_down(n, "ctr") end
    local seen, keys = {}, {}
    for _, img in ipairs(load_images(n).images) do
      if (img.namespace or "k8s.io") == ns and img.unpacked and img.unpacked[snap] and img.chain then
        for idx, key in ipairs(img.chain) do
          if not seen[key] then seen[key] = img.chain[idx - 1] or ""; keys[#keys + 1] = key end
        end
      end
    end
    table.sort(keys)
    local rows = { { "KEY", "PARENT", "KIND" } }
    for _, key in ipairs(keys) do rows[#rows + 1] = { key, seen[key], "Committed" } end
    n:out(tabulate(rows))
    return 0
  end
  if group ~= "images" and group ~= "image" and group ~= "i" then
    n:err("ctr: no such command: " .. tostring(group) .. "\n"); return 1
  end
  local rest = { table.unpack(argv, i + 2) }
  if verb == "import" then return ctr_import(n, rest, ns, line) end
  if not C.running(n) then return containerd_down(n, "ctr") end
  local st = load_images(n)
  if verb == "ls" or verb == "list" then
    local quiet = rest[1] == "-q" or rest[1] == "--quiet"
    local rows = {}
    for _, img in ipairs(st.images) do if (img.namespace or "k8s.io") == ns then rows[#rows + 1] = img end end
    table.sort(rows, function(a, b) return a.name < b.name end)
    if quiet then
      for _, img in ipairs(rows) do n:out(img.name .. "\n") end
    else
      local lines = { { "REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS" } }
      for _, img in ipairs(rows) do
        local labels = {}
        for k, v in pairs(img.labels or {}) do labels[#labels + 1] = k .. "=" .. v end
        table.sort(labels)
        lines[#lines + 1] = { img.name, img.media_type or oci.MEDIA_INDEX, img.digest, human_size(img.size or 0),
          (img.platform and img.platform ~= "") and img.platform or "-", #labels > 0 and table.concat(labels, ",") or "-" }
      end
      n:out(tabulate(lines))
    end
    return 0
  elseif verb == "tag" then
    local force = false
    local names = {}
    for _, a in ipairs(rest) do if a == "--force" then force = true else names[#names + 1] = a end end
    if #names < 2 then n:err("ctr: please provide an image reference and a new reference\n"); return 1 end
    local src = find_image(st, ns, names[1])
    if not src then n:err('ctr: image "' .. names[1] .. '": not found\n'); return 1 end
    for k = 2, #names do
      local existing = find_image(st, ns, names[k])
      if existing and not force then n:err('ctr: image "' .. names[k] .. '": already exists\n'); return 1 end
      local copy = {}
      for key, v in pairs(src) do copy[key] = v end
      copy.name = names[k]
      put_image(st, copy)
      n:out(names[k] .. "\n")
    end
    n:save_state("images", st)
    return 0
  elseif verb == "rm" or verb == "remove" or verb == "delete" or verb == "del" then
    for _, a in ipairs(rest) do
      if a:sub(1, 1) ~= "-" then
        local _, idx = find_image(st, ns, a)
        if not idx then n:err('ctr: image "' .. a .. '": not found\n'); return 1 end
        table.remove(st.images, idx)
        n:out(a .. "\n")
      end
    end
    n:save_state("images", st)
    return 0
  end
  n:err("ctr: no such command: " .. tostring(verb) .. "\n")
  return 1
end

---------------------------------------------------------------------------------------------
-- crictl (cri-tools; images as the CRI plugin shows them: one per image ID, its names as
-- repoTags / repoDigests, normalised)

-- CRI images of the node: {id, tags = {…}, digests = {…}, names = {raw names}, size}.
local function cri_images(n)
  local st = load_images(n)
  local by_id, order = {}, {}
  for _, img in ipairs(st.images) do
    if (img.namespace or "k8s.io") == "k8s.io" and img.id then
      local e = by_id[img.id]
      if not e then
        e = { id = img.id, tags = {}, digests = {}, names = {}, size = img.size or 0, pinned = false }
        by_id[img.id] = e
        order[#order + 1] = e
      end
      if img.name ~= img.id then
        e.names[#e.names + 1] = img.name
        local normalized = oci.normalize_reference(img.name)
        if img.name:find("@", 1, true) then e.digests[#e.digests + 1] = normalized
        else e.tags[#e.tags + 1] = normalized end
      end
      if img.labels and img.labels["io.cri-containerd.pinned"] == "pinned" then e.pinned = true end
    end
  end
  for _, e in ipairs(order) do table.sort(e.tags); table.sort(e.digests) end
  table.sort(order, function(a, b) return (a.tags[1] or a.id) < (b.tags[1] or b.id) end)
  return order
end

-- ImageStatus: an image ID (or a unique prefix of one), else the normalised reference
-- matched against the names as containerd stores them (internal/cri/server/images LocalResolve).
local function cri_resolve(n, ref)
  local imgs = cri_images(n)
  local hex = ref:gsub("^sha256:", "")
  if hex:match("^%x+$") and #hex >= 3 then
    local hit
    for _, e in ipairs(imgs) do
      if e.id:sub(8, 7 + #hex) == hex then
        if hit then hit = nil; break end
        hit = e
      end
    end
    if hit then return hit end
  end
  local want = oci.normalize_reference(ref)
  for _, e in ipairs(imgs) do
    for _, name in ipairs(e.names) do if name == want then return e end end
  end
end

local function json_array(t) return rootfs.array(t) end

local function cri_status(e)
  return {
    id = e.id, repoTags = json_array(e.tags), repoDigests = json_array(e.digests), size = tostring(e.size),
    uid = rootfs.null, username = "", spec = rootfs.null, pinned = e.pinned,
  }
end

function C.crictl(n, argv)
  local release = n:release()
  local verb, args = nil, {}
  for i = 2, #argv do
    if not verb and argv[i]:sub(1, 1) ~= "-" then verb = argv[i] else args[#args + 1] = argv[i] end
  end
  for _, a in ipairs(args) do
    if not verb and (a == "--version" or a == "-v") then
      n:out("crictl version v" .. release.crictl .. "\n"); return 0
    end
  end
  if not verb then n:out("NAME:\n   crictl - client for CRI\n"); return 0 end
  if not C.running(n) then return containerd_down(n, "crictl") end
  if verb == "version" then
    n:out("Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  v" .. release.containerd .. "\nRuntimeApiVersion:  v1\n")
    return 0
  end
  local imgs = cri_images(n)
  if verb == "images" or verb == "image" or verb == "img" then
    local json = false
    for k, a in ipairs(args) do
      if (a == "-o" and args[k + 1] == "json") or a == "--output=json" or a == "-o=json" then json = true end
      if a == "-q" or a == "--quiet" then
        for _, e in ipairs(imgs) do n:out(e.id .. "\n") end
        return 0
      end
    end
    if json then
      local list = json_array()
      for _, e in ipairs(imgs) do list[#list + 1] = cri_status(e) end
      n:out(rootfs.encode_json({ images = list }) .. "\n")
    else
      n:out(string.format("%-50s %-25s %-15s %s\n", "IMAGE", "TAG", "IMAGE ID", "SIZE"))
      for _, e in ipairs(imgs) do
        local shown = #e.tags > 0 and e.tags or { "<none>:<none>" }
        for _, t in ipairs(shown) do
          local repo, tag = t:match("^(.*):([^:/]+)$")
          n:out(string.format("%-50s %-25s %-15s %s\n", repo or t, tag or "<none>", e.id:sub(8, 20), human_size(e.size)))
        end
      end
    end
    return 0
  elseif verb == "inspecti" then
    local ref
    for _, a in ipairs(args) do if a:sub(1, 1) ~= "-" then ref = a end end
    if not ref then n:err('time="' .. os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(n:now())) .. '" level=fatal msg="image name cannot be empty"\n'); return 1 end
    local e = cri_resolve(n, ref)
    if e then
      local p = node_platform(n)
      n:out(rootfs.encode_json({ status = cri_status(e), info = { imageSpec = { os = p.os, architecture = p.architecture } } }) .. "\n")
      return 0
    end
    n:err('time="' .. os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(n:now())) .. '" level=fatal msg="no such image \\"' .. ref .. '\\" present"\n')
    return 1
  elseif verb == "imagefsinfo" then
    -- ImageService/ImageFsInfo: the CRI image service's snapshotter directory (oracle:
    -- `<root>/io.containerd.snapshotter.v1.native` when config.toml names native)
    local snap = C.running(n).snapshotter
    local used, inodes = 0, 0
    local st = load_images(n)
    for _, img in ipairs(st.images) do
      if img.unpacked and img.unpacked[snap] and img.name ~= img.id then used = used + (img.size or 0); inodes = inodes + 1 end
    end
    n:out(table.concat({
      "{", '  "status": {', '    "imageFilesystems": [', "      {",
      '        "timestamp": "' .. string.format("%d", math.floor(n:now() * 1e6)) .. '000",',
      '        "fsId": {', '          "mountpoint": "' .. C.ROOT_DIR .. "/io.containerd.snapshotter.v1." .. snap .. '"', "        },",
      '        "usedBytes": {', '          "value": "' .. used .. '"', "        },",
      '        "inodesUsed": {', '          "value": "' .. inodes .. '"', "        }",
      "      }", "    ],", '    "containerFilesystems": []', "  }", "}", "" }, "\n"))
    return 0
  elseif verb == "ps" then
    -- the control plane's static Pods, which the kubelet runs from /etc/kubernetes/manifests
    -- (other Pods are not modelled); `--name` is a regular expression, of which only a literal
    -- with ^ and $ is understood here
    local quiet, pattern = false, nil
    for k, a in ipairs(args) do
      if a == "-q" or a == "--quiet" then quiet = true end
      if a == "--name" then pattern = args[k + 1] end
      pattern = a:match("^%-%-name=(.*)$") or pattern
    end
    local function matches(name)
      if not pattern then return true end
      local lit = pattern:gsub("^%^", ""):gsub("%$$", "")
      if pattern:sub(1, 1) == "^" and pattern:sub(-1) == "$" then return name == lit end
      if pattern:sub(1, 1) == "^" then return name:sub(1, #lit) == lit end
      if pattern:sub(-1) == "$" then return name:sub(-#lit) == lit end
      return name:find(lit, 1, true) ~= nil
    end
    if not quiet then n:out("CONTAINER           IMAGE               CREATED             STATE               NAME                ATTEMPT             POD ID              POD\n") end
    for _, c in ipairs(C.static_containers(n)) do
      if matches(c.name) then
        if quiet then n:out(c.id .. "\n")
        else n:out(("%-19s %-19s %-19s %-19s %-19s %-19d %-19s %s\n"):format(c.id:sub(1, 13), c.image_id, "About a minute ago", "Running", c.name, c.attempt, c.pod_id, c.name .. "-" .. n:hostname())) end
      end
    end
    return 0
  elseif verb == "stop" then
    -- the kubelet starts a stopped static Pod container again (restartPolicy Always), with a
    -- fresh copy of the node's /etc/hosts for host-network Pods (kubelet_pods.go ensureHostsFile)
    local by_id = {}
    for _, c in ipairs(C.static_containers(n)) do by_id[c.id] = c end
    for _, id in ipairs(args) do
      if id:sub(1, 1) ~= "-" then
        local c = by_id[id]
        if not c then
          n:err('time="' .. os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(n:now())) .. '" level=fatal msg="stopping the container \\"' .. id .. '\\": rpc error: code = NotFound desc = an error occurred when try to find container \\"' .. id .. '\\": not found"\n')
          return 1
        end
        local rt = n:runtime()
        rt.restarts = rt.restarts or {}
        rt.restarts[c.name] = (rt.restarts[c.name] or 0) + 1
        if c.name == "etcd" then rt.etcd_hosts = n:read("/etc/hosts") or "" end
        n:save_runtime()
        n:out(id .. "\n")
      end
    end
    return 0
  elseif verb == "pods" then
    n:out("POD ID              CREATED             STATE               NAME                NAMESPACE           ATTEMPT             RUNTIME\n")
    return 0
  end
  n:err('time="' .. os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(n:now())) .. '" level=fatal msg="command \\"' .. verb .. '\\" not found"\n')
  return 1
end

--- The static Pod containers the kubelet runs on node `n` now: one per manifest in
-- /etc/kubernetes/manifests while the kubelet is active; IDs change with every (re)start.
function C.static_containers(n)
  local out = {}
  if n:service_state("kubelet") ~= "active" then return out end
  local rt = n:runtime()
  for _, f in ipairs(rootfs.list(n.root, "/etc/kubernetes/manifests") or {}) do
    local name = f:match("^(.+)%.yaml$")
    if name then
      local attempt = (rt.restarts or {})[name] or 0
      local seed = n.rec.id .. "/" .. tostring(n.rec.started or "") .. "/" .. name .. "/" .. attempt
      out[#out + 1] = { name = name, attempt = attempt, id = digest.sha256("container " .. seed),
        pod_id = digest.sha256("pod " .. n.rec.id .. name):sub(1, 13), image_id = digest.sha256("image " .. name):sub(1, 13) }
    end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

---------------------------------------------------------------------------------------------
-- containerd (the binary)

function C.containerd(n, argv)
  local release = n:release()
  local line = C.line(release)
  if argv[2] == "--version" or argv[2] == "-v" then
    -- cmd/containerd/command/main.go VersionPrinter: name, version.Package, version, revision;
    -- kind builds with `make`, so Version is `git describe` (v2.2.0) and Revision the commit
    local pkg = line:match("^1") and "github.com/containerd/containerd" or "github.com/containerd/containerd/v2"
    n:out("containerd " .. pkg .. " v" .. release.containerd .. " " .. release.containerd_commit .. "\n")
    return 0
  elseif argv[2] == "config" and (argv[3] == "dump" or argv[3] == "migrate") then
    local cfg, err = cconfig.load(n.root, line == "1.6" and "1.7" or line)
    if not cfg then n:err("containerd: " .. err .. "\n"); return 1 end
    if line ~= "1.7" and line ~= "1.6" then
      -- Decode warns about every key the typed plugin config does not have (oracle, 2.1.9)
      local cri = (cfg.doc.plugins or {})["io.containerd.cri.v1.runtime"]
      if type(cri) == "table" and cri.tolerate_missing_hugepages_controller ~= nil then
        n:err(log_line(n:now(), "warning", "Ignoring unknown key in TOML for plugin",
          'error="strict mode: fields in the document are missing in the target struct" key=tolerate_missing_hugepages_controller plugin=io.containerd.cri.v1.runtime') .. "\n")
      end
    end
    n:out(cconfig.dump(cfg))
    return 0
  elseif argv[2] == "config" and argv[3] == "default" then
    n:out(cconfig.dump(cconfig.default(line == "1.6" and "1.7" or line)))
    return 0
  end
  n:err(log_line(n:now(), "info", "starting containerd", "revision=" .. release.containerd_commit .. " version=v" .. release.containerd) .. "\n")
  n:err("containerd: failed to create server: listen unix /run/containerd/containerd.sock.ttrpc: bind: address already in use\n")
  return 1
end

--- Add containerd, ctr and crictl to `commands`.
function C.install(commands)
  commands.containerd = C.containerd
  commands.ctr = C.ctr
  commands.crictl = C.crictl
end

-- exported for specs
C.parse_go_flags = parse_go_flags
C.ref_translator = ref_translator

return C
