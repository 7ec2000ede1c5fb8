-- Image archives for the containerd oracle, built in memory (no binary fixture is committed).
-- Four forms reach `ctr images import` in a node:
--   * docker_save    — `docker save`'s classic layout: manifest.json + repositories +
--                      <config>.json + <layer id>/layer.tar (moby image/tarexport/save.go);
--   * oci_layout     — a plain OCI image layout (image-spec image-layout.md): oci-layout,
--                      index.json pointing straight at a manifest whose only name is a tag in
--                      `org.opencontainers.image.ref.name` (what buildx `type=oci` and skopeo write);
--   * apple_save     — Apple's `container image save`: written by kina.sim.oci (index.json
--                      descriptors point at an image index and carry the three name annotations,
--                      containerization LocalOCILayoutClient.setImageReferenceAnnotation);
--   * multi_platform — Apple's form whose image index names two platforms but whose archive
--                      holds only one platform's blobs (what `image save --platform` writes for
--                      a multi-platform image; kind issues 3795, 4224).
-- Every function returns the archive's bytes and a description {reference, platform, ...}.
local digest = require "kina.core.digest"
local json = require "kina.json"
local oci = require "kina.sim.oci"

local A = {}

local function sha(s) return "sha256:" .. digest.sha256(s) end

-- tar members in order: {name, body} or {name, dir = true}
local function tar(members)
  local out = {}
  for _, m in ipairs(members) do
    if m.dir then
      out[#out + 1] = oci.tar_header(m[1], 0, "5", 0)
    elseif m.link then
      out[#out + 1] = oci.tar_header(m[1], 0, "2", 0, 511, m.link)
    else
      out[#out + 1] = oci.tar_header(m[1], #m[2], "0", 0)
      out[#out + 1] = m[2]
      out[#out + 1] = oci.tar_padding(#m[2])
    end
  end
  out[#out + 1] = oci.TAR_END
  return table.concat(out)
end

-- One layer: a tar holding one small file that names the image, so layers of different
-- images differ (and so do their chain IDs in the snapshotter).
local function layer_for(reference)
  local body = "oracle image " .. reference .. "\n"
  return tar{ { "oracle/", dir = true }, { "oracle/image.txt", body } }
end

local function config_for(platform, layer_digest, process)
  local p = oci.parse_platform(platform)
  return json.encode({
    architecture = p.architecture, os = p.os, variant = p.variant,
    config = process or { Cmd = json.array{ "/bin/sh" } },
    rootfs = { type = "layers", diff_ids = json.array{ layer_digest } },
  })
end

-- The manifest, config and layer of one platform's image.
local function image_parts(reference, platform, process)
  local layer = layer_for(reference .. "@" .. platform)
  local layer_digest = sha(layer)
  local config = config_for(platform, layer_digest, process)
  local manifest = json.encode({
    schemaVersion = 2, mediaType = oci.MEDIA_MANIFEST,
    config = { mediaType = oci.MEDIA_CONFIG, digest = sha(config), size = #config },
    layers = json.array{ { mediaType = oci.MEDIA_LAYER, digest = layer_digest, size = #layer } },
  })
  return { layer = layer, layer_digest = layer_digest, config = config, config_digest = sha(config),
    manifest = manifest, manifest_digest = sha(manifest), platform = oci.parse_platform(platform) }
end

local function blob(d, body) return { "blobs/sha256/" .. d:sub(8), body } end

--- `docker save` of one image tagged `repo_tag` (e.g. "oracle-docker:v1"); `process` is the
-- image config's `config` object (default {Cmd = ["/bin/sh"]}).
function A.docker_save(repo_tag, platform, process)
  local parts = image_parts(repo_tag, platform, process)
  local layer_id = parts.layer_digest:sub(8) -- docker uses a v1 ID; any 64-hex name works
  local config_name = parts.config_digest:sub(8) .. ".json"
  local repo, tag = repo_tag:match("^(.*):([^:/]+)$")
  local manifest = json.encode(json.array{ {
    Config = config_name, RepoTags = json.array{ repo_tag }, Layers = json.array{ layer_id .. "/layer.tar" },
  } })
  local repositories = json.encode({ [repo] = { [tag] = layer_id } })
  local bytes = tar{
    { layer_id .. "/", dir = true },
    { layer_id .. "/VERSION", "1.0" },
    { layer_id .. "/json", json.encode({ id = layer_id, os = parts.platform.os }) },
    { layer_id .. "/layer.tar", parts.layer },
    { config_name, parts.config },
    { "manifest.json", manifest },
    { "repositories", repositories },
  }
  return bytes, { form = "docker-save", reference = repo_tag, platform = platform,
    config_digest = parts.config_digest, layer_digest = parts.layer_digest }
end

--- `podman save`'s docker-archive (podman 4.3, seen on this project's CI machine): each layer
-- once at the top as `<digest>.tar`, and `<id>/layer.tar` a symlink to `../<digest>.tar`.
function A.podman_save(repo_tag, platform)
  local parts = image_parts(repo_tag, platform)
  local layer_file = parts.layer_digest:sub(8) .. ".tar"
  local layer_id = sha("v1 " .. parts.layer_digest):sub(8)
  local config_name = parts.config_digest:sub(8) .. ".json"
  local repo, tag = repo_tag:match("^(.*):([^:/]+)$")
  local manifest = json.encode(json.array{ {
    Config = config_name, RepoTags = json.array{ repo_tag }, Layers = json.array{ layer_id .. "/layer.tar" },
  } })
  local bytes = tar{
    { layer_file, parts.layer },
    { config_name, parts.config },
    { layer_id .. "/", dir = true },
    { layer_id .. "/layer.tar", link = "../" .. layer_file },
    { layer_id .. "/VERSION", "1.0" },
    { layer_id .. "/json", json.encode({ id = layer_id, os = parts.platform.os }) },
    { "manifest.json", manifest },
    { "repositories", json.encode({ [repo] = { [tag] = layer_id } }) },
  }
  return bytes, { form = "podman-save", reference = repo_tag, platform = platform,
    config_digest = parts.config_digest, layer_digest = parts.layer_digest }
end

--- A plain OCI layout whose index.json names the manifest by tag only (`ref_name`, e.g. "v1").
function A.oci_layout(ref_name, platform, image_label)
  local parts = image_parts(image_label or ("oci-layout:" .. ref_name), platform)
  local index = json.encode({ schemaVersion = 2, manifests = json.array{ {
    mediaType = oci.MEDIA_MANIFEST, digest = parts.manifest_digest, size = #parts.manifest,
    platform = { os = parts.platform.os, architecture = parts.platform.architecture, variant = parts.platform.variant },
    annotations = { ["org.opencontainers.image.ref.name"] = ref_name },
  } } })
  local bytes = tar{
    { "oci-layout", json.encode({ imageLayoutVersion = "1.0.0" }) },
    { "index.json", index },
    { "blobs/", dir = true }, { "blobs/sha256/", dir = true },
    blob(parts.manifest_digest, parts.manifest),
    blob(parts.config_digest, parts.config),
    blob(parts.layer_digest, parts.layer),
  }
  return bytes, { form = "oci-layout", reference = ref_name, platform = platform,
    manifest_digest = parts.manifest_digest, config_digest = parts.config_digest, layer_digest = parts.layer_digest }
end

-- an in-memory file for oci.write
local function buffer()
  local parts = {}
  return { write = function(self, s) parts[#parts + 1] = s; return self end,
    text = function() return table.concat(parts) end }
end

--- Apple's `container image save` of `reference` (as Apple's store names it), by kina.sim.oci.
function A.apple_save(reference, platform)
  local out = buffer()
  assert(oci.write(out, { { reference = reference, platform = platform } }))
  local d = oci.describe({ reference = reference, platform = platform })
  return out:text(), { form = "apple-save", reference = reference, platform = platform,
    index_digest = d.digest, config_digest = d.config.digest, layer_digest = d.layer.digest }
end

--- Apple's form for a two-platform image: the index names `present` and `absent`, the archive
-- holds the blobs of `present` only.
function A.multi_platform(reference, present, absent)
  local have = image_parts(reference, present)
  local missing = image_parts(reference, absent)
  local function desc(parts)
    return { mediaType = oci.MEDIA_MANIFEST, digest = parts.manifest_digest, size = #parts.manifest,
      platform = { os = parts.platform.os, architecture = parts.platform.architecture, variant = parts.platform.variant } }
  end
  -- platform order as registries list them: amd64 first
  local list = present < absent and { desc(have), desc(missing) } or { desc(missing), desc(have) }
  local image_index = json.encode({ schemaVersion = 2, mediaType = oci.MEDIA_INDEX, manifests = json.array(list) })
  local index_digest = sha(image_index)
  local index = json.encode({ schemaVersion = 2, manifests = json.array{ {
    mediaType = oci.MEDIA_INDEX, digest = index_digest, size = #image_index,
    annotations = {
      ["com.apple.containerization.image.name"] = reference,
      ["io.containerd.image.name"] = reference,
      ["org.opencontainers.image.ref.name"] = reference,
    },
  } } })
  local bytes = tar{
    { "oci-layout", json.encode({ imageLayoutVersion = "1.0.0" }) },
    { "index.json", index },
    { "blobs/", dir = true }, { "blobs/sha256/", dir = true },
    blob(index_digest, image_index),
    blob(have.manifest_digest, have.manifest),
    blob(have.config_digest, have.config),
    blob(have.layer_digest, have.layer),
  }
  return bytes, { form = "multi-platform", reference = reference, platform = present, absent = absent,
    index_digest = index_digest, missing_manifest = missing.manifest_digest, config_digest = have.config_digest,
    layer_digest = have.layer_digest }
end

return A
