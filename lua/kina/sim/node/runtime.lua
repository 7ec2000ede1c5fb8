--- kina.sim.node.runtime — the node VM's system commands: sysctl, iptables, systemctl,
-- journalctl and pgrep (containerd, ctr and crictl are kina.sim.node.containerd). Per-boot
-- state (sysctls, services, iptables rules, journal) is in the node's runtime record.
local rootfs = require("kina.sim.node.rootfs")

local R = {}

-- sysctl --------------------------------------------------------------------------------------

-- Kernel defaults of the node VM (oracle: a fresh network namespace on kernel 6.18 reads
-- somaxconn 4096, rp_filter 0, forwarding 0, route_localnet 0; bridge-nf-call-* 1 where
-- br_netfilter is built in), then what boot changes: Apple's runtime sets vm.overcommit_memory
-- and vm.max_map_count from 1.2.1 (reference §5.2), systemd-sysctl applies kind's
-- /etc/sysctl.d files unless /proc/sys is read-only (rt.sysctl_boot, set at boot).
local function sysctl_defaults(n)
  local kernel = n.rec.kernel or n.node.kernel_release(n:version())
  local d = {
    ["net.ipv4.ip_forward"] = "0",
    ["net.ipv6.conf.all.forwarding"] = "0",
    ["net.ipv4.conf.all.route_localnet"] = "0",
    ["net.ipv4.conf.all.rp_filter"] = "0",
    ["net.ipv4.conf.default.rp_filter"] = "0",
    ["net.ipv4.conf.all.arp_ignore"] = "0",
    ["net.core.somaxconn"] = "4096",
    ["net.netfilter.nf_conntrack_max"] = "131072",
    ["fs.inotify.max_user_watches"] = "61540",
    ["fs.inotify.max_user_instances"] = "128",
    ["kernel.panic"] = "0",
    ["kernel.panic_on_oops"] = "1",
    ["vm.overcommit_memory"] = "0",
    ["vm.max_map_count"] = "65530",
    ["vm.panic_on_oom"] = "0",
    ["kernel.keys.root_maxkeys"] = "1000000",
    ["kernel.keys.root_maxbytes"] = "25000000",
  }
  if kernel ~= "6.12.28" then -- br_netfilter is built into the 6.18 Kata kernels only
    d["net.bridge.bridge-nf-call-iptables"] = "1"
    d["net.bridge.bridge-nf-call-ip6tables"] = "1"
  end
  if n.node.compare_versions(n:version(), "1.2.1") >= 0 then -- set by the runtime from 1.2.1
    d["vm.overcommit_memory"] = "1"
    d["vm.max_map_count"] = "262144"
  end
  return d
end

local function sysctl_get(n, key)
  key = key:gsub("/", ".")
  local defaults = sysctl_defaults(n)
  if defaults[key] == nil then return nil end
  local rt = n:runtime()
  return rt.sysctl[key] or (rt.sysctl_boot or {})[key] or defaults[key]
end

-- Returns true, or nil + "enoent"|"readonly".
local function sysctl_set(n, key, value)
  key = key:gsub("/", ".")
  if sysctl_defaults(n)[key] == nil then return nil, "enoent" end
  if n.rec.readonly_proc_sys then return nil, "readonly" end
  n:runtime().sysctl[key] = value
  return true
end

--- The keys systemd-sysctl sets at boot from the node's /etc/sysctl.d/*.conf (file order, then
-- line order; `-` prefixes and comments ignored), or {} when /proc/sys is read-only.
function R.sysctl_at_boot(n)
  local values = {}
  if n.rec.readonly_proc_sys then return values end
  local defaults = sysctl_defaults(n)
  for _, f in ipairs(rootfs.list(n.root, "/etc/sysctl.d") or {}) do
    if f:match("%.conf$") then
      for line in (rootfs.read(n.root, "/etc/sysctl.d/" .. f) or ""):gmatch("[^\n]+") do
        local k, v = line:match("^%s*%-?([%w%._/%-]+)%s*=%s*(.-)%s*$")
        if k and not line:match("^%s*[#;]") then
          k = k:gsub("/", ".")
          if defaults[k] ~= nil then values[k] = v end
        end
      end
    end
  end
  return values
end

