--- kina.doctor — can kina work on this machine, and what to do when it cannot.
--
-- Every check is data: { name, status = "ok"|"warn"|"fail", message, hint? } (and, for a failure
-- that came from the provider, `error`: the ProviderError itself, which create's preflight
-- re-raises). Nothing here prints; scripts/doctor.lua prints, and kina.cluster's preflight runs
-- M.preflight, the runtime checks create needs, through the same functions.
--
-- What is checked of the runtime and of the machine is the provider's: it names a module of
-- checks in its `doctor` field (kina.doctor.apple: Apple's CLI, services, kernel, macOS, Local
-- Network, known releases; kina.doctor.linux: podman's or Docker's CLI and engine). This module
-- holds what every runtime shares: the checks of a config (memory, disk, host ports), the
-- host's figures, and the order of it all.

local common = require "kina.provider.common"

local M = {}

--- A check: {name, status, message, hint, error}.
local function check(name, status, message, hint, err)
  return { name = name, status = status, message = message, hint = hint, error = err }
end
M.check = check

local function is_provider_error(err) return common.is_error(err) end
M.is_provider_error = is_provider_error

-- The message and hint of anything raised (a ProviderError, or a plain error).
local function parts(err)
  if common.is_error(err) then
    local msg = err.message or err.status or tostring(err)
    if err.message and err.status then msg = err.status .. ": " .. err.message end
    if not err.message and err.stderr and err.stderr ~= "" then msg = msg .. ": " .. err.stderr:gsub("%s+$", "") end
    return msg, err.hint
  end
  return tostring(err), nil
end

M.error_parts = parts

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end
M.copy = copy

