--- kina.doctor.apple — what `kina doctor` checks on Apple's runtime (the provider names this
-- module in its `doctor` field): the CLI and its version, the services, client and server
-- versions, the default kernel, macOS's generation, Local Network permission, known problems of
-- the release. The facts (versions, texts, hints) are the provider's (kina.provider.apple) and
-- the C core's (kina.core.apple features); this module arranges them into kina.doctor's checks.

local apple = require "kina.provider.apple"
local core = require "kina.core.apple"
local doctor = require "kina.doctor"

local M = {}

local check, parts, copy, verdict, failure = doctor.check, doctor.error_parts, doctor.copy, doctor.verdict, doctor.failure

--- The runtime checks create needs too: cli, version, services, server_version. Returns the
-- checks and the provider's info (nil when the CLI or its status could not be read).
function M.runtime(provider)
  local cli, version = doctor.cli(provider, function(v) return ("Apple's container CLI %s (%s)"):format(v, provider.binary) end)
  local checks = { cli }
  if not version then return checks, nil end
  local ok, info = pcall(provider.info, provider)
  if not ok then
    checks[#checks + 1] = failure("services", info)
    return checks, nil
  end
  -- the version, judged as if the services ran
  local running = copy(info)
  running.service_running = true
  local vok, vinfo, warnings = verdict(provider, running)
  if not vok then
    checks[#checks + 1] = failure("version", vinfo)
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
    checks[#checks + 1] = failure("services", serr)
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

M.PROBE_TIMEOUT = 2
M.API_SERVER_PORT = 6443 -- kubeadm's default in kina's nodes (kind §2.3)

--- The Local Network check (macOS 26 blocks the host's connections to containers until the user
-- allows it). opts: `nodes` (the provider's list), `cluster` (only its nodes), `probe(ip, port,
-- timeout)` (default kina.doctor.tcp_probe).
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
  local probe = opts.probe or doctor.tcp_probe
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
-- All of it

--- The checks of this Mac beyond the runtime's: kernel, macOS, Local Network (probing a running
-- node of opts.cluster), known problems of the release. opts: readlink, cluster, probe.
function M.machine(provider, info, opts)
  local out = {}
  out[#out + 1] = M.kernel(info, opts.readlink)
  out[#out + 1] = M.macos(info)
  if info.service_running then
    local ok, nodes = pcall(provider.list, provider)
    if ok then out[#out + 1] = M.local_network(info, { nodes = nodes, cluster = opts.cluster, probe = opts.probe })
    else
      local msg, hint = parts(nodes)
      out[#out + 1] = check("local_network", "warn", "kina's nodes could not be listed: " .. msg, hint)
    end
  end
  for _, c in ipairs(M.known_issues(info.version)) do out[#out + 1] = c end
  return out
end

return M
