--- kina.sim.state — the simulator's persistent state, shared by concurrent processes.
--
-- Layout of the state directory (KINA_SIM_STATE, default $TMPDIR/kina-sim-state):
--   state.json      containers, images, networks, IP allocations (one JSON document)
--   state.lock      fcntl lock taken around every read-modify-write of state.json
--   locks/<n>.lock  named locks handed to the node simulation (ctx.lock)
--   rootfs/<id>/    a container's filesystem
-- state.json is replaced with temp-file + rename, so a reader without the lock always sees a
-- complete document; writers serialise on state.lock, so no update is lost.
local fs = require("kina.core.fs")
local json = require("kina.json")
local util = require("kina.sim.util")

local M = {}

local Store = {}
Store.__index = Store

--- Default state directory.
function M.default_dir(getenv)
  getenv = getenv or os.getenv
  local tmp = getenv("TMPDIR")
  if not tmp or tmp == "" then tmp = "/tmp" end
  return (tmp:gsub("/+$", "")) .. "/kina-sim-state"
end

--- Open (creating) the store in `dir`.
function M.open(dir)
  local ok, err = util.mkdir_p(dir .. "/locks")
  if not ok then return nil, err end
  util.mkdir_p(dir .. "/rootfs")
  return setmetatable({
    dir = dir,
    file = dir .. "/state.json",
    lockfile = dir .. "/state.lock",
  }, Store)
end

local function empty_state()
  return { version = 1, seq = 0, containers = {}, images = {}, networks = {}, ipam = {} }
end

--- Current state (a snapshot; no lock needed for reading).
function Store:load()
  local text = util.read_file(self.file)
  if not text or text == "" then return empty_state() end
  local data, err = json.decode(text)
  if not data then error("simulator state " .. self.file .. " is corrupt: " .. tostring(err), 0) end
  for k, v in pairs(empty_state()) do
    if data[k] == nil then data[k] = v end
  end
  return data
end

function Store:save(data)
  local ok, err = util.write_file_atomic(self.file, json.encode(data))
  if not ok then error("cannot write simulator state: " .. tostring(err), 0) end
end

--- Run `fn(data)` under the state lock and save `data` afterwards (unless fn raised).
-- Returns what fn returns; errors raised by fn propagate after the lock is released.
function Store:update(fn)
  local lock <close> = assert(fs.lock(self.lockfile))
  local data = self:load()
  local res = table.pack(pcall(fn, data))
  if not res[1] then
    lock:unlock()
    error(res[2], 0)
  end
  self:save(data)
  lock:unlock()
  return table.unpack(res, 2, res.n)
end

--- A named lock (ctx.lock for the node simulation): kina.core.fs lock on locks/<name>.lock.
function Store:lock(name)
  assert(type(name) == "string" and name:match("^[%w_.-]+$"), "lock name must be [A-Za-z0-9_.-]+")
  return fs.lock(self.dir .. "/locks/" .. name .. ".lock")
end

--- Containers of `data` in creation order.
function M.sorted_containers(data)
  local list = {}
  for _, c in pairs(data.containers) do list[#list + 1] = c end
  table.sort(list, function(a, b) return a.seq < b.seq end)
  return list
end

return M