--- The failing check `name` for an error a provider call raised (its message, hint and the
-- error itself, which create's preflight re-raises); any other error is raised again.
function M.failure(name, err)
  if not is_provider_error(err) then error(err, 0) end
  local msg, hint = parts(err)
  return check(name, "fail", msg, hint, err)
end

-- The provider's own verdict (Provider:ensure_ready) on `info`, so its logic and texts are not
-- written twice: ensure_ready reads nothing but self:info().
function M.verdict(provider, info)
  local proxy = setmetatable({ info = function() return info end }, { __index = provider })
  return pcall(provider.ensure_ready, proxy)
end

--- The `cli` check: the provider's CLI answers with its version; `describe(version)` is the
-- message when it does. Returns the check and the version (nil when it failed).
function M.cli(provider, describe)
  local ok, version = pcall(provider.version, provider)
  if not ok then return M.failure("cli", version), nil end
  return check("cli", "ok", describe(version)), version
end

--- The runtime checks create needs too (cli, version, services, ...: the provider's `doctor`
-- module's). Returns the checks and the provider's info (nil when the CLI or its status could
-- not be read).
function M.runtime(provider)
  return M.checks_for(provider).runtime(provider)
end

--- The module of checks a provider names in its `doctor` field (kina.doctor.apple,
-- kina.doctor.linux): runtime(provider) and machine(provider, info, opts).
function M.checks_for(provider)
  if type(provider.doctor) ~= "string" then
    error("kina.doctor: the provider names no module of checks (field 'doctor')", 3)
  end
  return require(provider.doctor)
end

--- What create's preflight runs: M.runtime; raises the first failure as the provider would
-- (the same ProviderError), returns info and the warnings' messages.
function M.preflight(provider)
  local checks, info = M.runtime(provider)
  local warnings = {}
  for _, c in ipairs(checks) do
    if c.status == "fail" then
      if c.error then error(c.error, 0) end
      error(common.new_error{ op = "preflight", message = c.message, hint = c.hint }, 0)
    elseif c.status == "warn" then
      warnings[#warnings + 1] = c.message
    end
  end
  return info, warnings
end

---------------------------------------------------------------------------------------------
-- Reaching a node

--- Connect to ip:port over TCP within `timeout` seconds through luv; true, or nil and the
-- libuv error name ("ETIMEDOUT" when nothing answered). A refused connection reached the host,
-- so it counts as reachable.
function M.tcp_probe(ip, port, timeout)
  local uv = require "luv"
  local tcp = uv.new_tcp()
  local timer = uv.new_timer()
  local result, reason
  -- luv raises for a malformed address and returns nil, error for a refused start
  local called, started, start_err = pcall(tcp.connect, tcp, ip, port, function(err)
    if result == nil then
      if err == nil or tostring(err):find("ECONNREFUSED", 1, true) then result = true
      else result, reason = false, tostring(err) end
    end
  end)
  if not called then result, reason = false, tostring(started)
  elseif not started then result, reason = false, tostring(start_err) end
  -- libuv's clock moves only while its loop runs: an embedding program may not have run it for
  -- a while, and the deadline would then be counted from that old time and fire at once
  uv.update_time()
  timer:start(math.floor(timeout * 1000), 0, function()
    if result == nil then result, reason = false, "ETIMEDOUT" end
  end)
  while result == nil do uv.run("once") end
  timer:stop()
  timer:close()
  tcp:close()
  uv.run("nowait")
  if result then return true end
  return nil, reason
end

---------------------------------------------------------------------------------------------
-- What a config asks for

local UNITS = { B = 1, K = 1024, M = 1024 ^ 2, G = 1024 ^ 3, T = 1024 ^ 4, P = 1024 ^ 5 }

--- Bytes in a memory size as kina.config gives it ("2G", "1536M").
function M.bytes(size)
  local n, unit = tostring(size):upper():match("^(%d+%.?%d*)([BKMGTP]?)")
  if not n then error("kina.doctor: not a size: " .. tostring(size), 2) end
  return math.floor(tonumber(n) * UNITS[unit ~= "" and unit or "B"])
end

local function gib(bytes) return ("%.1f GiB"):format(bytes / 1024 ^ 3) end

--- Memory check: the nodes' memory against the host's. host_bytes may be nil (unknown).
-- `sized` (capability node_size_required): every node gets its memory; else only the nodes
-- whose memory the config gives are limited, and the others share the host's.
function M.memory(model, host_bytes, sized)
  local need, limited = 0, 0
  for _, n in ipairs(model.nodes) do
    if sized ~= false or n.memory_given ~= false then
      need = need + M.bytes(n.memory)
      limited = limited + 1
    end
  end
  if limited == 0 then
    return check("memory", "ok", ("no node has a memory limit: the %d node(s) share this host's memory, as kind's do"):format(#model.nodes))
  end
  local what = ("%d node(s) ask for %s"):format(limited, gib(need))
  if not host_bytes then return check("memory", "warn", what .. "; the host's memory could not be read") end
  -- memory given to a node VM is not returned to macOS while it runs (defaults.lua, apple §6)
  if need > host_bytes then
    return check("memory", "fail", ("%s; this host has %s"):format(what, gib(host_bytes)),
      "lower `memory` per node or cluster in the config, or create fewer nodes.")
  elseif need > host_bytes * 3 / 4 then
    return check("memory", "warn", ("%s of this host's %s: little is left for %s"):format(what, gib(host_bytes),
      sized ~= false and "macOS" or "the host"),
      "lower `memory` in the config if the Mac slows down.")
  end
  return check("memory", "ok", ("%s; this host has %s"):format(what, gib(host_bytes)))
end

--- Disk space a node needs, an estimate (no published figure): the node image unpacked
-- (kindest/node is about 1 GiB) plus etcd, logs and the images the cluster pulls.
M.DISK_PER_NODE = 4 * 1024 ^ 3

--- Disk check: free bytes at `path` (nil when unknown) against DISK_PER_NODE per node.
function M.disk(model, free_bytes, path)
  local need = #model.nodes * M.DISK_PER_NODE
  if not free_bytes then return check("disk", "warn", ("the free space at %s could not be read"):format(path)) end
  local what = ("%s free at %s; kina estimates %s for %d node(s)"):format(gib(free_bytes), path, gib(need), #model.nodes)
  if free_bytes < need then
    return check("disk", "warn", what, "free disk space (`container image prune`, `container system df`), or create fewer nodes.")
  end
  return check("disk", "ok", what)
end

--- The host ports a config claims (0 = kina picks one, not checked), as check_host_ports takes them.
function M.host_ports(model)
  local ports = {}
  for i, n in ipairs(model.nodes) do
    for j, pm in ipairs(n.extra_port_mappings or {}) do
      if (pm.host_port or 0) ~= 0 then
        ports[#ports + 1] = { address = pm.listen_address, port = pm.host_port,
          protocol = pm.protocol and pm.protocol:lower() or "tcp", field = ("nodes[%d].extraPortMappings[%d]"):format(i, j) }
      end
    end
  end
  local net = model.networking
  if (net.api_server_port or 0) ~= 0 then
    ports[#ports + 1] = { address = net.api_server_address, port = net.api_server_port, protocol = "tcp",
      field = "networking.apiServerPort" }
  end
  return ports
end

function M.ports(provider, model)
  local ports = M.host_ports(model)
  local ok, err = pcall(provider.check_host_ports, provider, ports)
  if not ok then
    -- check_host_ports raises before running luv's loop, leaving the closed handle's callback
    -- pending (the host crashed at exit with it): run it now
    require("luv").run("nowait")
    return M.failure("ports", err)
  end
  return check("ports", "ok", ("%d host port(s) the config asks for are free"):format(#ports))
end

---------------------------------------------------------------------------------------------
-- The host

--- The host's memory in bytes: `sysctl -n hw.memsize` on macOS, /proc/meminfo elsewhere (a
-- fallback for Linux test machines). `sched` is a kina.async scheduler.
function M.host_memory(sched, read_file)
  local r = sched:exec{ argv = { "sysctl", "-n", "hw.memsize" }, timeout = 10 }
  local n = r and r.code == 0 and tonumber((r.stdout or ""):match("%d+"))
  if n then return n end
  read_file = read_file or function(path)
    local f = io.open(path, "r")
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return s
  end
  local kb = tonumber(((read_file("/proc/meminfo") or ""):match("MemTotal:%s*(%d+)%s*kB")))
  return kb and kb * 1024
end

--- Free bytes at `path` (`df -k PATH`: the 4th column of the last line is the available KiB on
-- macOS and Linux alike).
function M.free_disk(sched, path)
  local r = sched:exec{ argv = { "df", "-k", path }, timeout = 10 }
  if not r or r.code ~= 0 then return nil end
  local last
  for line in (r.stdout or ""):gmatch("[^\n]+") do last = line end
  local avail = last and select(4, last:match("^(.-)%s+(%d+)%s+(%d+)%s+(%d+)"))
  return avail and tonumber(avail) * 1024
end

---------------------------------------------------------------------------------------------
-- All of it

--- Every check. opts: provider, scheduler, model (a kina.config model, for --config),
-- cluster (the probed cluster's name), probe, readlink, getenv.
function M.run(opts)
  local provider, sched = opts.provider, opts.scheduler
  local getenv = opts.getenv or os.getenv
  local runtime_checks = M.checks_for(provider)
  local checks, info = runtime_checks.runtime(provider)
  local function add(c) checks[#checks + 1] = c end
  -- the machine's checks beyond the runtime's (Apple's: kernel, macOS, Local Network, releases)
  if info then
    for _, c in ipairs(runtime_checks.machine(provider, info, opts)) do add(c) end
  end
  if opts.model then
    add(M.memory(opts.model, M.host_memory(sched), provider:capabilities().node_size_required))
    -- the runtime keeps images and containers under its app root; before it exists, $HOME's disk
    local path = info and info.status and info.status.app_root
    local free = path and M.free_disk(sched, path)
    if not free then
      path = getenv("HOME") or "/"
      free = M.free_disk(sched, path)
    end
    add(M.disk(opts.model, free, path))
    add(M.ports(provider, opts.model))
  end
  return checks
end

--- True when no check failed.
function M.passed(checks)
  for _, c in ipairs(checks) do
    if c.status == "fail" then return false end
  end
  return true
end

return M
