--- kina.sim.oci — OCI image-layout tar archives for the simulator's `image save`/`image load`
-- and for `ctr images import` inside simulated nodes.
--
-- Written archives mirror what Apple's `container image save` produces (containerization's
-- ImageStore.save + LocalOCILayoutClient): `oci-layout` ({"imageLayoutVersion":"1.0.0"}),
-- `index.json` whose descriptors point at each image's *image index* and carry the reference in
-- the `com.apple.containerization.image.name`, `io.containerd.image.name` and
-- `org.opencontainers.image.ref.name` annotations, and `blobs/sha256/<hex>` for the index, the
-- platform manifest, the config and one uncompressed layer.  Every blob is named by the real
-- sha256 of its bytes.
--
-- Both directions stream: the layer is generated and hashed in 64 KiB chunks, and reading
-- skips blob contents in bounded chunks (only small JSON blobs are kept), so memory does not
-- grow with the archive size.
local digest = require("kina.core.digest")
local cjson = require("cjson").new()
local json = require("kina.json")

local M = {}

local BLOCK = 512
local CHUNK = 64 * 1024
local SMALL_BLOB = 1024 * 1024      -- JSON blobs (index, manifest, config) larger than this are not kept
local SMALL_TOTAL = 16 * 1024 * 1024 -- cap on what is kept of small blobs across the archive

M.MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
M.MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
M.MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
M.MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"


-- JSON as containerization's encoder writes it: sorted keys, `/` not escaped.
local function encode(v) return json.encode(v) end

--- Parse "os/arch[/variant]" or a {os=, architecture=, variant=} table.
-- @treturn table {os, architecture, variant?}
function M.parse_platform(p)
  if p == nil then return { os = "linux", architecture = "arm64" } end
  if type(p) == "table" then
    if type(p.os) ~= "string" or type(p.architecture) ~= "string" then
      error("oci: platform table needs string os and architecture", 3)
    end
    return { os = p.os, architecture = p.architecture, variant = p.variant }
  end
  if type(p) ~= "string" then error("oci: platform must be a string or a table", 3) end
  local os_, arch, variant = p:match("^([%w_]+)/([%w_]+)/?([%w_]*)$")
  if not os_ then error("oci: invalid platform '" .. p .. "'", 3) end
  return { os = os_, architecture = arch, variant = variant ~= "" and variant or nil }
end

--- Format a platform table as "os/arch[/variant]".
function M.platform_string(p)
  if not p then return nil end
  return p.os .. "/" .. p.architecture .. (p.variant and ("/" .. p.variant) or "")
end

-- ustar header for `name` of `size` bytes; typeflag "0" file, "5" directory. Names longer
-- than 100 bytes are split at a "/" into the 155-byte prefix field and the name field.
local function octal(n, width)
  return string.format("%0" .. (width - 1) .. "o", n) .. "\0"
end

local function split_name(name)
  if #name <= 100 then return "", name end
  for i = 1, #name do
    if name:sub(i, i) == "/" and #name - i <= 100 and i > 1 then
      if i - 1 > 155 then break end
      return name:sub(1, i - 1), name:sub(i + 1)
    end
  end
  return nil
end

local tar_header

