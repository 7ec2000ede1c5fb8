--- kina.sim.util — small helpers for the simulator: time, ids, files. (SHA-256 is
-- kina.core.digest, which the host preloads.)
local uv = require("luv")

local M = {}

--- Unix time as a float (microsecond resolution).
function M.now()
  local s, us = uv.gettimeofday()
  return s + us / 1e6
end

--- ISO-8601 without fractional seconds, as Foundation's `.iso8601` strategy prints.
function M.iso8601(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

--- Seconds since 2001-01-01T00:00:00Z (Swift's `deferredToDate` Date encoding).
function M.since_2001(t)
  return t - 978307200
end

local function random_bytes(n)
  local ok, bytes = pcall(uv.random, n)
  if ok and type(bytes) == "string" then return bytes end
  local f = assert(io.open("/dev/urandom", "rb"))
  bytes = f:read(n)
  f:close()
  return bytes
end
M.random_bytes = random_bytes

--- A lowercased random UUID (the default container ID).
function M.uuid()
  local b = { random_bytes(16):byte(1, 16) }
  b[7] = (b[7] & 0x0f) | 0x40
  b[9] = (b[9] & 0x3f) | 0x80
  local h = {}
  for i = 1, 16 do h[i] = string.format("%02x", b[i]) end
  local s = table.concat(h)
  return s:sub(1, 8) .. "-" .. s:sub(9, 12) .. "-" .. s:sub(13, 16) .. "-" .. s:sub(17, 20) .. "-" .. s:sub(21)
end

--- A random locally administered MAC (first octet f2/f6/fa/fe, as vmnet hands out).
function M.random_mac()
  local b = { random_bytes(6):byte(1, 6) }
  local firsts = { 0xf2, 0xf6, 0xfa, 0xfe }
  b[1] = firsts[(b[1] % 4) + 1]
  local h = {}
  for i = 1, 6 do h[i] = string.format("%02x", b[i]) end
  return table.concat(h, ":")
end

--- mkdir -p; returns true or nil, err.
function M.mkdir_p(path)
  local acc = path:sub(1, 1) == "/" and "" or "."
  for part in path:gmatch("[^/]+") do
    acc = acc .. "/" .. part
    local ok, err, code = uv.fs_mkdir(acc, tonumber("755", 8))
    if not ok and code ~= "EEXIST" then return nil, err end
  end
  return true
end

--- Remove a directory tree (no symlink following).
function M.rm_rf(path)
  local st = uv.fs_lstat(path)
  if not st then return true end
  if st.type == "directory" then
    local req = uv.fs_scandir(path)
    if req then
      while true do
        local name = uv.fs_scandir_next(req)
        if not name then break end
        M.rm_rf(path .. "/" .. name)
      end
    end
    return uv.fs_rmdir(path)
  end
  return uv.fs_unlink(path)
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- Write via a temporary file and rename, so readers never see a partial file.
function M.write_file_atomic(path, data)
  local tmp = string.format("%s.tmp.%d", path, uv.os_getpid())
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(data)
  if ok then ok, werr = f:flush() end
  f:close()
  if not ok then os.remove(tmp); return nil, werr end
  local rok, rerr = os.rename(tmp, path)
  if not rok then os.remove(tmp); return nil, rerr end
  return true
end

--- Append one line with a single write() on an O_APPEND descriptor (no interleaving).
function M.append_line(path, line)
  local fd, err = uv.fs_open(path, "a", tonumber("644", 8))
  if not fd then return nil, err end
  local ok, werr = uv.fs_write(fd, line .. "\n", -1)
  uv.fs_close(fd)
  if not ok then return nil, werr end
  return true
end

function M.sleep_ms(ms)
  if ms and ms > 0 then uv.sleep(math.floor(ms)) end
end

function M.shallow_copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return setmetatable(c, getmetatable(t))
end

return M
