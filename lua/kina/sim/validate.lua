--- kina.sim.validate — value parsing and validation of run/create options, with the CLI's
-- error texts (apple/container Parser.swift, Utility.swift; reference §2.1, §4).
local errors = require("kina.sim.errors")
local json = require("kina.json")
local uv = require("luv")

local M = {}
local A = json.array
local function fail(code, msg) errors.throw(code, msg) end

--- Container names: ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$, 2–63 characters.
function M.container_name(id)
  if #id < 2 or #id > 63 or not id:match("^[a-zA-Z0-9][a-zA-Z0-9_.-]+$") then
    fail("invalidArgument", "container ID " .. id .. " is not a valid container ID")
  end
end

--- Network names: ^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$. The text is NetworkConfiguration
-- .validate's from 1.0.0 ("invalid network name: X"); 0.12.x said "invalid network ID: X".
function M.network_name(name, v)
  if #name > 63 or not (name:match("^[a-z0-9]$") or name:match("^[a-z0-9][a-z0-9._-]*[a-z0-9]$")) then
    fail("invalidArgument", (v and not v:ge("1.0.0") and "invalid network ID: " or "invalid network name: ") .. name)
  end
end

--- Measurement.parse: number + optional b/k/m/g/t/p (+ "b"/"ib"); returns bytes (float).
function M.size_bytes(text)
  local s = text:lower():match("^%s*(.-)%s*$")
  if s == "" then fail("invalidArgument", "invalid size") end
  local num, unit = s:match("^([0-9.]*)%s*(.-)$")
  local value = tonumber(num)
  if not value or num:find("^%.") and #num == 1 then fail("invalidArgument", "invalid size") end
  local sym = unit:sub(1, 1)
  local tail = unit:sub(2)
  if unit == "" then sym = "b" elseif not (tail == "" or tail == "ib" or tail == "b") then
    fail("invalidArgument", "invalid symbol: " .. unit)
  end
  local mult = ({ b = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3, t = 1024 ^ 4, p = 1024 ^ 5 })[sym]
  if not mult then fail("invalidArgument", "invalid symbol: " .. unit) end
  return value * mult
end

--- --memory → bytes, truncated to whole MiB.
function M.memory(text)
  local mib = math.floor(M.size_bytes(text) / (1024 * 1024))
  return mib * 1024 * 1024
end

