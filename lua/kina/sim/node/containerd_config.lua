--- kina.sim.node.containerd_config — how a node's containerd reads /etc/containerd/config.toml
-- (plus the files its `imports` name), what it then runs with, and what `containerd config
-- dump` prints, per containerd line (1.7, 2.1, 2.2, 2.3), from containerd's source:
--
--   loading   1.7 services/server/config/config.go LoadConfig; 2.2 and 2.3
--             cmd/containerd/server/config/config.go LoadConfig / LoadConfigWithPlugins:
--             the root file, then its `imports` (relative to the root's directory, globs
--             sorted), each merged over the last (mergo WithOverride: tables merged, keys
--             replaced, slices appended without duplicates). Only a file's own `imports` are
--             followed: the default `imports = ['/etc/containerd/conf.d/*.toml']` of 2.x's
--             defaultConfig() is shown by the dump but never loaded.
--   versions  1.7: > 2 → "unsupported config version `N`". 2.1, 2.2: versions 2 and 3 are merged
--             as they are and the merged plugins are migrated once (dumpConfig / server.New);
--             > 3 → "expected containerd config version equal to or less than `3`, got `N`".
--             2.3: each file is migrated to 4 on its own before the merge, and a file newer
--             than the root fails: "drop-in config version N higher than root config version M".
--   migration plugins/cri/{cri.go,images/plugin.go,runtime/plugin.go} configMigration: the
--             version-2 `io.containerd.grpc.v1.cri` table is split into
--             `io.containerd.cri.v1.images` (snapshotter, discard_unpacked_layers,
--             disable_snapshot_annotations — copied only when the `containerd` table has a
--             `runtimes` table —, sandbox_image → pinned_images.sandbox, registry, …),
--             `io.containerd.cri.v1.runtime` (containerd, cni, the rest) and what stays in
--             `io.containerd.grpc.v1.cri` (the streaming server keys). 2.2 fills an empty
--             registry.config_path with '/etc/containerd/certs.d:/etc/docker/certs.d'.
--   dump      cmd/containerd/command/config.go outputConfig: every plugin's typed config
--             (defaults, then the file's keys; unknown keys dropped) encoded by go-toml v2
--             with indented tables (2.x; `version` = 3 on 2.2, 4 on 2.3) or go-toml v1 (1.7:
--             keys sorted, `version = 2`; shape as containerd's
--             integration/client/testdata/default-1.7.toml).
--
-- Only the plugins a kindest/node's settings live in are typed here (the CRI plugins, and on
-- 1.7 the sections of default-1.7.toml); other plugins' sections are left out of the dump
-- (README).
local toml = require("kina.toml")
local rootfs = require("kina.sim.node.rootfs")

local M = {}

M.ROOT = "/etc/containerd/config.toml"

---------------------------------------------------------------------------------------------
-- Values: ordered tables (Go structs), maps (sorted keys), arrays.

local ordered_mt = { __name = "kina.sim.ordered" }
local map_mt = { __name = "kina.sim.map" }

-- A struct: { {key, value}, … } in field order.
local function O(pairs_list) return setmetatable({ fields = pairs_list }, ordered_mt) end
-- A map; `nil_map` marks a Go nil map (go-toml v2 leaves it out, v1 prints an empty table).
local function Map(t, nil_map) return setmetatable({ items = t or {}, nil_map = nil_map }, map_mt) end
local function is_ordered(v) return getmetatable(v) == ordered_mt end
local function is_map(v) return getmetatable(v) == map_mt end
local function A(t) return toml.array(t or {}) end

local function is_table_value(v) return is_ordered(v) or is_map(v) end

local function entries(v)
  if is_ordered(v) then return v.fields end
  local keys = {}
  for k in pairs(v.items) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for i, k in ipairs(keys) do out[i] = { k, v.items[k] } end
  return out
end

local function sorted_entries(v)
  local out = {}
  for _, e in ipairs(entries(v)) do out[#out + 1] = e end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

-- A plain Lua table read by kina.toml as a TOML table (not an array).
local function is_plain_table(v) return type(v) == "table" and not toml.is_array(v) and not is_table_value(v) end

---------------------------------------------------------------------------------------------
-- go-toml v2 (2.x) and go-toml v1 (1.x) encoders.

local function bare(k) return k:match("^[A-Za-z0-9_%-]+$") ~= nil end

local function basic_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local esc = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r", ["\b"] = "\\b", ["\f"] = "\\f" }
    return esc[c] or string.format("\\u%04X", c:byte())
  end) .. '"'
end

local function v2_string(s)
  -- go-toml v2 writes a literal string when it can (no quote, no control character)
  if not s:find("[%c']") then return "'" .. s .. "'" end
  return basic_string(s)
end

local function v2_key(k) if bare(k) then return k end return v2_string(k) end
local function v1_key(k) if bare(k) then return k end return basic_string(k) end

