--- kina.doctor — can kina work on this machine, and what to do when it cannot.
--
-- Every check is data: { name, status = "ok"|"warn"|"fail", message, hint? } (and, for a failure
-- that came from the provider, `error`: the ProviderError itself, which create's preflight
-- re-raises). Nothing here prints; scripts/doctor.lua prints, and kina.cluster's preflight runs
-- M.preflight, the runtime checks create needs, through the same functions.
--
-- The facts (versions, texts, hints) are the provider's (kina.provider.apple) and the C core's
-- (kina.core.apple features); this module only arranges them into checks.

local apple = require "kina.provider.apple"
local common = require "kina.provider.common"
local core = require "kina.core.apple"

local M = {}

local function check(name, status, message, hint, err)
  return { name = name, status = status, message = message, hint = hint, error = err }
end

local function is_provider_error(err) return apple.is_error(err) end

-- The message and hint of anything raised (a ProviderError, or a plain error).
local function parts(err)
  if apple.is_error(err) then
    local msg = err.message or err.status or tostring(err)
    if err.message and err.status then msg = err.status .. ": " .. err.message end
    if not err.message and err.stderr and err.stderr ~= "" then msg = msg .. ": " .. err.stderr:gsub("%s+$", "") end
    return msg, err.hint
  end
  return tostring(err), nil
end

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

-- The provider's own verdict (Provider:ensure_ready) on `info`, so its logic and texts are not
-- written twice: ensure_ready reads nothing but self:info().
local function verdict(provider, info)
  local proxy = setmetatable({ info = function() return info end }, { __index = provider })
  return pcall(provider.ensure_ready, proxy)
end

-- podman's or Docker's: the CLI answers, and the provider's own verdict (ensure_ready) on
-- whether its engine can run nodes; its warnings are one check's.
local function linux_runtime(provider)
  local checks = {}
  local ok, version = pcall(provider.version, provider)
  if not ok then
    if not is_provider_error(version) then error(version, 0) end
    local msg, hint = parts(version)
    return { check("cli", "fail", msg, hint, version) }, nil
  end
  checks[1] = check("cli", "ok", ("%s %s (%s)"):format(provider.runtime, version, provider.binary))
  local info, warnings
  ok, info, warnings = pcall(provider.ensure_ready, provider)
  if not ok then
    if not is_provider_error(info) then error(info, 0) end
    local msg, hint = parts(info)
    checks[2] = check("services", "fail", msg, hint, info)
    return checks, nil
  end
  if warnings and #warnings > 0 then checks[2] = check("services", "warn", table.concat(warnings, "; "))
  else checks[2] = check("services", "ok", ("%s can run containers"):format(provider.binary)) end
  return checks, info
end