--- Labels: `k=v` or `k`; a value containing `=` is an error (Swift split omits empty parts).
function M.labels(list)
  local out = {}
  for _, label in ipairs(list or {}) do
    if label == "" then fail("invalidArgument", "label cannot be an empty string") end
    local parts = {}
    for p in label:gmatch("[^=]+") do parts[#parts + 1] = p end
    if #parts == 1 then out[parts[1]] = ""
    elseif #parts == 2 then out[parts[1]] = parts[2]
    else fail("invalidArgument", "invalid label format " .. label) end
  end
  return out
end

local function u16(s)
  if not s or not s:match("^%d+$") then return nil end
  local n = tonumber(s)
  if n > 65535 then return nil end
  return n
end

local function valid_ipv4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return false end
  for _, x in ipairs({ a, b, c, d }) do if tonumber(x) > 255 then return false end end
  return true
end

--- One --publish value → PublishPort table.
function M.publish(text, version)
  local body, proto = text:match("^(.-)/([^/]*)$")
  body = body or text
  local addr, host, ctr
  local v6, rest = body:match("^%[([^%]]*)%]:(.*)$")
  if v6 then
    host, ctr = rest:match("^([^:].*):([^:/]*)$")
    addr = v6
    if not host then fail("invalidArgument", "invalid publish value: " .. text) end
    if not v6:find(":") then fail("invalidArgument", "invalid publish IPv6 address: " .. text) end
  else
    local a, h, c = body:match("^([^:].*):([^:].*):([^:]*)$")
    if a then addr, host, ctr = a, h, c
    else
      host, ctr = body:match("^([^:].*):([^:]*)$")
      if not host then fail("invalidArgument", "invalid publish value: " .. text) end
    end
  end
  proto = (proto or "tcp"):lower()
  if proto ~= "tcp" and proto ~= "udp" then fail("invalidArgument", "invalid publish protocol: " .. proto) end
  if addr and not v6 and not valid_ipv4(addr) then fail("invalidArgument", "invalid publish IPv4 address: " .. text) end
  local ranges = version:ge("0.7.0")
  local function range(s, what)
    local parts = {}
    for p in s:gmatch("[^-]+") do parts[#parts + 1] = p end
    local a, b
    if #parts == 1 then a = u16(parts[1]); b = a
    elseif #parts == 2 and ranges then a, b = u16(parts[1]), u16(parts[2])
    end
    if not a or not b then fail("invalidArgument", "invalid publish " .. what .. " port: " .. s) end
    if a <= 1 or a > b then fail("invalidArgument", "invalid publish " .. what .. " port range: " .. s) end
    return a, b
  end
  local hs, he = range(host, "host")
  local cs, ce = range(ctr, "container")
  if he - hs ~= ce - cs then
    fail("invalidArgument", "publish host and container port counts are not equal: " .. host .. ":" .. ctr)
  end
  return { hostAddress = addr or "0.0.0.0", hostPort = hs, containerPort = cs, proto = proto, count = he - hs + 1 }
end

--- All --publish values: ≤64 specs, no overlapping host ports.
function M.publish_all(list, version)
  local out = A()
  for i, p in ipairs(list or {}) do out[i] = M.publish(p, version) end
  if #out > 64 then fail("invalidArgument", "cannot exceed more than 64 port publish descriptors") end
  for i = 1, #out do
    for j = i + 1, #out do
      local a, b = out[i], out[j]
      if a.proto == b.proto and a.hostPort <= b.hostPort + b.count - 1 and b.hostPort <= a.hostPort + a.count - 1 then
        fail("invalidArgument", "host ports for different publish port specs may not overlap")
      end
    end
  end
  return out
end

--- --network name[,mac=…][,mtu=…]
function M.network(spec, version)
  if spec == "" then fail("invalidArgument", "network specification cannot be empty") end
  local parts = {}
  for p in (spec .. ","):gmatch("([^,]*),") do parts[#parts + 1] = p end
  local name = parts[1]
  if name == "" then fail("invalidArgument", "network name cannot be empty") end
  local r = { network = name }
  local props = version:ge("0.11.0") and "mac, mtu" or "mac"
  for i = 2, #parts do
    local k, v = parts[i]:match("^([^=]*)=(.*)$")
    if not k then
      fail("invalidArgument", string.format("invalid property format '%s' in network specification '%s'", parts[i], spec))
    end
    if k == "mac" and version:ge("0.7.0") then
      if v == "" then fail("invalidArgument", "mac address value cannot be empty") end
      if not v:match("^%x%x:%x%x:%x%x:%x%x:%x%x:%x%x$") then
        fail("invalidArgument", "invalid MAC address format " .. v .. ", expected format: XX:XX:XX:XX:XX:XX")
      end
      r.mac = v:lower()
    elseif k == "mtu" and version:ge("0.11.0") then
      local n = v:match("^%d+$") and tonumber(v)
      if not n or n < 1280 or n > 65535 then
        fail("invalidArgument", "invalid mtu value '" .. v .. "': must be between 1280 and 65535")
      end
      r.mtu = n
    else
      fail("invalidArgument", "unknown network property '" .. k .. "'. Available properties: " .. props)
    end
  end
  return r
end

M.CAPABILITIES = {}
for _, c in ipairs({ "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
  "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
  "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
  "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
  "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
  "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE" }) do
  M.CAPABILITIES["CAP_" .. c] = true
end

--- --cap-add/--cap-drop values → normalised CAP_X / ALL.
-- An unknown name fails in containerization's CapabilityName(rawValue:) with a
-- CapabilityParsingError, which the CLI prints by its description (Parser.capabilities,
-- cz Capabilities.swift): `Error: invalid CapabilityName 'FOO'` (the upper-cased value).
function M.capabilities(list)
  local out = A()
  for _, cap in ipairs(list or {}) do
    local up = cap:upper()
    if up ~= "ALL" then
      local norm = up:sub(1, 4) == "CAP_" and up or ("CAP_" .. up)
      if not M.CAPABILITIES[norm] then error(errors.raw("invalid CapabilityName '" .. up .. "'"), 0) end
      up = norm
    end
    out[#out + 1] = up
  end
  return out
end

M.DEFAULT_MASKED = { "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
  "/sys/devices/virtual/powercap" }
M.DEFAULT_READONLY = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" }

--- --masked-path / --read-only-path values on top of `defaults`; nil when not given.
function M.path_overrides(values, defaults, flag)
  if not values or #values == 0 then return nil end
  local paths, seen = A(), {}
  for _, d in ipairs(defaults) do paths[#paths + 1] = d; seen[d] = true end
  for _, value in ipairs(values) do
    local t = value:match("^%s*(.-)%s*$")
    if t:upper() == "NONE" then
      paths, seen = A(), {}
    else
      if t:sub(1, 1) ~= "/" then
        fail("invalidArgument", string.format(
          "invalid path '%s' for --%s: path must be absolute, or the NONE sentinel", value, flag))
      end
      while #t > 1 and t:sub(-1) == "/" do t = t:sub(1, -2) end
      if not seen[t] then seen[t] = true; paths[#paths + 1] = t end
    end
  end
  return paths
end

local function is_dir(p)
  local st = uv.fs_stat(p)
  return st and st.type == "directory"
end

--- --mount values → Filesystem tables {type, source, destination, options}. `version`
-- decides a tmpfs's source: "" before 1.3.1, which fixed it (PR 2138; updates-2026-12 §1) to
-- what `--tmpfs` records, "tmpfs" (the fixed value is README "Still unconfirmed").
function M.mount(text, version)
  local parts = {}
  for p in text:gmatch("[^,]+") do parts[#parts + 1] = p end
  if #parts == 0 then fail("invalidArgument", "invalid mount format: " .. text) end
  local d = { type = "virtiofs" }
  local ro = false
  for _, part in ipairs(parts) do
    local k, v = part:match("^([^=]*)=(.*)$")
    k = k or part
    if k == "src" then k = "source" elseif k == "dst" or k == "target" then k = "destination"
    elseif k == "readonly" or k == "ro" then k = "ro" end
    if k ~= "type" and k ~= "size" and k ~= "mode" and k ~= "source" and k ~= "destination" and k ~= "ro" then
      fail("invalidArgument", "unknown directive " .. k .. " when parsing mount " .. text)
    end
    if k == "ro" then ro = true
    else
      if v == nil then fail("invalidArgument", "invalid directive format missing value " .. part .. " in " .. text) end
      d[k] = v
    end
  end
  local typ = d.type == "bind" and "virtiofs" or d.type
  if typ ~= "virtiofs" and typ ~= "tmpfs" and typ ~= "volume" then
    fail("invalidArgument", "unsupported mount type " .. d.type)
  end
  local opts = A()
  if ro then opts[#opts + 1] = "ro" end
  if d.size then
    if typ ~= "tmpfs" then fail("invalidArgument", "unsupported option size for " .. d.type .. " mount") end
    opts[#opts + 1] = "size=" .. math.floor(M.size_bytes(d.size))
  end
  if d.mode then
    if typ ~= "tmpfs" then fail("invalidArgument", "unsupported option mode for " .. d.type .. " mount") end
    opts[#opts + 1] = "mode=" .. d.mode
  end
  if d.source then
    if typ == "tmpfs" then fail("invalidArgument", "cannot specify source for tmpfs mount") end
    if typ == "virtiofs" then
      if not uv.fs_stat(d.source) then fail("invalidArgument", "path '" .. d.source .. "' does not exist") end
      if not is_dir(d.source) then fail("invalidArgument", "path '" .. d.source .. "' is not a directory") end
    end
  end
  if not d.destination or d.destination == "" then fail("invalidArgument", "mount destination cannot be empty") end
  local tmpfs_source = (version == nil or version:ge("1.3.1")) and "tmpfs" or ""
  return { type = typ, source = d.source or (typ == "tmpfs" and tmpfs_source or ""), destination = d.destination, options = opts }
end

--- -v/--volume values: /host:/dst[:opts], name:/dst[:opts], /dst.
function M.volume(text)
  local parts = {}
  for p in text:gmatch("[^:]+") do parts[#parts + 1] = p end
  if #parts == 1 and parts[1]:sub(1, 1) == "/" then
    return { type = "volume", source = "anon", destination = parts[1], options = A() }
  end
  if #parts < 2 or #parts > 3 then fail("invalidArgument", "invalid volume format " .. text) end
  local src, dst = parts[1], parts[2]
  local opts = A()
  if parts[3] then for o in parts[3]:gmatch("[^,]+") do opts[#opts + 1] = o end end
  if src:find("/") or src == "." or src == ".." then
    if not uv.fs_stat(src) then fail("invalidArgument", "path '" .. src .. "' does not exist") end
    return { type = "virtiofs", source = src, destination = dst, options = opts }
  end
  if not src:match("^[A-Za-z0-9][A-Za-z0-9_.-]*$") then
    fail("invalidArgument", "invalid volume name '" .. src .. "': must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$")
  end
  return { type = "volume", source = src, destination = dst, options = opts }
end

--- Environment: image env, then --env-file, then -e (KEY alone inherits; skipped if unset).
function M.environment(base, env_files, envs, getenv)
  local list, index = {}, {}
  local function set(entry)
    local key = entry:match("^([^=]*)")
    if index[key] then list[index[key]] = entry
    else list[#list + 1] = entry; index[key] = #list end
  end
  for _, e in ipairs(base or {}) do if e:find("=") then set(e) end end
  for _, path in ipairs(env_files or {}) do
    local f = io.open(path, "r")
    if not f then fail("invalidArgument", "failed to read envfile at " .. path) end
    for line in f:lines() do
      local t = line:match("^[ \t]*(.-)[ \t]*$")
      if t ~= "" and t:sub(1, 1) ~= "#" then
        local k, v = t:match("^([^=]*)=(.*)$")
        if k then
          if k:find("[ \t]") then fail("invalidArgument", "variable '" .. k .. "' contains whitespaces") end
          if k == "" then fail("invalidArgument", "no variable name on line '" .. t .. "'") end
          set(k .. "=" .. v)
        else
          local val = getenv(t)
          if val then set(t .. "=" .. val) end
        end
      end
    end
    f:close()
  end
  for _, e in ipairs(envs or {}) do
    if e:find("=") then set(e)
    else
      local val = getenv(e)
      if val then set(e .. "=" .. val) end
    end
  end
  return A(list)
end

--- --platform os/arch[/variant], --os, --arch → {os, architecture, variant}.
function M.platform(opts)
  local function arch_alias(a)
    if a == "aarch64" then return "arm64" end
    if a == "x86_64" then return "amd64" end
    return a
  end
  if opts.platform then
    local os_, arch, variant = opts.platform:match("^([^/]+)/([^/]+)/?([^/]*)$")
    if not os_ then fail("invalidArgument", "invalid platform " .. opts.platform) end
    arch = arch_alias(arch)
    if variant == "" then variant = nil end
    if arch == "arm64" and not variant then variant = "v8" end
    return { os = os_, architecture = arch, variant = variant }
  end
  return { os = opts.os or "linux", architecture = arch_alias(opts.arch or "arm64") }
end

return M