-- A name that fits nowhere in ustar goes first into a GNU "././@LongLink" member (typeflag
-- "L"), as GNU tar writes it; GNU tar, bsdtar, Go and Python read it.
local function long_name_header(name, typeflag, mtime, mode)
  local body = name .. "\0"
  return tar_header("././@LongLink", #body, "L", 0, 420) .. body .. string.rep("\0", (BLOCK - #body % BLOCK) % BLOCK),
    name:sub(1, 100)
end

function tar_header(name, size, typeflag, mtime, mode, linkname)
  local prefix, short = split_name(name)
  local lead = ""
  if not prefix then
    lead, short = long_name_header(name, typeflag, mtime, mode)
    prefix = ""
  end
  mode = mode or (typeflag == "5" and 493 or 420) -- 0755 / 0644
  local fields = {
    short .. string.rep("\0", 100 - #short),
    octal(mode, 8), octal(0, 8), octal(0, 8),
    octal(size, 12), octal(math.floor(mtime or 0), 12),
    "        ", -- checksum placeholder: eight spaces
    typeflag,
    (linkname or "") .. string.rep("\0", 100 - #(linkname or "")),
    "ustar\0", "00",
    "root" .. string.rep("\0", 28), "root" .. string.rep("\0", 28),
    octal(0, 8), octal(0, 8),
    prefix .. string.rep("\0", 155 - #prefix),
  }
  local h = table.concat(fields)
  h = h .. string.rep("\0", BLOCK - #h)
  local sum = 0
  for i = 1, BLOCK do sum = sum + h:byte(i) end
  return lead .. h:sub(1, 148) .. string.format("%06o\0 ", sum) .. h:sub(157)
end

local function padding(size)
  local r = size % BLOCK
  return r == 0 and "" or string.rep("\0", BLOCK - r)
end

--- The ustar writer, for other tar producers in the simulator (the node's `tar -c`).
-- `tar_header(name, size, typeflag, mtime, mode?)` → 512-byte header ("0" file, "5"
-- directory; a name too long for ustar's prefix/name fields gets a GNU LongLink member first);
-- `tar_padding(size)` → the zero fill after a member's data; `TAR_END` → the two zero blocks.
M.tar_header = tar_header
M.tar_padding = padding
M.TAR_END = string.rep("\0", 2 * BLOCK)

-- The layer is itself a tar with one regular file; with `filler` bytes it is generated in
-- chunks.  `emit(s)` receives the bytes in order; the same call sequence is used to hash and
-- then to write, so the digest is known before the blob's header is written.
local function layer_stream(image, filler, emit)
  local path = "kina-sim/" .. (image.reference:gsub("[^%w%.%-_]", "_"))
  local body
  if filler and filler > 0 then
    emit(tar_header(path, filler, "0", 0))
    local line = string.rep("kina-sim filler ", 4) -- 64 bytes
    local chunk = string.rep(line, CHUNK // #line)
    local left = filler
    while left > 0 do
      local n = math.min(left, CHUNK)
      emit(n == CHUNK and chunk or chunk:sub(1, n))
      left = left - n
    end
    emit(padding(filler))
  else
    body = "reference=" .. image.reference .. "\n"
    emit(tar_header(path, #body, "0", 0))
    emit(body)
    emit(padding(#body))
  end
  emit(string.rep("\0", 2 * BLOCK))
end

local function is_node_image(ref)
  return ref:find("kindest/node", 1, true) ~= nil
end

-- Build the JSON blobs of one image; the layer is described by digest and size only.
local function image_blobs(image, filler)
  local hasher = digest.sha256_new()
  layer_stream(image, filler, function(s) hasher:update(s) end)
  local layer = { digest = "sha256:" .. hasher:hexdigest(), size = hasher:size() }
  local platform = M.parse_platform(image.platform)
  local cfg = {
    Env = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
  }
  if is_node_image(image.reference) then
    cfg.Env[#cfg.Env + 1] = "container=docker"
    cfg.Entrypoint = { "/usr/local/bin/entrypoint", "/sbin/init" }
    cfg.StopSignal = "SIGRTMIN+3"
  else
    cfg.Cmd = { "/bin/sh" }
  end
  local config = encode({
    architecture = platform.architecture,
    os = platform.os,
    variant = platform.variant,
    config = cfg,
    rootfs = { type = "layers", diff_ids = { layer.digest } },
  })
  local config_digest = "sha256:" .. digest.sha256(config)
  local manifest = encode({
    schemaVersion = 2,
    mediaType = M.MEDIA_MANIFEST,
    config = { mediaType = M.MEDIA_CONFIG, digest = config_digest, size = #config },
    layers = { { mediaType = M.MEDIA_LAYER, digest = layer.digest, size = layer.size } },
  })
  local manifest_digest = "sha256:" .. digest.sha256(manifest)
  local index = encode({
    schemaVersion = 2,
    mediaType = M.MEDIA_INDEX,
    manifests = { {
      mediaType = M.MEDIA_MANIFEST, digest = manifest_digest, size = #manifest,
      platform = { os = platform.os, architecture = platform.architecture, variant = platform.variant },
    } },
  })
  return {
    image = image, platform = platform, layer = layer, filler = filler,
    config = config, config_digest = config_digest,
    manifest = manifest, manifest_digest = manifest_digest,
    index = index, index_digest = "sha256:" .. digest.sha256(index),
  }
end

local function check_image(image, i)
  if type(image) ~= "table" then error("oci: images[" .. i .. "] must be a table", 3) end
  if type(image.reference) ~= "string" or image.reference == "" then
    error("oci: images[" .. i .. "].reference must be a non-empty string", 3)
  end
  for k in pairs(image) do
    if k ~= "reference" and k ~= "digest" and k ~= "platform" and k ~= "layer_size" then
      error("oci: images[" .. i .. "]: unknown field '" .. tostring(k) .. "'", 3)
    end
  end
  if image.layer_size ~= nil and math.type(image.layer_size) ~= "integer" then
    error("oci: images[" .. i .. "].layer_size must be an integer", 3)
  end
end

--- The digest `oci.write` gives an image (the sha256 of its image-index blob): what
-- `image load` and `ctr images import` then report for it.
-- @tparam table image {reference, platform?, layer_size?}
-- @treturn string "sha256:<hex>"
function M.image_digest(image)
  check_image(image, 1)
  return image_blobs(image, image.layer_size).index_digest
end

--- Everything `oci.write` would put in the archive for `image`, described without writing it:
-- what the simulator's image store shows (descriptor, variants) so `image inspect`, `image
-- save` and `ctr images import` agree on every digest and size.
-- @tparam table image {reference, platform?, layer_size?}
-- @treturn table {digest, size, mediaType (of the index), platform = {os, architecture, variant?},
--   manifest = {digest, size}, config = {digest, size, value = decoded config},
--   layer = {digest, size}}
function M.describe(image)
  check_image(image, 1)
  local b = image_blobs(image, image.layer_size)
  return {
    digest = b.index_digest, size = #b.index, mediaType = M.MEDIA_INDEX, platform = b.platform,
    manifest = { digest = b.manifest_digest, size = #b.manifest },
    config = { digest = b.config_digest, size = #b.config, value = cjson.decode(b.config) },
    layer = { digest = b.layer.digest, size = b.layer.size },
  }
end

--- Write an OCI image-layout tar of `images` to `out` (anything with :write).
-- @tparam file out
-- @tparam {table,...} images each {reference, digest?, platform?, layer_size?}; `digest` is
--   informational (blobs are always named by their real sha256); `layer_size` makes the layer
--   carry that many filler bytes (benchmarks)
-- @tparam[opt] table opts {layer_size = N (default for every image), mtime = unix seconds}
-- @treturn true
-- @return[2] nil, message when `out` fails to write
function M.write(out, images, opts)
  if type(images) ~= "table" then error("oci.write: images must be an array", 2) end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "layer_size" and k ~= "mtime" then error("oci.write: unknown option '" .. tostring(k) .. "'", 2) end
  end
  for i, image in ipairs(images) do check_image(image, i) end
  local mtime = opts.mtime or 0
  local failed
  local function put(s)
    if failed then return end
    local ok, err = out:write(s)
    if not ok then failed = err or "write failed" end
  end
  local function file(name, body)
    put(tar_header(name, #body, "0", mtime))
    put(body)
    put(padding(#body))
  end

  local built, descriptors, seen = {}, {}, {}
  for i, image in ipairs(images) do
    local b = image_blobs(image, image.layer_size or opts.layer_size)
    built[i] = b
    descriptors[i] = {
      mediaType = M.MEDIA_INDEX, digest = b.index_digest, size = #b.index,
      annotations = {
        ["com.apple.containerization.image.name"] = image.reference,
        ["io.containerd.image.name"] = image.reference,
        ["org.opencontainers.image.ref.name"] = image.reference,
      },
    }
  end
  file("oci-layout", encode({ imageLayoutVersion = "1.0.0" }))
  file("index.json", encode({ schemaVersion = 2, manifests = json.array(descriptors) }))
  put(tar_header("blobs/", 0, "5", mtime))
  put(tar_header("blobs/sha256/", 0, "5", mtime))
  for _, b in ipairs(built) do
    for _, blob in ipairs({ { b.index_digest, b.index }, { b.manifest_digest, b.manifest }, { b.config_digest, b.config } }) do
      if not seen[blob[1]] then
        seen[blob[1]] = true
        file("blobs/sha256/" .. blob[1]:sub(8), blob[2])
      end
    end
    if not seen[b.layer.digest] then
      seen[b.layer.digest] = true
      put(tar_header("blobs/sha256/" .. b.layer.digest:sub(8), b.layer.size, "0", mtime))
      layer_stream(b.image, b.filler, put)
      put(padding(b.layer.size))
    end
  end
  put(string.rep("\0", 2 * BLOCK))
  if failed then return nil, failed end
  return true
end

-- Read exactly n bytes (or fewer at end of stream).
local function read_exact(fh, n)
  local parts, got = {}, 0
  while got < n do
    local s = fh:read(math.min(n - got, CHUNK))
    if not s or #s == 0 then break end
    parts[#parts + 1] = s
    got = got + #s
  end
  return table.concat(parts)
end

local function cstr(s) return (s:gsub("%z.*", "")) end

local function parse_header(h)
  if h == string.rep("\0", BLOCK) then return "end" end
  local stored_text = cstr(h:sub(149, 156)):match("^%s*([0-7]+)")
  local stored = stored_text and tonumber(stored_text, 8)
  local sum = 0
  for i = 1, BLOCK do
    sum = sum + ((i >= 149 and i <= 156) and 32 or h:byte(i))
  end
  if not stored or stored ~= sum then return nil end
  local size_text = cstr(h:sub(125, 136)):match("^%s*([0-7]+)")
  local size = size_text and tonumber(size_text, 8) or 0
  local name = cstr(h:sub(1, 100))
  if h:sub(258, 262) == "ustar" then
    local prefix = cstr(h:sub(346, 500))
    if prefix ~= "" then name = prefix .. "/" .. name end
  end
  return { name = name, size = size, typeflag = h:sub(157, 157) }
end

-- pax extended header records "len key=value\n"
local function pax_path(data)
  for key, value in data:gmatch("%d+ ([^=]+)=([^\n]*)\n") do
    if key == "path" then return value end
  end
end

-- Go's path.Clean for a relative path: no ".", ".." taking back one element (a leading ".."
-- stays), no empty elements; "" is ".".
local function go_path_clean(p)
  local out = {}
  for part in p:gmatch("[^/]+") do
    if part == ".." then
      if #out > 0 and out[#out] ~= ".." then out[#out] = nil
      elseif p:sub(1, 1) ~= "/" then out[#out + 1] = ".." end
    elseif part ~= "." then
      out[#out + 1] = part
    end
  end
  local s = table.concat(out, "/")
  if p:sub(1, 1) == "/" then return "/" .. s end
  return s == "" and "." or s
end

--- Read an image archive from `fh` (anything with :read(n)) as containerd's importer does
-- (core/images/archive/importer.go ImportIndex, 1.6 to 2.3): every regular file is a blob named
-- by the sha256 of its bytes (whatever its path says); an `oci-layout` file makes it an OCI
-- layout whose `index.json` is the index; otherwise `manifest.json` makes it a `docker save`
-- archive (Docker 1.1/1.2), for which an index is made: one Docker schema 2 manifest per image
-- (JSON as Go's encoding/json writes the importer's struct), one descriptor per RepoTag with
-- `io.containerd.image.name` = the normalised tag and `org.opencontainers.image.ref.name` = its
-- tag. Streaming: blob contents are hashed in chunks; only small blobs (JSON) are kept.
-- @treturn table archive {format = "oci"|"docker", index = decoded index, index_digest,
--   index_size, blobs = {[digest] = {size, body?, head}}}
-- @return[2] nil, containerd's error text, kind ("not_tar", "truncated", "not_archive",
--   "bad_layout", "missing_blob")
function M.read_archive(fh)
  local blobs, by_name, symlinks, kept = {}, {}, {}, 0
  local pending_path
  while true do
    local h = read_exact(fh, BLOCK)
    if #h == 0 then break end -- end without the zero blocks: Go's tar reader accepts it
    if #h < BLOCK then return nil, "unexpected EOF", "truncated" end
    local hdr = parse_header(h)
    if hdr == "end" then break end
    if not hdr then return nil, "archive/tar: invalid tar header", "not_tar" end
    local name = pending_path or hdr.name
    pending_path = nil
    -- path.Clean: no leading "./", no trailing "/"
    name = name:gsub("^%./", ""):gsub("/+$", "")
    local regular = hdr.typeflag == "0" or hdr.typeflag == "\0"
    local meta = hdr.typeflag == "x" or hdr.typeflag == "L" or hdr.typeflag == "K"
    local hasher = regular and digest.sha256_new()
    local keep_all = meta or (regular and hdr.size <= SMALL_BLOB and kept + hdr.size <= SMALL_TOTAL)
    local parts, left, head = {}, hdr.size, ""
    while left > 0 do
      local s = fh:read(math.min(left, CHUNK))
      if not s or #s == 0 then
        if regular then return nil, ("failed to ingest %q: failed to copy: unexpected EOF"):format(name), "truncated" end
        return nil, "unexpected EOF", "truncated"
      end
      left = left - #s
      if hasher then hasher:update(s) end
      if #head < 10 then head = head .. s:sub(1, 10 - #head) end
      if keep_all then parts[#parts + 1] = s end
    end
    local pad = (BLOCK - hdr.size % BLOCK) % BLOCK
    if pad > 0 and #read_exact(fh, pad) < pad then return nil, "unexpected EOF", "truncated" end
    local body = keep_all and table.concat(parts) or nil
    if hdr.typeflag == "x" then
      pending_path = pax_path(body)
    elseif hdr.typeflag == "L" then
      pending_path = (body:gsub("%z.*$", ""))
    elseif hdr.typeflag == "2" then
      -- containerd's ImportIndex: symlinks[hdr.Name] = path.Join(path.Dir(hdr.Name), hdr.Linkname),
      -- and Join cleans: podman's docker-archive links `<id>/layer.tar` to `../<digest>.tar`
      local target = cstr(h:sub(158, 257))
      local dir = name:match("^(.*)/[^/]*$")
      symlinks[name] = go_path_clean((dir and (dir .. "/") or "") .. target)
    elseif regular then
      local d = "sha256:" .. hasher:hexdigest()
      if not blobs[d] then
        blobs[d] = { size = hdr.size, body = body, head = head }
        if body then kept = kept + hdr.size end
      end
      by_name[name] = d
    end
  end
  local function body_of(name)
    local d = by_name[name]
    return d and blobs[d] and blobs[d].body, d
  end
  local layout = body_of("oci-layout")
  if layout then
    local ok, l = pcall(cjson.decode, layout)
    local version = ok and type(l) == "table" and l.imageLayoutVersion or ""
    if version ~= "" then
      if version ~= "1.0.0" then return nil, "unsupported OCI version " .. tostring(version), "bad_layout" end
      local text, d = body_of("index.json")
      if not text then return nil, "missing index.json in OCI layout 1.0.0", "bad_layout" end
      local okj, index = pcall(cjson.decode, text)
      if not okj or type(index) ~= "table" then return nil, "index.json: invalid OCI image index", "bad_layout" end
      if type(index.manifests) ~= "table" then index.manifests = {} end
      return { format = "oci", index = index, index_digest = d, index_size = #text, blobs = blobs }
    end
  end
  local mtext = body_of("manifest.json")
  if not mtext then return nil, "unrecognized image format", "not_archive" end
  local okm, mfsts = pcall(cjson.decode, mtext)
  if not okm or type(mfsts) ~= "table" then
    return nil, ("untar manifest %q: invalid character in manifest.json"):format("manifest.json"), "not_archive"
  end
  for n, target in pairs(symlinks) do
    if not by_name[target] then
      return nil, ("no target for symlink layer from %q to %q"):format(n, target), "missing_blob"
    end
    by_name[n] = by_name[target]
  end
  local descs = {}
  for _, mfst in ipairs(mfsts) do
    local cd = type(mfst.Config) == "string" and by_name[mfst.Config]
    if not cd then return nil, ("image config %q not found"):format(tostring(mfst.Config)), "missing_blob" end
    local layers = {}
    for _, lf in ipairs(type(mfst.Layers) == "table" and mfst.Layers or {}) do
      local ld = by_name[lf]
      if not ld then return nil, ("failed to resolve layers: layer %q not found"):format(tostring(lf)), "missing_blob" end
      local gz = blobs[ld].head:sub(1, 2) == "\31\139"
      layers[#layers + 1] = ('{"mediaType":"%s","digest":"%s","size":%d}'):format(
        gz and "application/vnd.docker.image.rootfs.diff.tar.gzip" or "application/vnd.docker.image.rootfs.diff.tar", ld, blobs[ld].size)
    end
    local manifest = ('{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%d},"layers":[%s]}'):format(
      M.MEDIA_DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json", cd, blobs[cd].size, table.concat(layers, ","))
    local md = "sha256:" .. digest.sha256(manifest)
    blobs[md] = { size = #manifest, body = manifest, head = manifest:sub(1, 10) }
    local platform
    local okc, cfg = pcall(cjson.decode, blobs[cd].body or "")
    if okc and type(cfg) == "table" and type(cfg.architecture) == "string" and type(cfg.os) == "string" then
      platform = { architecture = cfg.architecture, os = cfg.os, variant = type(cfg.variant) == "string" and cfg.variant or nil }
    end
    local tags = type(mfst.RepoTags) == "table" and mfst.RepoTags or {}
    if #tags == 0 then
      descs[#descs + 1] = { mediaType = M.MEDIA_DOCKER_MANIFEST, digest = md, size = #manifest, platform = platform }
    end
    for _, tag in ipairs(tags) do
      local normalized = M.normalize_reference(tostring(tag))
      descs[#descs + 1] = { mediaType = M.MEDIA_DOCKER_MANIFEST, digest = md, size = #manifest, platform = platform,
        annotations = { ["io.containerd.image.name"] = normalized,
          ["org.opencontainers.image.ref.name"] = normalized:match(":([^:/@]+)$") or normalized } }
    end
  end
  return { format = "docker", index = { schemaVersion = 2, manifests = descs }, blobs = blobs }
end

M.MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
M.MEDIA_DOCKER_INDEX = "application/vnd.docker.distribution.manifest.list.v2+json"

--- docker.io normalisation (distribution/reference ParseDockerRef, as containerd's importer
-- and the CRI apply it): "alpine" → "docker.io/library/alpine:latest".
function M.normalize_reference(ref)
  local name, rest = ref, ""
  local at = ref:find("@", 1, true)
  if at then name, rest = ref:sub(1, at - 1), ref:sub(at) end
  local first = name:match("^([^/]+)/")
  if not first or not (first:find("[.:]") or first == "localhost") then
    if not name:find("/", 1, true) then name = "library/" .. name end
    name = "docker.io/" .. name
  end
  local last = name:match("([^/]+)$")
  if not last:find(":", 1, true) and rest == "" then name = name .. ":latest" end
  return name .. rest
end

function M.is_index(media) return media == M.MEDIA_INDEX or media == M.MEDIA_DOCKER_INDEX end
function M.is_manifest(media) return media == M.MEDIA_MANIFEST or media == M.MEDIA_DOCKER_MANIFEST end

--- The children of descriptor `desc` in `archive` (images.Children): an index's manifests, a
-- manifest's config and layers. nil and "content digest …: not found" when its blob is absent.
function M.children(archive, desc)
  if not (M.is_index(desc.mediaType) or M.is_manifest(desc.mediaType)) then return {} end
  local b = archive.blobs[desc.digest]
  if not b then return nil, "content digest " .. tostring(desc.digest) .. ": not found" end
  local ok, v = pcall(cjson.decode, b.body or "")
  if not ok or type(v) ~= "table" then return {} end
  if M.is_index(desc.mediaType) then return type(v.manifests) == "table" and v.manifests or {} end
  local out = {}
  if type(v.config) == "table" then out[#out + 1] = v.config end
  for _, l in ipairs(type(v.layers) == "table" and v.layers or {}) do out[#out + 1] = l end
  return out
end

--- The decoded JSON of a blob (nil when absent or not kept).
function M.blob_json(archive, d)
  local b = archive.blobs[d]
  if not b or not b.body then return nil end
  local ok, v = pcall(cjson.decode, b.body)
  return ok and type(v) == "table" and v or nil
end

local function string_list(v)
  if type(v) ~= "table" then return nil end
  local out = {}
  for _, x in ipairs(v) do
    if type(x) ~= "string" then return nil end
    out[#out + 1] = x
  end
  return out
end

--- The process defaults of an OCI image config (its `config` object: Entrypoint, Cmd, Env,
-- WorkingDir, User, StopSignal), or nil when the config is not readable. A JSON null or a
-- missing key is an empty list / nil, as Swift's decoder of ImageConfig leaves them.
function M.process_defaults(image_config)
  if type(image_config) ~= "table" then return nil end
  local c = type(image_config.config) == "table" and image_config.config or {}
  local function str(v) return type(v) == "string" and v or nil end
  return {
    entrypoint = string_list(c.Entrypoint) or {},
    cmd = string_list(c.Cmd) or {},
    env = string_list(c.Env) or {},
    workdir = str(c.WorkingDir),
    user = str(c.User),
    stop_signal = str(c.StopSignal),
  }
end

--- Summary of an archive's images, for callers that only need names: one entry per index.json
-- descriptor {reference (io.containerd.image.name, else ref.name, else nil), digest, size,
-- platform (first platform found), config_digest (first manifest's config), process (that
-- config's M.process_defaults)}.
-- Same errors as read_archive, plus "missing_blob" when a blob reachable from index.json is
-- absent (every platform walked).
function M.read(fh)
  local archive, err, kind = M.read_archive(fh)
  if not archive then return nil, err, kind end
  local images = {}
  for _, desc in ipairs(archive.index.manifests) do
    local ann = type(desc.annotations) == "table" and desc.annotations or {}
    local platforms, configs = {}, {}
    local function walk(d)
      if type(d.platform) == "table" then platforms[#platforms + 1] = M.platform_string(d.platform) end
      if M.is_manifest(d.mediaType) then
        local m = M.blob_json(archive, d.digest)
        if m and type(m.config) == "table" then configs[#configs + 1] = m.config.digest end
      end
      local kids, kerr = M.children(archive, d)
      if not kids then return nil, kerr end
      for _, k in ipairs(kids) do
        if M.is_index(k.mediaType) or M.is_manifest(k.mediaType) then
          local ok, werr = walk(k)
          if not ok then return nil, werr end
        elseif not archive.blobs[k.digest] then
          return nil, "content digest " .. tostring(k.digest) .. ": not found"
        end
      end
      return true
    end
    local ok, werr = walk(desc)
    if not ok then return nil, werr, "missing_blob" end
    images[#images + 1] = {
      reference = ann["io.containerd.image.name"] or ann["org.opencontainers.image.ref.name"],
      digest = desc.digest, size = math.tointeger(desc.size) or desc.size,
      platform = platforms[1], platforms = platforms, config_digest = configs[1],
      process = configs[1] and M.process_defaults(M.blob_json(archive, configs[1])) or nil,
    }
  end
  return images, archive
end

return M
