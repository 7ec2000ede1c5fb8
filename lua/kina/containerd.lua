--- kina.containerd — what kina does to a node's containerd: its configuration and image import.
--
-- A kindest/node ships /etc/containerd/config.toml as `version = 2` with no `imports` key
-- (kind images/base/files/etc/containerd/config.toml, v0.31 to main), so containerd never reads
-- a drop-in under /etc/containerd/conf.d. Like kind, kina changes config.toml itself: it reads
-- the file, merges the change in and writes it back, then restarts containerd
-- (kind pkg/cluster/internal/create/actions/config/config.go, pkg/internal/patch/toml.go).

local jsonpatch = require "kina.jsonpatch"
local versions = require "kina.core.apple" -- x.y.z parsing and comparison, written once in C
local lyaml = require "lyaml"
local toml = require "kina.toml"

local M = {}

M.CONFIG_PATH = "/etc/containerd/config.toml"

--- Where the CRI plugin's snapshotter is set, per config version: version 2 (containerd 1.3+,
-- still read by 2.x) under the grpc CRI plugin, versions 3 and 4 (containerd 2.0 / 2.1+) under
-- the CRI images plugin (kind pkg/cluster/nodeutils/util.go parseSnapshotter).
M.SNAPSHOTTER_KEY = {
  [2] = { "plugins", "io.containerd.grpc.v1.cri", "containerd", "snapshotter" },
  [3] = { "plugins", "io.containerd.cri.v1.images", "snapshotter" },
  [4] = { "plugins", "io.containerd.cri.v1.images", "snapshotter" },
}

--- The version `containerd --version` prints, as "major.minor.patch": upstream builds print
-- `containerd github.com/containerd/containerd/v2 v2.2.0 <commit>` (1.x without `/v2`),
-- Debian's `containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3`.
-- nil when the text holds no version.
function M.parse_version(text)
  if type(text) ~= "string" then return nil end
  local word = text:match("^%s*containerd%s+%S+%s+(%S+)")
  local v = word and word:match("^v?(%d+%.%d+%.%d+)")
  return v
end

-- The config's `version` key (kind: "failed to detect containerd config version" without it).
local function config_version(doc, what)
  local v = doc.version
  if math.type(v) ~= "integer" or v < 1 then
    return nil, ("%s has no `version = N` line, so kina cannot tell where its settings live"):format(what)
  end
  return v
end

local function get_path(doc, path)
  local t = doc
  for _, k in ipairs(path) do
    if type(t) ~= "table" then return nil end
    t = t[k]
  end
  return t
end