--- The runtime checks create needs too: cli, version, services, server_version (Apple's; cli
-- and services for podman and Docker). Returns the checks and the provider's info (nil when
-- the CLI or its status could not be read).
function M.runtime(provider)
  if provider.name ~= "apple" then return linux_runtime(provider) end
  local checks = {}
  local ok, version = pcall(provider.version, provider)
  if not ok then
    if not is_provider_error(version) then error(version, 0) end
    local msg, hint = parts(version)
    checks[#checks + 1] = check("cli", "fail", msg, hint, version)
    return checks, nil
  end
  checks[#checks + 1] = check("cli", "ok", ("Apple's container CLI %s (%s)"):format(version, provider.binary))
  local info
  ok, info = pcall(provider.info, provider)
  if not ok then
    if not is_provider_error(info) then error(info, 0) end
    local msg, hint = parts(info)
    checks[#checks + 1] = check("services", "fail", msg, hint, info)
    return checks, nil
  end
  -- the version, judged as if the services ran
  local running = copy(info)
  running.service_running = true
  local vok, vinfo, warnings = verdict(provider, running)
  if not vok then
    if not is_provider_error(vinfo) then error(vinfo, 0) end
    local msg, hint = parts(vinfo)
    checks[#checks + 1] = check("version", "fail", msg, hint, vinfo)
  elseif warnings and #warnings > 0 then
    checks[#checks + 1] = check("version", "warn", table.concat(warnings, "; "),
      ("kina was checked against %s … %s; report problems with this version."):format(apple.MIN_VERSION, apple.MAX_TESTED))
  else
    checks[#checks + 1] = check("version", "ok", ("container %s is a release kina supports (%s … %s)"):format(
      version, apple.MIN_VERSION, apple.MAX_TESTED))
  end
  -- the services, judged as if the version were fine
  if info.service_running then
    checks[#checks + 1] = check("services", "ok", "Apple's container services are running")
  else
    local fine = copy(info)
    fine.version = apple.MAX_TESTED
    fine.features = copy(info.features)
    fine.features.nodes_boot = true
    local sok, serr = verdict(provider, fine)
    if sok then error("kina.doctor: the provider accepted services that are not running", 0) end
    if not is_provider_error(serr) then error(serr, 0) end
    local msg, hint = parts(serr)
    checks[#checks + 1] = check("services", "fail", msg, hint, serr)
  end
  -- 1.4.1+ names the client's and the server's versions (nested status): after an upgrade the
  -- old server keeps running until restarted (updates-2026-12 §1)
  local st = info.status
  if st and st.client_version and st.server_version then
    if st.client_version ~= st.server_version then
      checks[#checks + 1] = check("server_version", "fail",
        ("the container CLI is %s but its running services are %s (an upgrade without a restart)"):format(
          st.client_version, st.server_version),
        "restart the services: `container system stop && container system start`.")
    else
      checks[#checks + 1] = check("server_version", "ok", ("client and services are both %s"):format(st.client_version))
    end
  end
  return checks, info
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
-- The default kernel

--- The kernel release in a kernel file name ("vmlinux-6.18.35-197" → "6.18.35"), or nil.
function M.kernel_release(name)
  return name and name:match("vmlinux%-(%d+%.%d+%.%d+)")
end

--- The kernel check. `readlink(path)` (default luv's fs_readlink) reads the runtime's default
-- kernel link, <appRoot>/kernels/default.kernel-arm64 (apple-container.md §5.3, KernelService.swift).
function M.kernel(info, readlink)
  readlink = readlink or function(path) return require("luv").fs_readlink(path) end
  local expected = info.features.kernel_default
  local app_root = info.status and info.status.app_root
  local fix = apple.HINTS.nf_tables
  if not app_root then
    return check("kernel", "ok", ("a fresh install of container %s uses kernel %s (with nf_tables); the installed default "
      .. "kernel could not be read (no appRoot in `container system status`): a Mac upgraded from 0.8.0 or older "
      .. "keeps the 6.12 kernel"):format(info.version, expected), fix)
  end
  local link = app_root:gsub("/+$", "") .. "/kernels/default.kernel-arm64"
  local target = readlink(link)
  local release = M.kernel_release(target)
  if not target then
    return check("kernel", "ok", ("a fresh install of container %s uses kernel %s (with nf_tables); %s does not exist "
      .. "here, so the installed kernel is unknown: a Mac upgraded from 0.8.0 or older keeps the 6.12 kernel"):format(
      info.version, expected, link), fix)
  end
  if not release then
    return check("kernel", "warn", ("the default kernel %s is not one of Apple's (vmlinux-X.Y.Z-N): kina cannot tell "
      .. "whether it has nf_tables, which kindest/node's iptables needs"):format(target), fix)
  end
  -- 6.12.28 (Kata 3.17.0, container ≤ 0.8.0) lacks NF_TABLES; the 6.18 kernels have it (§5.3)
  if core.compare_versions(release, "6.18.0") < 0 then
    return check("kernel", "fail", ("the default kernel is %s (%s), which lacks nf_tables: kindest/node's iptables fails "
      .. "(apple/container#2120); container %s installs %s on a fresh Mac"):format(release, target, info.version, expected), fix)
  end
  return check("kernel", "ok", ("the default kernel is %s (with nf_tables)"):format(release))
end

---------------------------------------------------------------------------------------------
-- macOS and Local Network

function M.macos(info)
  if info.macos == 15 then
    return check("macos", "warn", "macOS 15: single-node clusters only, and no networks other than the default",
      apple.HINTS.network_needs_macos26)
  elseif info.macos == 26 then
    return check("macos", "ok", "macOS 26: multi-node clusters and networks work")
  end
  return check("macos", "warn", "the macOS generation is not known: the services are not running", apple.HINTS.service_not_running)
end

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

M.PROBE_TIMEOUT = 2
M.API_SERVER_PORT = 6443 -- kubeadm's default in kina's nodes (kind §2.3)

--- The Local Network check (macOS 26 blocks the host's connections to containers until the user
-- allows it). opts: `nodes` (the provider's list), `cluster` (only its nodes), `probe(ip, port,
-- timeout)` (default M.tcp_probe).
function M.local_network(info, opts)
  opts = opts or {}
  if info.macos ~= 26 then
    return check("local_network", "ok", "not needed: Local Network permission is a macOS 26 matter")
  end
  local target
  for _, n in ipairs(opts.nodes or {}) do
    if n.state == "running" and n.ip and n.role == "control-plane" and (opts.cluster == nil or n.cluster == opts.cluster) then
      target = n
      break
    end
  end
  if not target then return check("local_network", "ok", "no running node to probe") end
  local ip = target.ip:gsub("/%d+$", "")
  local probe = opts.probe or M.tcp_probe
  local ok, err = probe(ip, M.API_SERVER_PORT, M.PROBE_TIMEOUT)
  if ok then
    return check("local_network", "ok", ("this Mac reaches node %s at %s:%d"):format(target.name, ip, M.API_SERVER_PORT))
  end
  -- the permission is the usual cause; a runtime whose networking died after an upgrade (1.3.1,
  -- updates-2026-12 §1) looks the same from here
  return check("local_network", "fail", ("this Mac cannot reach node %s at %s:%d (%s)"):format(
    target.name, ip, M.API_SERVER_PORT, tostring(err)), apple.HINTS.local_network
    .. " If it is allowed and Apple's runtime was upgraded since the node started, restart its services: "
    .. "`container system stop && container system start`, then `kina start cluster`.")
end

---------------------------------------------------------------------------------------------
-- Known runtime problems by version (updates-2026-12 §1; apple-container.md §1 "1.2.0")

M.KNOWN_ISSUES = {
  { from = "1.2.0", to = "1.2.0", status = "fail", name = "issue_readonly_proc_sys",
    message = "container 1.2.0 makes /proc/sys read-only in every container (apple/container#2041): kind nodes cannot boot",
    hint = apple.HINTS.readonly_sysctl },
  { from = "1.2.2", to = "1.3.1", status = "warn", name = "issue_2120",
    message = "apple/container#2120 (reported on 1.2.2 and 1.3.1): iptables-nft fails while a node bootstraps "
      .. "(\"Could not fetch rule set generation id\")",
    hint = apple.HINTS.nf_tables },
  { from = "1.3.1", to = "1.3.1", status = "warn", name = "networking_after_upgrade",
    message = "after upgrading to container 1.3.1 users found container networking dead (third-party reports, "
      .. "updates-2026-12 §1)",
    hint = "if nodes cannot be reached or cannot reach each other after the upgrade, restart the services: "
      .. "`container system stop && container system start`." },
  { from = "1.3.1", to = "1.4.1", status = "warn", name = "issue_2245",
    message = "apple/container#2245 (reported on 1.3.1 and 1.4.1): TCP between containers stalls when the sender "
      .. "uses TCP segmentation offload (frames above the MTU without GSO metadata)",
    hint = "if uploads between nodes stall, disable TSO on the sending node's interface (`ethtool -K eth0 tso off`)." },
}

function M.known_issues(version)
  local out = {}
  for _, issue in ipairs(M.KNOWN_ISSUES) do
    if core.compare_versions(version, issue.from) >= 0 and core.compare_versions(version, issue.to) <= 0 then
      out[#out + 1] = check(issue.name, issue.status, issue.message, issue.hint)
    end
  end
  if #out == 0 then out[1] = check("known_issues", "ok", ("no known runtime problem of container %s"):format(version)) end
  return out
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
function M.memory(model, host_bytes)
  local need = 0
  for _, n in ipairs(model.nodes) do need = need + M.bytes(n.memory) end
  local what = ("%d node(s) ask for %s"):format(#model.nodes, gib(need))
  if not host_bytes then return check("memory", "warn", what .. "; the host's memory could not be read") end
  -- memory given to a node VM is not returned to macOS while it runs (defaults.lua, apple §6)
  if need > host_bytes then
    return check("memory", "fail", ("%s; this host has %s"):format(what, gib(host_bytes)),
      "lower `memory` per node or cluster in the config, or create fewer nodes.")
  elseif need > host_bytes * 3 / 4 then
    return check("memory", "warn", ("%s of this host's %s: little is left for macOS"):format(what, gib(host_bytes)),
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
    if not is_provider_error(err) then error(err, 0) end
    local msg, hint = parts(err)
    return check("ports", "fail", msg, hint, err)
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
  local checks, info = M.runtime(provider)
  local function add(c) checks[#checks + 1] = c end
  -- the kernel, macOS, Local Network and known-release checks are about Apple's runtime
  if info and provider.name == "apple" then
    add(M.kernel(info, opts.readlink))
    add(M.macos(info))
    if info.service_running then
      local ok, nodes = pcall(provider.list, provider)
      if ok then add(M.local_network(info, { nodes = nodes, cluster = opts.cluster, probe = opts.probe }))
      else
        local msg, hint = parts(nodes)
        add(check("local_network", "warn", "kina's nodes could not be listed: " .. msg, hint))
      end
    end
    for _, c in ipairs(M.known_issues(info.version)) do add(c) end
  end
  if opts.model then
    add(M.memory(opts.model, M.host_memory(sched)))
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