local function install_sysctl(commands)
  commands.__sysctl_read = function(n, key) return sysctl_get(n, key) end

  -- `echo 1 > /proc/sys/...` from the shell: a writer that stores the value on close.
  commands.__proc_sys_writer = function(n, path)
    local key = path:sub(11):gsub("/", ".")
    if sysctl_defaults(n)[key] == nil or n.rec.readonly_proc_sys then return nil end
    local buf = {}
    return {
      write = function(_, s) buf[#buf + 1] = s; return true end,
      close = function()
        sysctl_set(n, key, (table.concat(buf):gsub("%s+$", "")))
      end,
    }
  end

  -- procps-ng sysctl (oracle, procps 4.0.2 and 4.0.7 alike): a missing key or a read-only
  -- /proc/sys exits 1; the other keys of the command line are still handled; -e hides
  -- missing keys.
  function commands.sysctl(n, argv)
    local write, quiet, values, ignore, show = false, false, false, false, {}
    for i = 2, #argv do
      local a = argv[i]
      if a == "-w" or a == "--write" then write = true
      elseif a == "-n" or a == "--values" then values = true
      elseif a == "-q" or a == "--quiet" then quiet = true
      elseif a == "-e" or a == "--ignore" then ignore = true
      elseif a == "--version" or a == "-V" then n:out("sysctl from procps-ng 4.0.4\n"); return 0
      elseif a == "-a" or a == "--all" then
        local d = sysctl_defaults(n)
        local keys = {}
        for k in pairs(d) do keys[#keys + 1] = k end
        table.sort(keys)
        for _, k in ipairs(keys) do n:out(k .. " = " .. sysctl_get(n, k) .. "\n") end
        return 0
      elseif a:sub(1, 1) == "-" then
        n:err("sysctl: invalid option -- '" .. a:sub(2, 2) .. "'\n"); return 1
      else show[#show + 1] = a end
    end
    if #show == 0 then n:err("sysctl: no variables specified\nTry `sysctl --help' for more information.\n"); return 1 end
    local status = 0
    for _, item in ipairs(show) do
      local key, value = item:match("^([^=]+)=(.*)$")
      if write or key then
        if not key then
          n:err('sysctl: "' .. item .. '" must be of the form name=value\n'); status = 1
        else
          key = key:gsub("%s+$", "")
          value = value:gsub("^%s+", "")
          local ok, why = sysctl_set(n, key, value)
          if ok then
            if not quiet then n:out(values and (value .. "\n") or (key .. " = " .. value .. "\n")) end
          elseif why == "readonly" then
            n:err('sysctl: permission denied on key "' .. key .. '"\n'); status = 1
          elseif not ignore then
            n:err("sysctl: cannot stat /proc/sys/" .. key:gsub("%.", "/") .. ": No such file or directory\n"); status = 1
          end
        end
      else
        local v = sysctl_get(n, item)
        if v then
          n:out(values and (v .. "\n") or (item .. " = " .. v .. "\n"))
        elseif not ignore then
          n:err("sysctl: cannot stat /proc/sys/" .. item:gsub("%.", "/") .. ": No such file or directory\n"); status = 1
        end
      end
    end
    return status
  end
end

-- iptables ------------------------------------------------------------------------------------
-- iptables 1.8.9 (bookworm) / 1.8.11 (trixie) per the node's release; texts from the oracle
-- (iptables 1.8.9 and 1.8.13 print the same, versions aside).

local TABLES = {
  filter = { "INPUT", "FORWARD", "OUTPUT" },
  nat = { "PREROUTING", "INPUT", "OUTPUT", "POSTROUTING" },
  mangle = { "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING" },
  raw = { "PREROUTING", "OUTPUT" },
  security = { "INPUT", "FORWARD", "OUTPUT" },
}

-- `iptables` is the alternative the entrypoint's select_iptables set at boot (rt.iptables_mode,
-- "legacy" when neither backend had rules, as on every boot of an Apple VM).
local function iptables_backend(n, name)
  if name:match("%-nft$") then return "nf_tables" end
  if name:match("%-legacy$") then return "legacy" end
  return n:runtime().iptables_mode == "nft" and "nf_tables" or "legacy"
end

-- The rule as `-S` prints it (and -C/-D compare it): a protocol's implicit match loaded by its
-- options is shown as `-m tcp` right after `-p tcp` (oracle).
local PROTO_OPTIONS = { ["--tcp-flags"] = "tcp", ["--syn"] = "tcp", ["--dport"] = true, ["--sport"] = true,
  ["--destination-port"] = true, ["--source-port"] = true, ["--tcp-option"] = "tcp" }
local function canonical(words)
  local out, proto, has_match, at = {}, nil, false, nil
  for i, w in ipairs(words) do
    if (w == "-p" or w == "--protocol") and words[i + 1] then proto = words[i + 1] end
    if w == "-m" and words[i + 1] == proto then has_match = true end
  end
  local needs = false
  for _, w in ipairs(words) do if PROTO_OPTIONS[w] then needs = true end end
  local i = 1
  while i <= #words do
    local w = words[i]
    if w == "--protocol" then w = "-p" end
    if w == "--jump" then w = "-j" end
    out[#out + 1] = w
    if w == "-p" and words[i + 1] then
      out[#out + 1] = words[i + 1]
      at = #out
      i = i + 1
    end
    i = i + 1
  end
  if needs and proto and (proto == "tcp" or proto == "udp") and not has_match and at then
    table.insert(out, at + 1, "-m")
    table.insert(out, at + 2, proto)
  end
  return table.concat(out, " ")
end

local function install_iptables(commands)
  local function iptables(n, argv)
    local name = argv[1]:match("([^/]+)$")
    local backend = iptables_backend(n, name)
    local family = name:match("^ip6") and "ip6tables" or "iptables"
    local version = "v" .. n:release().debian.iptables
    local prog = family .. " " .. version .. " (" .. backend .. ")"
    local plain = family .. ": "
    if argv[2] == "--version" or argv[2] == "-V" then n:out(prog .. "\n"); return 0 end
    local kernel = n.rec.kernel or n.node.kernel_release(n:version())
    if backend == "nf_tables" and kernel == "6.12.28" then
      n:err(prog .. ": Could not fetch rule set generation id: Invalid argument\n")
      return 4
    end
    local tbl = "filter"
    local action, chain, rest = nil, nil, {}
    local i = 2
    while i <= #argv do
      local a = argv[i]
      if a == "-t" or a == "--table" then tbl = argv[i + 1]; i = i + 2
      elseif a == "-w" or a == "--wait" then
        i = i + 1
        if argv[i] and argv[i]:match("^%d+$") then i = i + 1 end
      elseif a == "-W" then i = i + 2
      elseif a:match("^%-[AIDNXFZLSCP]$") or a == "--append" or a == "--insert" or a == "--delete"
        or a == "--new-chain" or a == "--delete-chain" or a == "--flush" or a == "--list" or a == "--list-rules" or a == "--check" or a == "--policy" then
        local long = { ["--append"] = "-A", ["--insert"] = "-I", ["--delete"] = "-D", ["--new-chain"] = "-N",
          ["--delete-chain"] = "-X", ["--flush"] = "-F", ["--list"] = "-L", ["--list-rules"] = "-S", ["--check"] = "-C", ["--policy"] = "-P" }
        if action then n:err(prog .. ": Cannot use -" .. action:sub(2) .. " with -" .. (long[a] or a):sub(2) .. "\n"); return 2 end
        action = long[a] or a
        if argv[i + 1] and argv[i + 1]:sub(1, 1) ~= "-" then chain = argv[i + 1]; i = i + 2 else i = i + 1 end
      elseif a == "-n" or a == "-v" or a == "--numeric" or a == "--line-numbers" or a == "-x" then
        i = i + 1
      else
        rest[#rest + 1] = a; i = i + 1
      end
    end
    if not n.rec.caps_all and n.node.compare_versions(n:version(), "0.12.0") >= 0 then
      -- no CAP_NET_ADMIN in the OCI default capability set
      if backend == "legacy" then
        n:err(prog .. ": can't initialize " .. family .. " table `" .. tbl .. "': Permission denied (you must be root)\nPerhaps " .. family .. " or your kernel needs to be upgraded.\n")
        return 3
      end
      n:err(prog .. ": Could not fetch rule set generation id: Permission denied (you must be root)\n")
      return 4
    end
    if not TABLES[tbl] then
      n:err(prog .. ": can't initialize " .. family .. " table `" .. tbl .. "': Table does not exist (do you need to insmod?)\nPerhaps " .. family .. " or your kernel needs to be upgraded.\n")
      return 3
    end
    if not action then
      n:err(prog .. ": no command specified\nTry `" .. family .. " -h' or '" .. family .. " --help' for more information.\n")
      return 2
    end
    local rt = n:runtime()
    local key = family .. "/" .. backend .. "/" .. tbl
    local st = rt.iptables[key] or { chains = {}, rules = {} }
    rt.iptables[key] = st
    st.chains = st.chains or {}
    st.rules = st.rules or {}
    local builtin = {}
    for _, c in ipairs(TABLES[tbl]) do builtin[c] = true end
    local function exists(c) return builtin[c] or st.chains[c] end
    local spec = canonical(rest)
    if action == "-A" or action == "-I" or action == "-D" or action == "-C" then
      if not chain or not exists(chain) then
        n:err(plain .. "No chain/target/match by that name.\n")
        return 1
      end
      local target = spec:match("%-j%s+(%S+)")
      local known_targets = { ACCEPT = true, DROP = true, RETURN = true, REJECT = true, MASQUERADE = true, SNAT = true,
        DNAT = true, TCPMSS = true, MARK = true, CONNMARK = true, LOG = true, NOTRACK = true, CT = true, REDIRECT = true }
      if target and not known_targets[target] and not exists(target) then
        n:err(plain .. "No chain/target/match by that name.\n")
        return 1
      end
      if target == "TCPMSS" and not (spec:find("--set-mss", 1, true) or spec:find("--clamp-mss-to-pmtu", 1, true)) then
        n:err(prog .. ": TCPMSS target: At least one parameter is required\nTry `" .. family .. " -h' or '" .. family .. " --help' for more information.\n")
        return 2
      end
      local rule = "-A " .. chain .. (spec ~= "" and (" " .. spec) or "")
      local found
      for idx, r in ipairs(st.rules) do if r == rule then found = idx; break end end
      if action == "-A" then st.rules[#st.rules + 1] = rule
      elseif action == "-I" then table.insert(st.rules, 1, rule)
      else
        if not found then
          n:err(plain .. "Bad rule (does a matching rule exist in that chain?).\n")
          return 1
        end
        if action == "-D" then table.remove(st.rules, found) end
      end
      return 0
    elseif action == "-N" then
      if exists(chain) then n:err(plain .. "Chain already exists.\n"); return 1 end
      st.chains[chain] = true
      return 0
    elseif action == "-X" then
      if chain then st.chains[chain] = nil end
      return 0
    elseif action == "-F" then
      local keep = {}
      for _, r in ipairs(st.rules) do
        if chain and r:match("^%-A (%S+)") ~= chain then keep[#keep + 1] = r end
      end
      st.rules = chain and keep or {}
      return 0
    elseif action == "-P" then
      return 0
    elseif action == "-S" or action == "-L" then
      if backend == "nf_tables" then
        for k, t in pairs(rt.iptables) do
          if k:match("^" .. family .. "/legacy/") and t.rules and #t.rules + (next(t.chains or {}) and 1 or 0) > 0 then
            n:err("# Warning: iptables-legacy tables present, use iptables-legacy to see them\n")
            break
          end
        end
      end
      -- chains in the table's order, user chains after them (sorted); each chain's rules in
      -- the order they were added (oracle: FORWARD's rule before OUTPUT's)
      local order = {}
      for _, c in ipairs(TABLES[tbl]) do order[#order + 1] = c end
      local customs = {}
      for c in pairs(st.chains) do customs[#customs + 1] = c end
      table.sort(customs)
      for _, c in ipairs(customs) do order[#order + 1] = c end
      if action == "-S" then
        for _, c in ipairs(TABLES[tbl]) do if not chain or chain == c then n:out("-P " .. c .. " ACCEPT\n") end end
        for _, c in ipairs(customs) do if not chain or chain == c then n:out("-N " .. c .. "\n") end end
        for _, c in ipairs(order) do
          if not chain or chain == c then
            for _, r in ipairs(st.rules) do if r:match("^%-A (%S+)") == c then n:out(r .. "\n") end end
          end
        end
      else
        for _, c in ipairs(order) do
          if not chain or chain == c then
            n:out("Chain " .. c .. (builtin[c] and " (policy ACCEPT)" or " (0 references)") .. "\ntarget     prot opt source               destination         \n")
            for _, r in ipairs(st.rules) do
              if r:match("^%-A (%S+)") == c then n:out((r:match("%-j%s+(%S+)") or "") .. "  all  --  anywhere             anywhere            " .. r .. "\n") end
            end
            n:out("\n")
          end
        end
      end
      return 0
    end
    return 0
  end
  commands.iptables = iptables
  commands["iptables-nft"] = iptables
  commands["iptables-legacy"] = iptables
  commands.ip6tables = iptables
  commands["ip6tables-nft"] = iptables
  commands["ip6tables-legacy"] = iptables
end

-- systemd -------------------------------------------------------------------------------------

-- kind images/base/files/etc/systemd/system/*.service Description= lines
local UNIT_DESCRIPTIONS = {
  containerd = "containerd container runtime",
  kubelet = "kubelet: The Kubernetes Node Agent",
  ["containerd-fuse-overlayfs"] = "containerd fuse-overlayfs snapshotter",
  ["undo-mount-hacks"] = "Undo KIND mount hacks",
}

-- The journal: what the runtime record holds (systemd's and the services' own lines, each
-- with its process), as journalctl's short format prints it.
local function journal_entries(n, unit)
  if n:booted() then n:service_state("containerd") end -- records the boot-time start
  local entries = {}
  for i, e in ipairs(n:runtime().journal) do entries[#entries + 1] = { t = e.t, unit = e.unit, msg = e.msg, proc = e.proc, i = i } end
  table.sort(entries, function(a, b) if a.t ~= b.t then return a.t < b.t end return a.i < b.i end)
  local host = n:hostname()
  local pids = { containerd = "containerd[142]", kubelet = "kubelet[201]", kernel = "kernel" }
  local out = {}
  for _, e in ipairs(entries) do
    if not unit or e.unit == unit then
      local proc = e.proc and (pids[e.proc] or e.proc) or "systemd[1]"
      out[#out + 1] = os.date("!%b %d %H:%M:%S", math.floor(e.t)) .. " " .. host .. " " .. proc .. ": " .. e.msg
    end
  end
  return out
end

local function install_systemd(commands)
  function commands.systemctl(n, argv)
    local verb, units = nil, {}
    for i = 2, #argv do
      local a = argv[i]
      if a:sub(1, 1) == "-" then
        if a ~= "--no-pager" and a ~= "-q" and a ~= "--quiet" and a ~= "--no-block" and a ~= "-l" and a ~= "--full" then
          n:err("systemctl: unrecognized option '" .. a .. "'\n"); return 1
        end
      elseif not verb then verb = a
      else units[#units + 1] = (a:gsub("%.service$", "")) end
    end
    if not verb then n:err("Too few arguments.\n"); return 1 end
    local quiet = false
    for i = 2, #argv do if argv[i] == "-q" or argv[i] == "--quiet" then quiet = true end end
    if verb == "is-system-running" then
      local s = n:booted() and "running" or "starting"
      if not quiet then n:out(s .. "\n") end
      return s == "running" and 0 or 1
    end
    if verb == "daemon-reload" then return 0 end
    if #units == 0 then n:err("Too few arguments.\n"); return 1 end
    local rt = n:runtime()
    if verb == "is-active" then
      local worst = 0
      for _, u in ipairs(units) do
        local s = n:service_state(u) or "inactive"
        if not quiet then n:out(s .. "\n") end
        if s ~= "active" then worst = 3 end
      end
      return worst
    elseif verb == "is-enabled" then
      for _, u in ipairs(units) do
        if not UNIT_DESCRIPTIONS[u] then n:err("Failed to get unit file state for " .. u .. ".service: No such file or directory\n"); return 1 end
        if not quiet then n:out("enabled\n") end
      end
      return 0
    elseif verb == "start" or verb == "restart" or verb == "stop" or verb == "reload" or verb == "enable" or verb == "disable" then
      for _, u in ipairs(units) do
        if not UNIT_DESCRIPTIONS[u] then
          local word = ({ start = "start", restart = "restart", stop = "stop", reload = "reload", enable = "enable", disable = "disable" })[verb]
          if verb == "enable" or verb == "disable" then
            n:err("Failed to " .. word .. " unit: Unit file " .. u .. ".service does not exist.\n")
          else
            n:err("Failed to " .. word .. " " .. u .. ".service: Unit " .. u .. ".service not found.\n")
          end
          return 5
        end
      end
      if verb == "enable" or verb == "disable" then return 0 end
      if not n:booted() then
        n:err("System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n")
        return 1
      end
      local containerd = require("kina.sim.node.containerd")
      for _, u in ipairs(units) do
        local desc = u .. ".service - " .. UNIT_DESCRIPTIONS[u]
        if u == "containerd" then
          n:service_state("containerd") -- the boot-time start comes first
          if verb == "stop" or verb == "restart" then containerd.stop(n, n:now()) end
          if verb == "start" or verb == "restart" or verb == "reload" then
            if not containerd.start(n, n:now()) then
              -- Type=notify: the job fails when the daemon exits before READY=1
              n:err("Job for containerd.service failed because the control process exited with error code.\n"
                .. "See \"systemctl status containerd.service\" and \"journalctl -xeu containerd.service\" for details.\n")
              return 1
            end
          end
        else
          if verb == "stop" or verb == "restart" then
            if n:service_state(u) ~= "inactive" then
              n:journal(u, "Stopping " .. desc .. "...")
              n:journal(u, "Stopped " .. desc .. ".")
            end
            rt.services[u] = "inactive"
          end
          if verb == "start" or verb == "restart" or verb == "reload" then
            rt.services[u] = nil
            if u == "kubelet" and not rootfs.is_file(n.root, "/var/lib/kubelet/config.yaml") then
              -- kubelet.service: ConditionPathExists=/var/lib/kubelet/config.yaml
              n:journal(u, desc .. " was skipped because of an unmet condition check (ConditionPathExists=/var/lib/kubelet/config.yaml).")
              rt.services[u] = "inactive"
            else
              n:journal(u, "Started " .. desc .. ".")
              rt.services[u] = "active"
            end
          end
        end
      end
      return 0
    elseif verb == "status" then
      local code = 0
      for _, u in ipairs(units) do
        if not UNIT_DESCRIPTIONS[u] then
          n:err("Unit " .. u .. ".service could not be found.\n"); return 4
        end
        local s = n:service_state(u) or "inactive"
        local shown = s == "active" and "active (running)" or (s == "activating" and "activating (auto-restart) (Result: exit-code)" or "inactive (dead)")
        if u == "kubelet" and s == "inactive" and not rootfs.is_file(n.root, "/var/lib/kubelet/config.yaml") then
          shown = "inactive (dead)\n  Condition: start condition unmet\n             └─ ConditionPathExists=/var/lib/kubelet/config.yaml was not met"
        end
        n:out((s == "active" and "● " or "○ ") .. u .. ".service - " .. UNIT_DESCRIPTIONS[u] .. "\n")
        n:out("     Loaded: loaded (/etc/systemd/system/" .. u .. ".service; enabled; preset: enabled)\n")
        n:out("     Active: " .. shown .. "\n\n")
        for _, line in ipairs(journal_entries(n, u)) do n:out(line .. "\n") end
        if s ~= "active" then code = 3 end
      end
      return code
    end
    n:err("Unknown command verb " .. verb .. ".\n")
    return 1
  end

  function commands.journalctl(n, argv)
    local unit, lines
    local i = 2
    while i <= #argv do
      local a = argv[i]
      if a == "-u" or a == "--unit" then unit = argv[i + 1]; i = i + 2
      elseif a:match("^%-%-unit=") then unit = a:match("=(.*)"); i = i + 1
      elseif a == "-n" or a == "--lines" then lines = tonumber(argv[i + 1]); i = i + 2
      elseif a:match("^%-%-lines=") then lines = tonumber(a:match("=(.*)")); i = i + 1
      elseif a == "--no-pager" or a == "-a" or a == "--all" or a == "-b" or a == "-l" or a == "--full" or a == "-q" then i = i + 1
      else n:err("journalctl: unrecognized option '" .. a .. "'\n"); return 1 end
    end
    if unit then unit = unit:gsub("%.service$", "") end
    local out = journal_entries(n, unit)
    if lines and lines < #out then
      local tail = {}
      for k = #out - lines + 1, #out do tail[#tail + 1] = out[k] end
      out = tail
    end
    if #out == 0 then n:out("-- No entries --\n") end
    for _, l in ipairs(out) do n:out(l .. "\n") end
    return 0
  end

  function commands.pgrep(n, argv)
    local name
    for i = 2, #argv do if argv[i]:sub(1, 1) ~= "-" then name = argv[i] end end
    if not name then n:err("pgrep: no matching criteria specified\nTry `pgrep --help' for more information.\n"); return 2 end
    local pids = { containerd = 142, kubelet = 201, systemd = 1 }
    local state = name == "systemd" and "active" or n:service_state(name)
    if state == "active" and pids[name] then n:out(pids[name] .. "\n"); return 0 end
    return 1
  end

  commands.__journal_entries = journal_entries
end

--- Add the runtime commands to `commands` (command contexts reach kina.sim.node as n.node).
function R.install(commands)
  for _, install in ipairs({ install_sysctl, install_iptables, install_systemd }) do install(commands) end
  require("kina.sim.node.containerd").install(commands)
end

return R
