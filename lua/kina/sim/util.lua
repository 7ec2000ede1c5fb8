--- kina.sim.util — small helpers for the simulator: time, ids, digests, files.
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

-- SHA-256 (FIPS 180-4), used to derive stable image digests from references.
local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

local function rrot(x, n)
  return ((x >> n) | (x << (32 - n))) & 0xffffffff
end

--- Hex SHA-256 of `msg`.
function M.sha256(msg)
  local h0, h1, h2, h3 = 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a
  local h4, h5, h6, h7 = 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  local ml = #msg * 8
  msg = msg .. "\128" .. string.rep("\0", (55 - #msg) % 64) .. string.pack(">I8", ml)
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do w[i] = string.unpack(">I4", msg, chunk + i * 4) end
    for i = 16, 63 do
      local s0 = rrot(w[i - 15], 7) ~ rrot(w[i - 15], 18) ~ (w[i - 15] >> 3)
      local s1 = rrot(w[i - 2], 17) ~ rrot(w[i - 2], 19) ~ (w[i - 2] >> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & 0xffffffff
    end
    local a, b, c, d, e, f, g, h = h0, h1, h2, h3, h4, h5, h6, h7
    for i = 0, 63 do
      local S1 = rrot(e, 6) ~ rrot(e, 11) ~ rrot(e, 25)
      local ch = (e & f) ~ ((~e) & g)
      local t1 = (h + S1 + ch + K[i + 1] + w[i]) & 0xffffffff
      local S0 = rrot(a, 2) ~ rrot(a, 13) ~ rrot(a, 22)
      local maj = (a & b) ~ (a & c) ~ (b & c)
      local t2 = (S0 + maj) & 0xffffffff
      h, g, f, e, d, c, b, a = g, f, e, (d + t1) & 0xffffffff, c, b, a, (t1 + t2) & 0xffffffff
    end
    h0, h1, h2, h3 = (h0 + a) & 0xffffffff, (h1 + b) & 0xffffffff, (h2 + c) & 0xffffffff, (h3 + d) & 0xffffffff
    h4, h5, h6, h7 = (h4 + e) & 0xffffffff, (h5 + f) & 0xffffffff, (h6 + g) & 0xffffffff, (h7 + h) & 0xffffffff
  end
  return string.format("%08x%08x%08x%08x%08x%08x%08x%08x", h0, h1, h2, h3, h4, h5, h6, h7)
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