local function scalar(v, str, path)
  local t = type(v)
  if t == "string" then return str(v) end
  if t == "boolean" then return tostring(v) end
  if math.type(v) == "integer" then return tostring(v) end
  if t == "number" then
    local s = string.format("%.17g", v)
    if not s:find("[%.eEn]") then s = s .. ".0" end
    return s
  end
  if t == "table" and not toml.is_array(v) and v[1] == nil then
    -- a table inside an array: written inline (go-toml writes [[arrays of tables]]; README)
    local keys, items = {}, {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for i, k in ipairs(keys) do items[i] = (bare(k) and k or str(k)) .. " = " .. scalar(v[k], str, path) end
    return "{" .. table.concat(items, ", ") .. "}"
  end
  if toml.is_array(v) or (t == "table" and not is_table_value(v) and v[1] ~= nil) then
    local items = {}
    for i, x in ipairs(v) do items[i] = scalar(x, str, path) end
    return "[" .. table.concat(items, ", ") .. "]"
  end
  error("containerd_config: cannot encode " .. t .. " at " .. path)
end

-- A plain table from kina.toml (the file's own values, e.g. runtime options) as a Map.
local function as_value(v)
  if is_plain_table(v) then
    local items = {}
    for k, x in pairs(v) do items[k] = as_value(x) end
    return Map(items)
  end
  return v
end

local function encode(root, style)
  local str = style == "v2" and v2_string or basic_string
  local key = style == "v2" and v2_key or v1_key
  local out = {}
  local function emit(s) out[#out + 1] = s end
  local function walk(t, path, depth)
    local list = style == "v2" and entries(t) or sorted_entries(t)
    local kvs, tabs = {}, {}
    for _, e in ipairs(list) do
      local v = as_value(e[2])
      if is_table_value(v) then
        if not (style == "v2" and is_map(v) and v.nil_map) then tabs[#tabs + 1] = { e[1], v } end
      elseif v ~= nil then
        kvs[#kvs + 1] = { e[1], v }
      end
    end
    local pad = string.rep("  ", depth)
    for _, kv in ipairs(kvs) do
      emit(pad .. key(kv[1]) .. " = " .. scalar(kv[2], str, table.concat(path, ".")) .. "\n")
    end
    local wrote = #kvs > 0
    for _, tb in ipairs(tabs) do
      local sub = {}
      for i, p in ipairs(path) do sub[i] = p end
      sub[#sub + 1] = key(tb[1])
      -- go-toml v2 separates a table from what precedes it in its parent, but not from the
      -- parent's own header; v1 puts a blank line before every header
      if style == "v1" or wrote or depth == 0 and #out > 0 then emit("\n") end
      emit(string.rep("  ", depth) .. "[" .. table.concat(sub, ".") .. "]\n")
      walk(tb[2], sub, depth + 1)
      wrote = true
    end
  end
  walk(root, {}, 0)
  return table.concat(out)
end
M.encode = encode

---------------------------------------------------------------------------------------------
-- Typed plugin configs: a schema node is
--   { "struct", { {key, node}, … } } | { "map", elem_node_or_false, default_table_or_nil }
--   | { "str"|"int"|"bool"|"list"|"any", default }

local function S(fields) return { "struct", fields } end
local function str(d) return { "str", d or "" } end
local function int(d) return { "int", d or 0 } end
local function bool(d) return { "bool", d or false } end
local function list(d) return { "list", d } end
local function map(elem, default) return { "map", elem, default } end

local function deep_merge(base, over)
  if is_plain_table(base) and is_plain_table(over) then
    local out = {}
    for k, v in pairs(base) do out[k] = v end
    for k, v in pairs(over) do out[k] = deep_merge(base[k], v) end
    return out
  end
  if over == nil then return base end
  return over
end

-- The typed value of `file` (the file's table or value, may be nil) over `default`.
local function decode(node, file, default)
  local kind = node[1]
  if kind == "struct" then
    local f = is_plain_table(file) and file or {}
    local d = is_plain_table(default) and default or {}
    local fields = {}
    for i, fd in ipairs(node[2]) do fields[i] = { fd[1], decode(fd[2], f[fd[1]], d[fd[1]]) } end
    return O(fields)
  elseif kind == "map" then
    local elem = node[2]
    local d = default or node[3]
    local f = is_plain_table(file) and file or nil
    if d == nil and f == nil then return Map({}, true) end
    local items = {}
    for k, v in pairs(d or {}) do items[k] = v end
    for k, v in pairs(f or {}) do items[k] = deep_merge(items[k], v) end
    if elem then
      for k, v in pairs(items) do items[k] = decode(elem, (f or {})[k], (d or {})[k]) end
    end
    return Map(items)
  elseif kind == "str" then
    return type(file) == "string" and file or (default ~= nil and default or node[2])
  elseif kind == "int" then
    return math.type(file) == "integer" and file or (default ~= nil and default or node[2])
  elseif kind == "bool" then
    if type(file) == "boolean" then return file end
    if default ~= nil then return default end
    return node[2]
  elseif kind == "list" then
    if toml.is_array(file) then return file end
    return A(default or node[2] or {})
  end
  return file ~= nil and file or default
end

local RUNC_OPTIONS_2 = { BinaryName = "", CriuImagePath = "", CriuWorkPath = "", IoGid = 0, IoUid = 0,
  NoNewKeyring = false, Root = "", ShimCgroup = "", SystemdCgroup = false }

-- internal/cri/config/config.go Runtime (2.x)
local RUNTIME_2 = S({
  { "runtime_type", str() }, { "runtime_path", str() }, { "pod_annotations", list() },
  { "container_annotations", list() }, { "options", map(false) }, { "privileged_without_host_devices", bool() },
  { "privileged_without_host_devices_all_devices_allowed", bool() }, { "cgroup_writable", bool() },
  { "base_runtime_spec", str() }, { "cni_conf_dir", str() }, { "cni_max_conf_num", int() },
  { "snapshotter", str() }, { "sandboxer", str() }, { "io_type", str() },
})

-- Registry; config_path's default is '/etc/containerd/certs.d:/etc/docker/certs.d' on 2.2
-- only (DefaultImageConfig at v2.2.0; '' on 1.7, 2.1 and 2.3)
local function registry_node(config_path)
  return S({ { "config_path", str(config_path) }, { "mirrors", map(false) }, { "configs", map(false) },
    { "auths", map(false) }, { "headers", map(false) } })
end

-- ImageConfig, RuntimeConfig, ServerConfig (internal/cri/config/config.go) and their
-- defaults (config_unix.go DefaultImageConfig / DefaultRuntimeConfig, config.go
-- DefaultServerConfig) per 2.x line.
local function cri_schemas_2(minor)
  local images = S({
    { "snapshotter", str("overlayfs") }, { "disable_snapshot_annotations", bool(true) },
    { "discard_unpacked_layers", bool() },
    { "pinned_images", map(false, { sandbox = ({ [1] = "registry.k8s.io/pause:3.10", [2] = "registry.k8s.io/pause:3.10.1" })[minor] or "registry.k8s.io/pause:3.10.2" }) },
    { "runtime_platforms", map(S({ { "platform", str() }, { "snapshotter", str() } })) },
    { "registry", registry_node(minor == 2 and "/etc/containerd/certs.d:/etc/docker/certs.d" or "") },
    { "image_decryption", S({ { "key_model", str("node") } }) },
    { "max_concurrent_downloads", int(3) }, { "concurrent_layer_fetch_buffer", int() },
    { "image_pull_progress_timeout", str("5m0s") }, { "image_pull_with_sync_fs", bool() },
    { "stats_collect_period", int(10) }, { "use_local_image_pull", bool() },
  })
  local runtime_fields = {
    { "containerd", S({
      { "default_runtime_name", str("runc") },
      { "runtimes", map(RUNTIME_2, { runc = { runtime_type = "io.containerd.runc.v2", options = RUNC_OPTIONS_2, sandboxer = "podsandbox" } }) },
      { "ignore_blockio_not_enabled_errors", bool() }, { "ignore_rdt_not_enabled_errors", bool() },
    }) },
    { "cni", S({
      { "bin_dir", str() }, { "bin_dirs", list({ "/opt/cni/bin" }) }, { "conf_dir", str("/etc/cni/net.d") },
      { "max_conf_num", int(1) }, { "setup_serially", bool() }, { "conf_template", str() }, { "ip_pref", str() },
      { "use_internal_loopback", bool() },
    }) },
    { "enable_selinux", bool() }, { "selinux_category_range", int(1024) }, { "max_container_log_line_size", int(16384) },
    { "disable_apparmor", bool() }, { "restrict_oom_score_adj", bool() }, { "disable_proc_mount", bool() },
    { "unset_seccomp_profile", str() }, { "tolerate_missing_hugetlb_controller", bool(true) },
    { "disable_hugetlb_controller", bool(true) }, { "device_ownership_from_security_context", bool() },
    { "ignore_image_defined_volumes", bool() }, { "netns_mounts_under_state_dir", bool() },
    { "enable_unprivileged_ports", bool(true) }, { "enable_unprivileged_icmp", bool(true) },
    { "enable_cdi", bool(true) }, { "cdi_spec_dirs", list({ "/etc/cdi", "/var/run/cdi" }) },
    { "drain_exec_sync_io_timeout", str("0s") }, { "ignore_deprecation_warnings", list() },
  }
  if minor >= 3 then
    runtime_fields[#runtime_fields + 1] = { "stats_collect_period", str() }
    runtime_fields[#runtime_fields + 1] = { "stats_retention_period", str() }
  end
  local server = S({
    { "disable_tcp_service", bool(true) }, { "stream_server_address", str("127.0.0.1") },
    { "stream_server_port", str("0") }, { "stream_idle_timeout", str("4h0m0s") }, { "enable_tls_streaming", bool() },
    { "x509_key_pair_streaming", S({ { "tls_cert_file", str() }, { "tls_key_file", str() } }) },
  })
  return {
    { "io.containerd.cri.v1.images", images },
    { "io.containerd.cri.v1.runtime", S(runtime_fields) },
    { "io.containerd.grpc.v1.cri", server },
  }
end

-- containerd 1.7 pkg/cri/config PluginConfig and DefaultConfig (config_unix.go).
local RUNTIME_1 = S({
  { "runtime_type", str() }, { "runtime_path", str() }, { "runtime_engine", str() }, { "pod_annotations", list() },
  { "container_annotations", list() }, { "runtime_root", str() }, { "options", map(false) },
  { "privileged_without_host_devices", bool() }, { "privileged_without_host_devices_all_devices_allowed", bool() },
  { "base_runtime_spec", str() }, { "cni_conf_dir", str() }, { "cni_max_conf_num", int() }, { "snapshotter", str() },
  { "sandbox_mode", str() },
})
local RUNC_OPTIONS_1 = { NoPivotRoot = false, NoNewKeyring = false, ShimCgroup = "", IoUid = 0, IoGid = 0,
  BinaryName = "", Root = "", CriuPath = "", SystemdCgroup = false, CriuImagePath = "", CriuWorkPath = "" }

local CRI_1 = S({
  { "containerd", S({
    { "snapshotter", str("overlayfs") }, { "default_runtime_name", str("runc") },
    { "default_runtime", RUNTIME_1 }, { "untrusted_workload_runtime", RUNTIME_1 },
    { "runtimes", map(RUNTIME_1, { runc = { runtime_type = "io.containerd.runc.v2", options = RUNC_OPTIONS_1, sandbox_mode = "podsandbox" } }) },
    { "no_pivot", bool() }, { "disable_snapshot_annotations", bool(true) }, { "discard_unpacked_layers", bool() },
    { "ignore_blockio_not_enabled_errors", bool() }, { "ignore_rdt_not_enabled_errors", bool() },
  }) },
  { "cni", S({ { "bin_dir", str("/opt/cni/bin") }, { "conf_dir", str("/etc/cni/net.d") }, { "max_conf_num", int(1) },
    { "setup_serially", bool() }, { "conf_template", str() }, { "ip_pref", str() } }) },
  { "registry", registry_node("") },
  { "image_decryption", S({ { "key_model", str("node") } }) },
  { "disable_tcp_service", bool(true) }, { "stream_server_address", str("127.0.0.1") },
  { "stream_server_port", str("0") }, { "stream_idle_timeout", str("4h0m0s") }, { "enable_selinux", bool() },
  { "selinux_category_range", int(1024) }, { "sandbox_image", str("registry.k8s.io/pause:3.8") },
  { "stats_collect_period", int(10) }, { "systemd_cgroup", bool() }, { "enable_tls_streaming", bool() },
  { "x509_key_pair_streaming", S({ { "tls_cert_file", str() }, { "tls_key_file", str() } }) },
  { "max_container_log_line_size", int(16384) }, { "disable_cgroup", bool() }, { "disable_apparmor", bool() },
  { "restrict_oom_score_adj", bool() }, { "max_concurrent_downloads", int(3) }, { "disable_proc_mount", bool() },
  { "unset_seccomp_profile", str() }, { "tolerate_missing_hugetlb_controller", bool(true) },
  { "disable_hugetlb_controller", bool(true) }, { "device_ownership_from_security_context", bool() },
  { "ignore_image_defined_volumes", bool() }, { "netns_mounts_under_state_dir", bool() },
  { "enable_unprivileged_ports", bool() }, { "enable_unprivileged_icmp", bool() }, { "enable_cdi", bool() },
  { "cdi_spec_dirs", list({ "/etc/cdi", "/var/run/cdi" }) }, { "image_pull_progress_timeout", str("5m0s") },
  { "drain_exec_sync_io_timeout", str("0s") }, { "image_pull_with_sync_fs", bool() },
  { "ignore_deprecation_warnings", list() },
})

-- The other plugin sections of a 1.7 dump (containerd integration/client/testdata/default-1.7.toml,
-- the first-1.7 values where it marks later updates; arm64 platform).
local function other_plugins_1()
  return {
    ["io.containerd.gc.v1.scheduler"] = Map({ deletion_threshold = 0, mutation_threshold = 100, pause_threshold = 0.02,
      schedule_delay = "0s", startup_delay = "100ms" }),
    ["io.containerd.internal.v1.opt"] = Map({ path = "/opt/containerd" }),
    ["io.containerd.internal.v1.restart"] = Map({ interval = "10s" }),
    ["io.containerd.internal.v1.tracing"] = Map({ sampling_ratio = 1.0, service_name = "containerd" }),
    ["io.containerd.metadata.v1.bolt"] = Map({ content_sharing_policy = "shared" }),
    ["io.containerd.monitor.v1.cgroups"] = Map({ no_prometheus = false }),
    ["io.containerd.nri.v1.nri"] = Map({ disable = true, disable_connections = false, plugin_config_path = "/etc/nri/conf.d",
      plugin_path = "/opt/nri/plugins", plugin_registration_timeout = "5s", plugin_request_timeout = "2s",
      socket_path = "/var/run/nri/nri.sock" }),
    ["io.containerd.runtime.v1.linux"] = Map({ no_shim = false, runtime = "runc", runtime_root = "", shim = "containerd-shim",
      shim_debug = false }),
    ["io.containerd.runtime.v2.task"] = Map({ platforms = A({ "linux/arm64/v8" }), sched_core = false }),
    ["io.containerd.service.v1.diff-service"] = Map({ default = A({ "walking" }) }),
    ["io.containerd.service.v1.tasks-service"] = Map({ blockio_config_file = "", rdt_config_file = "" }),
    ["io.containerd.snapshotter.v1.blockfile"] = Map({ fs_type = "", mount_options = A(), root_path = "", scratch_file = "" }),
    ["io.containerd.snapshotter.v1.native"] = Map({ root_path = "" }),
    ["io.containerd.snapshotter.v1.overlayfs"] = Map({ mount_options = A(), root_path = "", sync_remove = false, upperdir_label = false }),
    ["io.containerd.tracing.processor.v1.otlp"] = Map({ endpoint = "", insecure = false, protocol = "" }),
    ["io.containerd.transfer.v1.local"] = Map({ config_path = "", max_concurrent_downloads = 3, max_concurrent_uploaded_layers = 3 }),
  }
end

---------------------------------------------------------------------------------------------
-- Loading

-- A config file as containerd's decoder reads it: the table, or nil and the error
-- containerd returns (go-toml's own wording differs from kina.toml's: README).
local function load_file(root, path, line)
  local text = rootfs.read(root, path)
  if not text then
    if rootfs.is_dir(root, path) then return nil, "read " .. path .. ": is a directory" end
    return nil, "open " .. path .. ": no such file or directory", "enoent"
  end
  local doc, err = toml.parse(text)
  if not doc then
    local row, why = tostring(err):match("^line (%d+): (.*)$")
    if line == "1.7" then
      return nil, ("failed to load TOML: %s: (%s, 1): %s"):format(path, row or "1", why or err)
    end
    return nil, ("failed to unmarshal TOML at row %s column 1: toml: %s"):format(row or "1", why or err)
  end
  return doc
end

local function version_of(doc) return math.type(doc.version) == "integer" and doc.version or 0 end

-- filepath.Glob over the node's filesystem (one `*` per path segment, as kind's conf.d).
local function glob(root, pattern)
  local dir, name = pattern:match("^(.*)/([^/]*)$")
  if not dir or not name:find("*", 1, true) then return { pattern } end
  local lua_pat = "^" .. name:gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"):gsub("%*", ".*") .. "$"
  local out = {}
  for _, f in ipairs(rootfs.list(root, dir) or {}) do
    if f:match(lua_pat) and not f:find(".kina-tmp.", 1, true) then out[#out + 1] = (dir == "" and "" or dir) .. "/" .. f end
  end
  table.sort(out)
  return out
end

local function resolve_imports(root, parent, imports)
  local out = {}
  if not toml.is_array(imports) then return out end
  for _, p in ipairs(imports) do
    if type(p) == "string" then
      if p:sub(1, 1) ~= "/" then p = (parent:match("^(.*)/[^/]*$") or "") .. "/" .. p end
      p = rootfs.normalize(p)
      for _, m in ipairs(glob(root, p)) do out[#out + 1] = m end
    end
  end
  return out
end

-- mergo.Merge(to, from, WithOverride, sliceTransformer): tables merged key by key, a value
-- replaced only by a non-empty one (mergo skips false, 0 and "" in the source), the
-- top-level string lists (imports, disabled_plugins, required_plugins) appended without
-- duplicates.
local function empty(v) return v == false or v == 0 or v == "" end

local function merge(to, from, top)
  for k, v in pairs(from) do
    local cur = to[k]
    if is_plain_table(cur) and is_plain_table(v) then
      merge(cur, v, false)
    elseif top and toml.is_array(cur) and toml.is_array(v) then
      for _, x in ipairs(v) do
        local found = false
        for _, y in ipairs(cur) do if y == x then found = true end end
        if not found then cur[#cur + 1] = x end
      end
    elseif not (empty(v) and cur ~= nil) then
      to[k] = v
    end
  end
  return to
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return setmetatable(out, getmetatable(v))
end

-- plugins/cri configMigration for version 2 → 3, on a config's plugins table (in place).
local function migrate_cri(plugins, minor)
  local src = plugins["io.containerd.grpc.v1.cri"]
  if not is_plain_table(src) then return end
  -- images (plugins/cri/images/plugin.go migrateConfig)
  local images = is_plain_table(plugins["io.containerd.cri.v1.images"]) and plugins["io.containerd.cri.v1.images"] or {}
  local pinned = is_plain_table(images.pinned_images) and images.pinned_images or {}
  if src.sandbox_image ~= nil then pinned.sandbox = src.sandbox_image end
  if next(pinned) then images.pinned_images = pinned end
  for _, k in ipairs({ "registry", "image_decryption", "max_concurrent_downloads", "image_pull_progress_timeout",
    "image_pull_with_sync_fs", "stats_collect_period" }) do
    if src[k] ~= nil then images[k] = copy(src[k]) end
  end
  if minor == 2 and is_plain_table(images.registry) and images.registry.config_path == "" then
    images.registry.config_path = "/etc/containerd/certs.d:/etc/docker/certs.d"
  end
  local ctd = is_plain_table(src.containerd) and src.containerd or nil
  if ctd and is_plain_table(ctd.runtimes) then
    for name, rt in pairs(ctd.runtimes) do
      if is_plain_table(rt) and type(rt.snapshot) == "string" and rt.snapshot ~= "" then
        images.runtime_platforms = images.runtime_platforms or {}
        images.runtime_platforms[name] = { platform = "linux/arm64/v8", snapshotter = rt.snapshot }
      end
    end
    for _, k in ipairs({ "snapshotter", "disable_snapshot_annotations", "discard_unpacked_layers" }) do
      if ctd[k] ~= nil then images[k] = ctd[k] end
    end
  end
  plugins["io.containerd.cri.v1.images"] = images
  -- runtime (plugins/cri/runtime/plugin.go migrateConfig)
  local runtime = is_plain_table(plugins["io.containerd.cri.v1.runtime"]) and plugins["io.containerd.cri.v1.runtime"] or {}
  local moved = { cni = true, containerd = true, sandbox_image = true, registry = true, image_decryption = true,
    max_concurrent_downloads = true, image_pull_progress_timeout = true, image_pull_with_sync_fs = true,
    stats_collect_period = true, disable_tcp_service = true, stream_server_address = true, stream_server_port = true,
    stream_idle_timeout = true, enable_tls_streaming = true, x509_key_pair_streaming = true }
  for k, v in pairs(src) do
    if not moved[k] and runtime[k] == nil then runtime[k] = copy(v) end
  end
  if is_plain_table(src.cni) then
    local cni = is_plain_table(runtime.cni) and runtime.cni or {}
    for k, v in pairs(src.cni) do
      if k == "bin_dir" then
        if not toml.is_array(cni.bin_dirs) or #cni.bin_dirs == 0 then cni.bin_dirs = A({ v }) end
      elseif cni[k] == nil then cni[k] = copy(v) end
    end
    runtime.cni = cni
  end
  if ctd then
    local nc = is_plain_table(runtime.containerd) and runtime.containerd or {}
    for k, v in pairs(ctd) do
      if k ~= "snapshotter" and k ~= "disable_snapshot_annotations" and k ~= "discard_unpacked_layers" and nc[k] == nil then
        nc[k] = copy(v)
      end
    end
    runtime.containerd = nc
    if is_plain_table(nc.runtimes) then
      for _, rt in pairs(nc.runtimes) do
        if is_plain_table(rt) and rt.sandbox_mode ~= nil and rt.sandboxer == nil then
          rt.sandboxer, rt.sandbox_mode = rt.sandbox_mode, nil
        end
      end
    end
  end
  plugins["io.containerd.cri.v1.runtime"] = runtime
  -- grpc CRI plugin keeps the server keys (plugins/cri/cri.go)
  local dst = {}
  for _, k in ipairs({ "disable_tcp_service", "stream_server_address", "stream_server_port", "stream_idle_timeout",
    "enable_tls_streaming", "x509_key_pair_streaming" }) do
    if src[k] ~= nil then dst[k] = copy(src[k]) end
  end
  plugins["io.containerd.grpc.v1.cri"] = dst
end

-- version 3 → 4 (2.3 serviceMigrate): the [grpc]/[ttrpc]/[debug]/[metrics] addresses move
-- into server plugins.
local function migrate_service(c)
  c.plugins = is_plain_table(c.plugins) and c.plugins or {}
  local grpc = is_plain_table(c.grpc) and c.grpc or {}
  if grpc.address and not c.plugins["io.containerd.server.v1.grpc"] then
    c.plugins["io.containerd.server.v1.grpc"] = { address = grpc.address, uid = grpc.uid or 0, gid = grpc.gid or 0,
      max_recv_message_size = grpc.max_recv_message_size, max_send_message_size = grpc.max_send_message_size }
    c.grpc = nil
  end
end

--- Load the configuration a containerd of `line` ("1.7", "2.1", "2.2", "2.3") starts with in the
-- node rooted at `root`. Returns {version, doc (merged, migrated), files = {…}} or nil and
-- containerd's error text.
function M.load(root, line)
  local target = line == "1.7" and 2 or (line == "2.3" and 4 or 3)
  -- 2.2+ defaultConfig() lists the conf.d pattern (commit 9ca659a5, "Add conf.d include in the
  -- default config"); 2.1 lists none (oracle, 2.1.9: `imports = []`)
  local out = { version = line == "1.7" and 1 or target, plugins = {},
    imports = A((line == "2.2" or line == "2.3") and { "/etc/containerd/conf.d/*.toml" } or {}) }
  local pending, loaded, order = { M.ROOT }, {}, {}
  local root_version
  local last_path = M.ROOT
  while #pending > 0 do
    local path = table.remove(pending, 1)
    if not loaded[path] then
      local doc, err, kind = load_file(root, path, line)
      if not doc then
        -- containerd starts with defaults when the root file is missing (main.go)
        if not (kind == "enoent" and path == M.ROOT) then return nil, err end
        doc = {}
      end
      local v = version_of(doc)
      if line == "2.3" then
        if not root_version or root_version == 0 then root_version = v end
        if v > root_version then
          return nil, ("drop-in config version %d higher than root config version %d"):format(v, root_version)
        end
        if v < out.version then
          doc.plugins = is_plain_table(doc.plugins) and doc.plugins or {}
          for step = v, out.version - 1 do
            if step == 2 then migrate_cri(doc.plugins, 3) end
            if step == 3 then migrate_service(doc) end
          end
          doc.version = out.version
        end
      end
      merge(out, doc, true)
      loaded[path] = true
      order[#order + 1] = path
      last_path = path
      for _, p in ipairs(resolve_imports(root, path, doc.imports)) do pending[#pending + 1] = p end
    end
  end
  local max = line == "1.7" and 2 or target
  if out.version > max then
    if line == "1.7" then return nil, ("failed to load TOML from %s: unsupported config version `%d`"):format(last_path, out.version) end
    return nil, ("failed to load TOML from %s: expected containerd config version equal to or less than `%d`, got `%d`")
      :format(last_path, max, out.version)
  end
  if line == "1.7" then
    out.imports = A(order)
  elseif (line == "2.1" or line == "2.2") and out.version < 3 then
    -- dumpConfig / server.New migrate the merged plugins once
    if is_plain_table(out.plugins) then migrate_cri(out.plugins, line == "2.2" and 2 or 1) end
  end
  return { line = line, version = out.version, doc = out, files = order }
end

--- What `containerd config default` starts from: no file loaded.
function M.default(line)
  return { line = line, version = line == "1.7" and 2 or (line == "2.3" and 4 or 3), files = {},
    doc = { plugins = {}, imports = A((line == "2.2" or line == "2.3") and { "/etc/containerd/conf.d/*.toml" } or {}) } }
end

--- The settings the running containerd uses, from a loaded config.
-- {snapshotter, config_path, sandbox_image, transfer_unpack = {…} or nil}
function M.settings(cfg)
  local doc, plugins = cfg.doc, cfg.doc.plugins or {}
  if cfg.line == "1.7" then
    local cri = is_plain_table(plugins["io.containerd.grpc.v1.cri"]) and plugins["io.containerd.grpc.v1.cri"] or {}
    local ctd = is_plain_table(cri.containerd) and cri.containerd or {}
    local reg = is_plain_table(cri.registry) and cri.registry or {}
    return { snapshotter = type(ctd.snapshotter) == "string" and ctd.snapshotter or "overlayfs",
      config_path = type(reg.config_path) == "string" and reg.config_path or "",
      sandbox_image = type(cri.sandbox_image) == "string" and cri.sandbox_image or "registry.k8s.io/pause:3.8" }
  end
  local minor = tonumber(cfg.line:match("^2%.(%d+)"))
  local images = is_plain_table(plugins["io.containerd.cri.v1.images"]) and plugins["io.containerd.cri.v1.images"] or {}
  local reg = is_plain_table(images.registry) and images.registry or {}
  local pinned = is_plain_table(images.pinned_images) and images.pinned_images or {}
  local transfer = is_plain_table(plugins["io.containerd.transfer.v1.local"]) and plugins["io.containerd.transfer.v1.local"] or {}
  local _ = doc
  return {
    snapshotter = type(images.snapshotter) == "string" and images.snapshotter or "overlayfs",
    config_path = type(reg.config_path) == "string" and reg.config_path
      or (minor == 2 and "/etc/containerd/certs.d:/etc/docker/certs.d" or ""),
    sandbox_image = type(pinned.sandbox) == "string" and pinned.sandbox
      or (({ [1] = "registry.k8s.io/pause:3.10", [2] = "registry.k8s.io/pause:3.10.1" })[minor] or "registry.k8s.io/pause:3.10.2"),
    transfer_unpack = toml.is_array(transfer.unpack_config) and transfer.unpack_config or nil,
  }
end

local TIMEOUTS = {
  ["io.containerd.timeout.bolt.open"] = "0s", ["io.containerd.timeout.cri.defercleanup"] = "1m0s",
  ["io.containerd.timeout.metrics.shimstats"] = "2s", ["io.containerd.timeout.shim.cleanup"] = "5s",
  ["io.containerd.timeout.shim.load"] = "5s", ["io.containerd.timeout.shim.shutdown"] = "3s",
  ["io.containerd.timeout.task.state"] = "2s",
}

local function stream_processors(style)
  local function proc(accepts, returns)
    local items = { accepts = A({ accepts }), returns = returns, path = "ctd-decoder",
      args = A({ "--decryption-keys-path", "/etc/containerd/ocicrypt/keys" }),
      env = A({ "OCICRYPT_KEYPROVIDER_CONFIG=/etc/containerd/ocicrypt/ocicrypt_keyprovider.conf" }) }
    if style == "v1" then return Map(items) end
    return O({ { "accepts", items.accepts }, { "returns", items.returns }, { "path", items.path }, { "args", items.args }, { "env", items.env } })
  end
  return Map({
    ["io.containerd.ocicrypt.decoder.v1.tar"] = proc("application/vnd.oci.image.layer.v1.tar+encrypted", "application/vnd.oci.image.layer.v1.tar"),
    ["io.containerd.ocicrypt.decoder.v1.tar.gzip"] = proc("application/vnd.oci.image.layer.v1.tar+gzip+encrypted", "application/vnd.oci.image.layer.v1.tar+gzip"),
  })
end

local function proxy_plugins(doc, style)
  local items = {}
  for name, p in pairs(is_plain_table(doc.proxy_plugins) and doc.proxy_plugins or {}) do
    if is_plain_table(p) then
      local fields = { { "type", type(p.type) == "string" and p.type or "" }, { "address", type(p.address) == "string" and p.address or "" },
        { "platform", type(p.platform) == "string" and p.platform or "" },
        { "exports", is_plain_table(p.exports) and Map(p.exports) or Map({}, true) },
        { "capabilities", toml.is_array(p.capabilities) and p.capabilities or A() } }
      if style == "v1" then
        local m = {}
        for _, f in ipairs(fields) do m[f[1]] = f[2] end
        items[name] = Map(m)
      else
        items[name] = O(fields)
      end
    end
  end
  return Map(items)
end

local function section(doc, key, fields, style)
  local t = is_plain_table(doc[key]) and doc[key] or {}
  local out = {}
  for i, f in ipairs(fields) do
    local v = t[f[1]]
    if v == nil then v = f[2] end
    out[i] = { f[1], v }
  end
  if style == "v1" then
    local m = {}
    for _, f in ipairs(out) do m[f[1]] = f[2] end
    return Map(m)
  end
  return O(out)
end

--- `containerd config dump` of a loaded config.
function M.dump(cfg)
  local doc, plugins_in = cfg.doc, cfg.doc.plugins or {}
  if cfg.line == "1.7" then
    local plugins = other_plugins_1()
    plugins["io.containerd.grpc.v1.cri"] = decode(CRI_1, plugins_in["io.containerd.grpc.v1.cri"])
    local root = Map({
      disabled_plugins = toml.is_array(doc.disabled_plugins) and doc.disabled_plugins or A(),
      imports = doc.imports, oom_score = math.type(doc.oom_score) == "integer" and doc.oom_score or 0,
      plugin_dir = type(doc.plugin_dir) == "string" and doc.plugin_dir or "",
      required_plugins = toml.is_array(doc.required_plugins) and doc.required_plugins or A(),
      root = type(doc.root) == "string" and doc.root or "/var/lib/containerd",
      state = type(doc.state) == "string" and doc.state or "/run/containerd",
      temp = type(doc.temp) == "string" and doc.temp or "", version = 2,
      cgroup = section(doc, "cgroup", { { "path", "" } }, "v1"),
      debug = section(doc, "debug", { { "address", "" }, { "format", "" }, { "gid", 0 }, { "level", "" }, { "uid", 0 } }, "v1"),
      grpc = section(doc, "grpc", { { "address", "/run/containerd/containerd.sock" }, { "gid", 0 },
        { "max_recv_message_size", 16777216 }, { "max_send_message_size", 16777216 }, { "tcp_address", "" },
        { "tcp_tls_ca", "" }, { "tcp_tls_cert", "" }, { "tcp_tls_key", "" }, { "uid", 0 } }, "v1"),
      metrics = section(doc, "metrics", { { "address", "" }, { "grpc_histogram", false } }, "v1"),
      plugins = Map(plugins),
      proxy_plugins = proxy_plugins(doc, "v1"),
      stream_processors = stream_processors("v1"),
      timeouts = Map(TIMEOUTS),
      ttrpc = section(doc, "ttrpc", { { "address", "" }, { "gid", 0 }, { "uid", 0 } }, "v1"),
    })
    return encode(root, "v1")
  end
  local minor = tonumber(cfg.line:match("^2%.(%d+)"))
  local plugin_items = {}
  for _, p in ipairs(cri_schemas_2(minor)) do plugin_items[p[1]] = decode(p[2], plugins_in[p[1]]) end
  if minor == 3 then
    local g = is_plain_table(plugins_in["io.containerd.server.v1.grpc"]) and plugins_in["io.containerd.server.v1.grpc"] or {}
    plugin_items["io.containerd.server.v1.grpc"] = O({
      { "address", type(g.address) == "string" and g.address or "/run/containerd/containerd.sock" },
      { "uid", math.type(g.uid) == "integer" and g.uid or 0 }, { "gid", math.type(g.gid) == "integer" and g.gid or 0 },
      { "max_recv_message_size", g.max_recv_message_size or 16777216 },
      { "max_send_message_size", g.max_send_message_size or 16777216 },
    })
  end
  local fields = {
    { "version", minor == 3 and 4 or 3 },
    { "root", type(doc.root) == "string" and doc.root or "/var/lib/containerd" },
    { "state", type(doc.state) == "string" and doc.state or "/run/containerd" },
    { "temp", type(doc.temp) == "string" and doc.temp or "" },
  }
  if minor < 3 then
    local grpc = { { "address", "/run/containerd/containerd.sock" },
      { "tcp_address", "" }, { "tcp_tls_ca", "" }, { "tcp_tls_cert", "" }, { "tcp_tls_key", "" }, { "uid", 0 }, { "gid", 0 },
      { "max_recv_message_size", 16777216 }, { "max_send_message_size", 16777216 } }
    if minor == 2 then grpc[#grpc + 1] = { "tcp_tls_common_name", "" } end -- GRPCConfig at v2.2.0
    fields[#fields + 1] = { "grpc", section(doc, "grpc", grpc) }
    fields[#fields + 1] = { "ttrpc", section(doc, "ttrpc", { { "address", "" }, { "uid", 0 }, { "gid", 0 } }) }
    fields[#fields + 1] = { "debug", section(doc, "debug", { { "address", "" }, { "uid", 0 }, { "gid", 0 }, { "level", "" }, { "format", "" } }) }
    fields[#fields + 1] = { "metrics", section(doc, "metrics", { { "address", "" }, { "grpc_histogram", false } }) }
  else
    fields[#fields + 1] = { "debug", section(doc, "debug", { { "level", "" }, { "format", "" }, { "log_trace_id", false } }) }
  end
  for _, f in ipairs({
    { "disabled_plugins", toml.is_array(doc.disabled_plugins) and doc.disabled_plugins or A() },
    { "required_plugins", toml.is_array(doc.required_plugins) and doc.required_plugins or A() },
    { "plugins", Map(plugin_items) },
    { "oom_score", math.type(doc.oom_score) == "integer" and doc.oom_score or 0 },
    { "cgroup", section(doc, "cgroup", { { "path", "" } }) },
    { "proxy_plugins", proxy_plugins(doc, "v2") },
    { "timeouts", Map(TIMEOUTS) },
    { "imports", doc.imports },
    { "stream_processors", stream_processors("v2") },
  }) do fields[#fields + 1] = f end
  return encode(O(fields), "v2")
end

-- exported for specs
M.O, M.Map = O, Map

return M
