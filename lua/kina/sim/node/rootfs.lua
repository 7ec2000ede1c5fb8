--- kina.sim.node.rootfs — a simulated node's filesystem: a host directory standing in for "/".
-- Paths inside the node are resolved like a chroot ("/.." stays at "/"), so nothing a command
-- in the node names can reach outside its rootfs.  Node state lives in files here so it
-- survives between simulator processes: /var/lib/kina-sim/*.json persists like the node's disk,
-- /run/kina-sim/runtime.json is reset whenever the VM boots again (like /proc/sys and /run).
local uv = require("luv")
local json = require("kina.json")
local agent = require("kina.sim.node.agent")

local M = {}

M.STATE_DIR = "/var/lib/kina-sim"
M.RUNTIME_FILE = "/run/kina-sim/runtime.json"

-- A root "agent://<ip>" is another node running in a real container (podman, Docker): its
-- files are its agent's (kina.sim.node.agent), reached over the network. The primitives below
-- (stat, mkdir_p, read, write, remove, remove_tree, list) go there; the rest is built on them.
local function remote(root, fn, ...)
  if agent.is_remote(root) then return true, agent.call(root, fn, ...) end
  return false
end

--- Normalise a node path against `cwd` (default "/"): absolute, no "." or "..", no "//".
function M.normalize(path, cwd)
  if path:sub(1, 1) ~= "/" then path = (cwd or "/") .. "/" .. path end
  local out = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      if #out > 0 then out[#out] = nil end
    elseif part ~= "." then
      out[#out + 1] = part
    end
  end
  return "/" .. table.concat(out, "/")
end

--- Host path of node path `path` in `root`.
function M.host(root, path, cwd)
  local p = M.normalize(path, cwd)
  return p == "/" and root or (root .. p)
end

function M.stat(root, path)
  local far, a, b, c = remote(root, "stat", path)
  if far then return a, b, c end
  return uv.fs_stat(M.host(root, path))
end

function M.is_file(root, path)
  local st = M.stat(root, path)
  return st ~= nil and st.type == "file"
end

function M.is_dir(root, path)
  local st = M.stat(root, path)
  return st ~= nil and st.type == "directory"
end

function M.exists(root, path)
  return M.stat(root, path) ~= nil
end

--- mkdir -p; returns true or nil, errname ("ENOTDIR", "EEXIST"…), failing component.
function M.mkdir_p(root, path)
  local far, a, b, c = remote(root, "mkdir_p", path)
  if far then return a, b, c end
  local p = M.normalize(path)
  local cur = ""
  for part in p:gmatch("[^/]+") do
    cur = cur .. "/" .. part
    local host = root .. cur
    local st = uv.fs_stat(host)
    if not st then
      local ok, err, code = uv.fs_mkdir(host, 493)
      if not ok and code ~= "EEXIST" then return nil, code or err, cur end
    elseif st.type ~= "directory" then
      return nil, "ENOTDIR", cur
    end
  end
  return true
end

function M.read(root, path)
  local far, a, b, c = remote(root, "read", path)
  if far then return a, b, c end
  local f = io.open(M.host(root, path), "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- Write (or append) a whole string; the parent must exist (as on a real filesystem).
-- Writes go to a temporary file renamed into place, so a concurrent reader never sees half.
function M.write(root, path, data, append)
  local far, a, b, c = remote(root, "write", path, data, append)
  if far then return a, b, c end
  local host = M.host(root, path)
  if append then
    local f, err = io.open(host, "ab")
    if not f then return nil, err end
    f:write(data)
    f:close()
    return true
  end
  local tmp = string.format("%s.kina-tmp.%d", host, uv.os_getpid())
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  f:write(data)
  f:close()
  local ok, rerr = os.rename(tmp, host)
  if not ok then os.remove(tmp); return nil, rerr end
  return true
end

function M.remove(root, path)
  local far, a, b, c = remote(root, "remove", path)
  if far then return a, b, c end
  return os.remove(M.host(root, path))
end

--- rm -r on a node path (directories included); missing paths are fine.
function M.remove_tree(root, path)
  local far, a, b, c = remote(root, "remove_tree", path)
  if far then return a, b, c end
  local host = M.host(root, path)
  local st = uv.fs_lstat(host)
  if not st then return true end
  if st.type == "directory" then
    local req = uv.fs_scandir(host)
    if req then
      while true do
        local name = uv.fs_scandir_next(req)
        if not name then break end
        M.remove_tree(root, M.normalize(path) .. "/" .. name)
      end
    end
    return uv.fs_rmdir(host)
  end
  return uv.fs_unlink(host)
end

--- Sorted names in a node directory (nil when it is not one).
function M.list(root, path)
  local far, a, b, c = remote(root, "list", path)
  if far then return a, b, c end
  local req = uv.fs_scandir(M.host(root, path))
  if not req then return nil end
  local names = {}
  while true do
    local name = uv.fs_scandir_next(req)
    if not name then break end
    names[#names + 1] = name
  end
  table.sort(names)
  return names
end

-- Node state is JSON through kina.json: sorted keys, `/` not escaped, integers kept integral,
-- `[]` and `{}` told apart.
M.array_mt = json.array_mt
M.array = json.array
function M.encode_json(v) return json.encode(v) end

--- The value of a JSON text; nil for `null` or a text that does not parse.
function M.decode_json(s)
  local v, err = json.decode(s)
  if v == json.null then return nil end
  return v, err
end
M.null = json.null

function M.load_json(root, path, default)
  local s = M.read(root, path)
  if not s then return default end
  local v = M.decode_json(s)
  if v == nil then return default end
  return v
end

function M.save_json(root, path, value)
  local dir = M.normalize(path):match("^(.*)/[^/]*$")
  if dir and dir ~= "" then M.mkdir_p(root, dir) end
  return M.write(root, path, M.encode_json(value) .. "\n")
end

-- Identity of a boot: the start time as text with microseconds (a float would not survive
-- the JSON round trip exactly, and every exec would then look like a new boot).
local function boot_id(record)
  return string.format("%.6f", tonumber(record and record.started) or 0)
end

--- The runtime (per-boot) state of a node: sysctls, services, iptables rules, journal.
-- A record from another boot (record.started differs) is discarded.
function M.load_runtime(root, record)
  local st = M.load_json(root, M.RUNTIME_FILE)
  local boot = boot_id(record)
  if type(st) ~= "table" or st.boot ~= boot then
    st = { boot = boot, sysctl = {}, services = {}, iptables = {}, journal = {} }
  end
  st.sysctl = st.sysctl or {}
  st.services = st.services or {}
  st.iptables = st.iptables or {}
  st.journal = st.journal or {}
  return st
end

function M.save_runtime(root, st)
  return M.save_json(root, M.RUNTIME_FILE, st)
end

return M