local function set_path(doc, path, value)
  local t = doc
  for i = 1, #path - 1 do
    local k = path[i]
    if t[k] == nil then t[k] = {} end
    if type(t[k]) ~= "table" or toml.is_array(t[k]) then
      return nil, table.concat(path, ".", 1, i) .. " is not a table"
    end
    t = t[k]
  end
  t[path[#path]] = value
  return true
end

--- The new text of config.toml: `text` (the node's file) with the CRI snapshotter set (when
-- opts.snapshotter), then opts.patches (TOML merge patches, kind's containerdConfigPatches)
-- and opts.patches_json6902 (RFC 6902 operation lists in YAML or JSON, kind's
-- containerdConfigPatchesJSON6902) applied in that order, as kind applies them. The user's
-- patches come after kina's snapshotter, so a patch can choose another one.
-- A merge patch that names another config `version` is skipped (as kind does) and reported in
-- the returned warnings. Raises an error naming the patch when one cannot be applied.
-- @treturn string the new config.toml
-- @treturn {string,...} warnings
function M.patch_config(text, opts)
  if type(text) ~= "string" then error("containerd.patch_config: text must be a string", 2) end
  opts = opts or {}
  local doc, err = toml.parse(text)
  if not doc then error(("the node's %s is not valid TOML (%s)"):format(M.CONFIG_PATH, err), 0) end
  local version, verr = config_version(doc, "the node's " .. M.CONFIG_PATH)
  if not version then error(verr, 0) end
  local warnings = {}
  if opts.snapshotter then
    local key = M.SNAPSHOTTER_KEY[version]
    if not key then
      error(("the node's %s is containerd config version %d; kina knows where the snapshotter is set in versions 2, 3 and 4 only")
        :format(M.CONFIG_PATH, version), 0)
    end
    local ok, why = set_path(doc, key, opts.snapshotter)
    if not ok then error(("cannot set the snapshotter in the node's %s: %s"):format(M.CONFIG_PATH, why), 0) end
  end
  for i, patch_text in ipairs(opts.patches or {}) do
    local label = ("containerdConfigPatches[%d]"):format(i)
    local patch, perr = toml.parse(patch_text)
    if not patch then error(("%s: not valid TOML (%s)"):format(label, perr), 0) end
    if patch.version ~= nil and patch.version ~= version then
      warnings[#warnings + 1] = ("%s sets version = %s but the node's containerd config is version %d: skipped, as kind does")
        :format(label, tostring(patch.version), version)
    else
      doc = jsonpatch.merge(doc, patch)
    end
  end
  for i, ops_text in ipairs(opts.patches_json6902 or {}) do
    local label = ("containerdConfigPatchesJSON6902[%d]"):format(i)
    local ok, ops = pcall(lyaml.load, ops_text)
    if not ok or type(ops) ~= "table" then
      error(("%s: not a YAML or JSON list of operations (%s)"):format(label, tostring(ops)), 0)
    end
    doc = jsonpatch.apply(doc, ops, label)
  end
  local encoded_ok, out = pcall(toml.encode, doc)
  if not encoded_ok then
    error(("the patched containerd config cannot be written as TOML: %s"):format(tostring(out):gsub("^toml%.encode: ", "")), 0)
  end
  return out, warnings
end

--- The CRI plugin's snapshotter in `containerd config dump` output (any config version), or
-- nil and why.
function M.snapshotter(dump)
  local doc, err = toml.parse(dump or "")
  if not doc then return nil, "containerd config dump is not TOML: " .. err end
  local version, verr = config_version(doc, "containerd config dump")
  if not version then return nil, verr end
  local key = M.SNAPSHOTTER_KEY[version]
  if not key then return nil, ("unknown containerd config version %d (kina knows 2, 3 and 4)"):format(version) end
  local snap = get_path(doc, key)
  if type(snap) ~= "string" or snap == "" then
    return nil, ("containerd config dump names no CRI snapshotter (%s)"):format(table.concat(key, "."))
  end
  return snap
end

--- The `ctr` command that imports an image archive from stdin into a node, for the node's
-- containerd version, CRI snapshotter and platform (opts: version, snapshotter, platform).
--
-- * `--platform` rather than kind's `--all-platforms`: Apple's `image save --platform` writes
--   an index naming every platform of the image with only the saved platform's blobs, and
--   `--all-platforms` then fails with `content digest ...: not found` (kind issues 3795, 4224).
-- * `--local` on containerd 2.x: through the transfer service an import with a snapshotter
--   fails with "unable to initialize unpacker: no unpack platforms defined" (containerd issue
--   11606); 1.7 imports locally already and 1.6's ctr has no such flag ("flag provided but not
--   defined: -local").
-- * `--digests` keeps an `import-<date>@sha256:` name for an image whose archive names none.
function M.import_argv(opts)
  if type(opts) ~= "table" or type(opts.snapshotter) ~= "string" or opts.snapshotter == "" then
    error("containerd.import_argv: opts.snapshotter must be a snapshotter name", 2)
  end
  if type(opts.version) ~= "string" then error("containerd.import_argv: opts.version must be containerd's version", 2) end
  local argv = { "ctr", "--namespace=k8s.io", "images", "import", "--digests" }
  if opts.platform then argv[#argv + 1] = "--platform=" .. opts.platform end
  argv[#argv + 1] = "--snapshotter=" .. opts.snapshotter
  if versions.compare_versions(opts.version, "2.0.0") >= 0 then argv[#argv + 1] = "--local" end
  argv[#argv + 1] = "-"
  return argv
end

return M
