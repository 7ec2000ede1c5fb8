--- kina.sim.node.runtime — the node VM's system commands: sysctl, iptables, systemctl,
-- journalctl, pgrep, containerd, ctr and crictl.  Per-boot state (sysctls, services,
-- iptables rules, journal) is in the node's runtime record; images persist in
-- /var/lib/kina-sim/images.json like containerd's content store.
local rootfs = require("kina.sim.node.rootfs")
local oci = require("kina.sim.oci")

local R = {}

local IPTABLES_VERSION = "v1.8.11"

-- sysctl --------------------------------------------------------------------------------------

local function sysctl_defaults(n)
  local kernel = n.rec.kernel or n.node.kernel_release(n:version())
  local d = {
    ["net.ipv4.ip_forward"] = "0",
    ["net.ipv6.conf.all.forwarding"] = "0",
    ["net.ipv4.conf.all.route_localnet"] = "0",
    ["net.ipv4.conf.all.rp_filter"] = "0",
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
  local v = n:runtime().sysctl[key]
  return v or defaults[key]
end

-- Returns true, or nil + "enoent"|"readonly".
local function sysctl_set(n, key, value)
  key = key:gsub("/", ".")
  if sysctl_defaults(n)[key] == nil then return nil, "enoent" end
  if n.rec.readonly_proc_sys then return nil, "readonly" end
  n:runtime().sysctl[key] = value
  return true
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

  function commands.sysctl(n, argv)
    local write, quiet, values, show = false, false, false, {}
    for i = 2, #argv do
      local a = argv[i]
      if a == "-w" or a == "--write" then write = true
      elseif a == "-n" or a == "--values" then values = true
      elseif a == "-q" or a == "--quiet" then quiet = true
      elseif a == "-e" or a == "--ignore" then -- ignore unknown keys: accepted
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
          n:err('sysctl: "' .. item .. '" must be of the form name=value\n'); status = 255
        else
          key = key:gsub("%s+$", "")
          value = value:gsub("^%s+", "")
          local ok, why = sysctl_set(n, key, value)
          if ok then
            if not quiet then n:out(values and (value .. "\n") or (key .. " = " .. value .. "\n")) end
          elseif why == "readonly" then
            n:err('sysctl: permission denied on key "' .. key .. '"\n'); status = 255
          else
            n:err("sysctl: cannot stat /proc/sys/" .. key:gsub("%.", "/") .. ": No such file or directory\n"); status = 255
          end
        end
      else
        local v = sysctl_get(n, item)
        if v then
          n:out(values and (v .. "\n") or (item .. " = " .. v .. "\n"))
        else
          n:err("sysctl: cannot stat /proc/sys/" .. item:gsub("%.", "/") .. ": No such file or directory\n"); status = 255
        end
      end
    end
    return status
  end
end

-- iptables ------------------------------------------------------------------------------------

local TABLES = {
  filter = { "INPUT", "FORWARD", "OUTPUT" },
  nat = { "PREROUTING", "INPUT", "OUTPUT", "POSTROUTING" },
  mangle = { "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING" },
  raw = { "PREROUTING", "OUTPUT" },
  security = { "INPUT", "FORWARD", "OUTPUT" },
}

local function iptables_backend(n, name)
  local kernel = n.rec.kernel or n.node.kernel_release(n:version())
  if name:match("%-nft$") then return "nf_tables" end
  if name:match("%-legacy$") then return "legacy" end
  -- kindest/node's entrypoint points the alternatives at legacy when nf_tables is unusable
  return kernel == "6.12.28" and "legacy" or "nf_tables"
end

local function install_iptables(commands)
  local function iptables(n, argv)
    local name = argv[1]:match("([^/]+)$")
    local backend = iptables_backend(n, name)
    local family = name:match("^ip6") and "ip6tables" or "iptables"
    local prog = family .. " " .. IPTABLES_VERSION .. " (" .. backend .. ")"
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
      elseif a:match("^%-[AIDNXFZLSCP]$") or a:match("^%-%-(append)$") or a:match("^%-%-(insert)$") or a:match("^%-%-(delete)$")
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
    local spec = table.concat(rest, " ")
    if action == "-A" or action == "-I" or action == "-D" or action == "-C" then
      if not chain or not exists(chain) then
        n:err(prog .. ": " .. (backend == "legacy" and "No chain/target/match by that name." or ("Chain '" .. tostring(chain) .. "' does not exist")) .. "\n")
        return 1
      end
      local target = spec:match("%-j%s+(%S+)") or spec:match("%-%-jump%s+(%S+)")
      local known_targets = { ACCEPT = true, DROP = true, RETURN = true, REJECT = true, MASQUERADE = true, SNAT = true,
        DNAT = true, TCPMSS = true, MARK = true, CONNMARK = true, LOG = true, NOTRACK = true, CT = true, REDIRECT = true }
      if target and not known_targets[target] and not exists(target) then
        n:err(prog .. ": " .. (backend == "legacy" and "Couldn't load target `" .. target .. "':No such file or directory" or ("Chain '" .. target .. "' does not exist")) .. "\n\nTry `" .. family .. " -h' or '" .. family .. " --help' for more information.\n")
        return 2
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
      elseif action == "-D" or action == "-C" then
        if not found then
          n:err(prog .. ": Bad rule (does a matching rule exist in that chain?).\n")
          return 1
        end
        if action == "-D" then table.remove(st.rules, found) end
      end
      return 0
    elseif action == "-N" then
      if exists(chain) then n:err(prog .. ": Chain already exists.\n"); return 1 end
      st.chains[chain] = true
      return 0
    elseif action == "-X" then
      if chain then st.chains[chain] = nil end
      return 0
    elseif action == "-F" then
      local keep = {}
      for _, r in ipairs(st.rules) do
        if chain and not r:match("^%-A " .. chain:gsub("%p", "%%%0") .. " ") and r ~= "-A " .. chain then keep[#keep + 1] = r end
      end
      st.rules = chain and keep or {}
      return 0
    elseif action == "-P" then
      return 0
    elseif action == "-S" or action == "-L" then
      if action == "-S" then
        for _, c in ipairs(TABLES[tbl]) do if not chain or chain == c then n:out("-P " .. c .. " ACCEPT\n") end end
        local customs = {}
        for c in pairs(st.chains) do customs[#customs + 1] = c end
        table.sort(customs)
        for _, c in ipairs(customs) do if not chain or chain == c then n:out("-N " .. c .. "\n") end end
        for _, r in ipairs(st.rules) do
          if not chain or r:match("^%-A (%S+)") == chain then n:out(r .. "\n") end
        end
      else
        for _, c in ipairs(TABLES[tbl]) do
          if not chain or chain == c then
            n:out("Chain " .. c .. " (policy ACCEPT)\ntarget     prot opt source               destination         \n")
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
end

-- systemd -------------------------------------------------------------------------------------

local UNIT_DESCRIPTIONS = {
  containerd = "containerd container runtime",
  kubelet = "kubelet: The Kubernetes Node Agent",
}

local function journal_entries(n, unit)
  local entries = {}
  local booted_at = n.node.boot_complete_at(n.rec, n.ctx.env)
  local host = n:hostname()
  local function add(t, u, msg) entries[#entries + 1] = { t = t, unit = u, msg = msg } end
  if n:now() >= booted_at then
    add(booted_at - 0.05, "containerd", "Starting containerd.service - containerd container runtime...")
    add(booted_at - 0.02, "containerd", "time=\"" .. os.date("!%Y-%m-%dT%H:%M:%S", math.floor(booted_at)) .. ".000000000Z\" level=info msg=\"containerd successfully booted in 0.041s\"")
    add(booted_at, "containerd", "Started containerd.service - containerd container runtime.")
    add(booted_at - 0.04, "kubelet", "Started kubelet.service - kubelet: The Kubernetes Node Agent.")
    if not rootfs.is_file(n.root, "/var/lib/kubelet/config.yaml") then
      add(booted_at, "kubelet", "E0000 00:00:00.000000     101 run.go:72] \"command failed\" err=\"failed to load kubelet config file, path: /var/lib/kubelet/config.yaml, error: failed to load Kubelet config file /var/lib/kubelet/config.yaml, error failed to read kubelet config file \\\"/var/lib/kubelet/config.yaml\\\", error: open /var/lib/kubelet/config.yaml: no such file or directory\"")
      add(booted_at, "kubelet", "kubelet.service: Main process exited, code=exited, status=1/FAILURE")
      add(booted_at, "kubelet", "kubelet.service: Failed with result 'exit-code'.")
    end
  end
  for _, e in ipairs(n:runtime().journal) do add(e.t, e.unit, e.msg) end
  table.sort(entries, function(a, b) return a.t < b.t end)
  local out = {}
  for _, e in ipairs(entries) do
    if not unit or e.unit == unit then
      local proc = (e.msg:match("^Start") or e.msg:match("^Stop") or e.msg:match("%.service:")) and "systemd[1]"
        or (e.unit == "containerd" and "containerd[142]" or "kubelet[" .. (e.unit == "kubelet" and "201" or "1") .. "]")
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
      for _, u in ipairs(units) do
        local desc = u .. ".service - " .. UNIT_DESCRIPTIONS[u]
        if verb == "stop" or verb == "restart" then
          if n:service_state(u) ~= "inactive" then
            n:journal(u, "Stopping " .. desc .. "...")
            n:journal(u, "Stopped " .. desc .. ".")
          end
          rt.services[u] = "inactive"
        end
        if verb == "start" or verb == "restart" or verb == "reload" then
          n:journal(u, "Starting " .. desc .. "...")
          rt.services[u] = nil
          if u == "kubelet" and not rootfs.is_file(n.root, "/var/lib/kubelet/config.yaml") then
            rt.services[u] = "activating"
          else
            n:journal(u, "Started " .. desc .. ".")
            rt.services[u] = "active"
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

-- containerd, ctr, crictl --------------------------------------------------------------------

local function effective_snapshotter(n)
  local snap = (n:read("/etc/containerd/config.toml") or ""):match("snapshotter%s*=%s*[\"']([^\"']+)[\"']") or "overlayfs"
  for _, f in ipairs(rootfs.list(n.root, "/etc/containerd/conf.d") or {}) do
    if f:match("%.toml$") then
      local s = (n:read("/etc/containerd/conf.d/" .. f) or ""):match("snapshotter%s*=%s*[\"']([^\"']+)[\"']")
      if s then snap = s end
    end
  end
  return snap
end

--- docker.io normalisation as containerd does it ("alpine" → "docker.io/library/alpine:latest").
function R.normalize_ref(ref)
  local name, rest = ref, ""
  local at = ref:find("@", 1, true)
  if at then name, rest = ref:sub(1, at - 1), ref:sub(at) end
  local first = name:match("^([^/]+)/")
  if not first or not (first:find("[.:]") or first == "localhost") then
    if not name:find("/", 1, true) then name = "library/" .. name end
    name = "docker.io/" .. name
  end
  local last = name:match("([^/]+)$")
  if not last:find(":", 1, true) and rest == "" then name = name .. ":latest" end
  return name .. rest
end

local function load_images(n)
  local st = n:state("images", { images = {} })
  st.images = st.images or {}
  return st
end

local function human_size(bytes)
  if bytes >= 1000 * 1000 then return string.format("%.1fMB", bytes / 1000 / 1000) end
  return string.format("%.1fkB", bytes / 1000)
end

local function containerd_down(n, prog)
  local msg = 'failed to dial "/run/containerd/containerd.sock": connection error: desc = "transport: error while dialing: dial unix /run/containerd/containerd.sock: connect: no such file or directory"'
  if prog == "ctr" then n:err("ctr: " .. msg .. "\n")
  else
    n:err('time="' .. os.date("!%Y-%m-%dT%H:%M:%SZ") .. '" level=fatal msg="validate service connection: validate CRI v1 image API for endpoint \\"unix:///run/containerd/containerd.sock\\": rpc error: code = Unavailable desc = connection error: desc = \\"transport: error while dialing: dial unix /run/containerd/containerd.sock: connect: no such file or directory\\""\n')
  end
  return 1
end

-- `containerd config dump`: the merged configuration (config.toml plus its conf.d imports) as
-- containerd 2.x prints it, through go-toml v2 — literal strings and quoted keys in single
-- quotes (`[plugins.'io.containerd.cri.v1.images']`, `snapshotter = 'overlayfs'`), tables
-- nested under [plugins] and indented. Only the settings a kindest/node has are shown.
local function config_dump(n)
  local imports = { "/etc/containerd/config.toml" }
  for _, f in ipairs(rootfs.list(n.root, "/etc/containerd/conf.d") or {}) do
    if f:match("%.toml$") then imports[#imports + 1] = "/etc/containerd/conf.d/" .. f end
  end
  local q = {}
  for i, f in ipairs(imports) do q[i] = "'" .. f .. "'" end
  local snap = effective_snapshotter(n)
  return table.concat({
    "version = 3",
    "root = '/var/lib/containerd'",
    "state = '/run/containerd'",
    "temp = ''",
    "disabled_plugins = []",
    "required_plugins = []",
    "oom_score = 0",
    "imports = [" .. table.concat(q, ", ") .. "]",
    "",
    "[grpc]",
    "  address = '/run/containerd/containerd.sock'",
    "  uid = 0",
    "  gid = 0",
    "  max_recv_message_size = 16777216",
    "  max_send_message_size = 16777216",
    "",
    "[plugins]",
    "  [plugins.'io.containerd.cri.v1.images']",
    "    snapshotter = '" .. snap .. "'",
    "    disable_snapshot_annotations = true",
    "    discard_unpacked_layers = false",
    "    max_concurrent_downloads = 3",
    "    image_pull_progress_timeout = '5m0s'",
    "",
    "    [plugins.'io.containerd.cri.v1.images'.pinned_images]",
    "      sandbox = 'registry.k8s.io/pause:3.10.1'",
    "",
    "  [plugins.'io.containerd.cri.v1.runtime']",
    "    enable_selinux = false",
    "",
    "    [plugins.'io.containerd.cri.v1.runtime'.containerd]",
    "      default_runtime_name = 'runc'",
    "",
    "      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes]",
    "        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
    "          runtime_type = 'io.containerd.runc.v2'",
    "          base_runtime_spec = '/etc/containerd/cri-base.json'",
    "",
    "          [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
    "            SystemdCgroup = true",
    "",
    "        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.test-handler]",
    "          runtime_type = 'io.containerd.runc.v2'",
    "",
  }, "\n")
end

local function install_containerd(commands)
  function commands.containerd(n, argv)
    if argv[2] == "config" and argv[3] == "dump" then
      n:out(config_dump(n))
      return 0
    elseif argv[2] == "--version" or argv[2] == "-v" then
      n:out("containerd github.com/containerd/containerd/v2 v2.2.1 dea7da592f5d1d2b7755e3a161be07f43fad8f75\n")
      return 0
    end
    n:err("containerd: a daemon is already running (use `containerd config dump` to read its configuration)\n")
    return 1
  end

  function commands.ctr(n, argv)
    local ns = "default"
    local i = 2
    while i <= #argv and argv[i]:sub(1, 1) == "-" do
      local a = argv[i]
      if a == "-n" or a == "--namespace" then ns = argv[i + 1]; i = i + 2
      elseif a:match("^%-%-namespace=") or a:match("^%-n=") then ns = a:match("=(.*)"); i = i + 1
      elseif a == "--address" or a == "-a" then i = i + 2
      elseif a == "--debug" then i = i + 1
      else n:err("Incorrect Usage: flag provided but not defined: -" .. a:gsub("^%-+", "") .. "\n"); return 1 end
    end
    local group, verb = argv[i], argv[i + 1]
    if group == "version" then
      n:out("Client:\n  Version:  v2.2.1\n  Revision: dea7da592f5d1d2b7755e3a161be07f43fad8f75\n  Go version: go1.24.11\n\n")
      if n:service_state("containerd") ~= "active" then return containerd_down(n, "ctr") end
      n:out("Server:\n  Version:  v2.2.1\n  Revision: dea7da592f5d1d2b7755e3a161be07f43fad8f75\n  UUID: " .. n.rec.id .. "\n")
      return 0
    end
    if group ~= "images" and group ~= "image" and group ~= "i" then
      n:err("ctr: no such command: " .. tostring(group) .. "\n"); return 1
    end
    if n:service_state("containerd") ~= "active" then return containerd_down(n, "ctr") end
    local rest = { table.unpack(argv, i + 2) }
    local st = load_images(n)
    local function find(name)
      for idx, img in ipairs(st.images) do
        if img.name == name and (img.namespace or "k8s.io") == ns then return img, idx end
      end
    end
    if verb == "import" then
      local file, snapshotter, all_platforms, platform = nil, nil, false, nil
      local k = 1
      while k <= #rest do
        local a = rest[k]
        if a == "--all-platforms" or a == "--digests" or a == "--no-unpack" or a == "--local" or a == "--skip-digest-for-named" then
          if a == "--all-platforms" then all_platforms = true end
          k = k + 1
        elseif a == "--snapshotter" or a == "--platform" or a == "--index-name" or a == "--base-name" then
          if a == "--snapshotter" then snapshotter = rest[k + 1] end
          if a == "--platform" then platform = rest[k + 1] end
          k = k + 2
        elseif a:match("^%-%-snapshotter=") then snapshotter = a:match("=(.*)"); k = k + 1
        elseif a:match("^%-%-platform=") then platform = a:match("=(.*)"); k = k + 1
        elseif a:sub(1, 1) == "-" and a ~= "-" then
          n:err("Incorrect Usage: flag provided but not defined: -" .. a:gsub("^%-+", "") .. "\n"); return 1
        else file = a; k = k + 1 end
      end
      if not file then n:err("ctr: please provide a file to import\n"); return 1 end
      local known = { overlayfs = true, native = true, ["fuse-overlayfs"] = true, btrfs = false, zfs = false }
      if snapshotter and not known[snapshotter] then
        n:err("ctr: snapshotter not loaded: " .. snapshotter .. ": invalid argument\n"); return 1
      end
      local fh, close
      if file == "-" then
        fh = n.io.stdin or { read = function() return nil end }
      else
        fh = io.open(rootfs.host(n.root, n:path(file)), "rb")
        if not fh then n:err("ctr: open " .. file .. ": no such file or directory\n"); return 1 end
        close = true
      end
      local images, err, kind = oci.read(fh)
      if close then fh:close() end
      if not images then
        if kind == "not_tar" or kind == "truncated" then n:err("ctr: get next file: " .. err .. "\n")
        elseif kind == "not_oci" then n:err("ctr: " .. err .. "\n")
        else n:err("ctr: " .. err .. "\n") end
        return 1
      end
      for _, img in ipairs(images) do
        local plat = img.platform or "linux/arm64"
        if not all_platforms and platform == nil and not plat:match("^linux/arm64") then
          n:err("ctr: content digest " .. img.digest .. ": not found\n")
          return 1
        end
        local name = img.reference:match("^untagged@") and img.reference or R.normalize_ref(img.reference)
        local existing, idx = find(name)
        local entry = { name = name, namespace = ns, digest = img.digest, id = img.config_digest or ("sha256:" .. require("kina.core.digest").sha256("config " .. img.digest)),
          size = img.size or 0, platform = plat, snapshotter = snapshotter or effective_snapshotter(n) }
        if existing then st.images[idx] = entry else st.images[#st.images + 1] = entry end
        n:out("unpacking " .. name .. " (" .. img.digest .. ")...done\n")
      end
      n:save_state("images", st)
      return 0
    elseif verb == "ls" or verb == "list" then
      local quiet = rest[1] == "-q" or rest[1] == "--quiet"
      local rows = {}
      for _, img in ipairs(st.images) do if (img.namespace or "k8s.io") == ns then rows[#rows + 1] = img end end
      table.sort(rows, function(a, b) return a.name < b.name end)
      if quiet then
        for _, img in ipairs(rows) do n:out(img.name .. "\n") end
      else
        n:out(string.format("%-70s %-47s %-71s %-10s %-14s %s\n", "REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS"))
        for _, img in ipairs(rows) do
          n:out(string.format("%-70s %-47s %-71s %-10s %-14s %s\n", img.name, "application/vnd.oci.image.index.v1+json",
            img.digest, human_size(img.size or 0):gsub("MB", " MiB"):gsub("kB", " KiB"), img.platform or "linux/arm64", "io.cri-containerd.image=managed"))
        end
      end
      return 0
    elseif verb == "tag" then
      local force = false
      local names = {}
      for _, a in ipairs(rest) do if a == "--force" then force = true else names[#names + 1] = a end end
      if #names < 2 then n:err("ctr: please provide an image reference and a new reference\n"); return 1 end
      local src = find(names[1])
      if not src then
        for _, img in ipairs(st.images) do if img.id == names[1] or img.digest == names[1] then src = img end end
      end
      if not src then n:err('ctr: image "' .. names[1] .. '": not found\n'); return 1 end
      for k = 2, #names do
        local existing, idx = find(names[k])
        if existing and not force then n:err('ctr: image "' .. names[k] .. '": already exists\n'); return 1 end
        local copy = {}
        for key, v in pairs(src) do copy[key] = v end
        copy.name = names[k]
        if existing then st.images[idx] = copy else st.images[#st.images + 1] = copy end
        n:out(names[k] .. "\n")
      end
      n:save_state("images", st)
      return 0
    elseif verb == "rm" or verb == "remove" or verb == "delete" or verb == "del" then
      for _, a in ipairs(rest) do
        if a:sub(1, 1) ~= "-" then
          local _, idx = find(a)
          if not idx then n:err('ctr: image "' .. a .. '": not found\n'); return 1 end
          table.remove(st.images, idx)
          n:out(a .. "\n")
        end
      end
      n:save_state("images", st)
      return 0
    end
    n:err("ctr: no such command: " .. tostring(verb) .. "\n")
    return 1
  end

  function commands.crictl(n, argv)
    local verb, args = nil, {}
    for i = 2, #argv do
      if not verb and argv[i]:sub(1, 1) ~= "-" then verb = argv[i] else args[#args + 1] = argv[i] end
    end
    if not verb then n:out("NAME:\n   crictl - client for CRI\n"); return 0 end
    if verb == "--version" or verb == "version" then n:out("crictl version v1.35.0\n"); return 0 end
    if n:service_state("containerd") ~= "active" then return containerd_down(n, "crictl") end
    local st = load_images(n)
    local imgs = {}
    for _, img in ipairs(st.images) do if (img.namespace or "k8s.io") == "k8s.io" then imgs[#imgs + 1] = img end end
    table.sort(imgs, function(a, b) return a.name < b.name end)
    local function status_of(img)
      local repo = img.name:match("^(.-)[:@][^/]*$") or img.name
      return {
        id = img.id, repoTags = rootfs.array({ img.name }),
        repoDigests = rootfs.array({ repo .. "@" .. img.digest }),
        size = tostring(img.size or 0), uid = rootfs.null, username = "", spec = rootfs.null, pinned = img.name:find("pause:", 1, true) ~= nil,
      }
    end
    if verb == "images" or verb == "image" or verb == "img" then
      local json = false
      for k, a in ipairs(args) do
        if (a == "-o" and args[k + 1] == "json") or a == "--output=json" or a == "-o=json" then json = true end
        if a == "-q" or a == "--quiet" then
          for _, img in ipairs(imgs) do n:out(img.id .. "\n") end
          return 0
        end
      end
      if json then
        local list = rootfs.array()
        for _, img in ipairs(imgs) do list[#list + 1] = status_of(img) end
        n:out(rootfs.encode_json({ images = list }) .. "\n")
      else
        n:out(string.format("%-50s %-25s %-15s %s\n", "IMAGE", "TAG", "IMAGE ID", "SIZE"))
        for _, img in ipairs(imgs) do
          local repo, tag = img.name:match("^(.*):([^:/]+)$")
          n:out(string.format("%-50s %-25s %-15s %s\n", repo or img.name, tag or "<none>", img.id:sub(8, 20), human_size(img.size or 0)))
        end
      end
      return 0
    elseif verb == "inspecti" then
      local ref
      for _, a in ipairs(args) do if a:sub(1, 1) ~= "-" then ref = a end end
      if not ref then n:err('time="' .. os.date("!%Y-%m-%dT%H:%M:%SZ") .. '" level=fatal msg="image name cannot be empty"\n'); return 1 end
      local want = ref:match("^sha256:") and ref or R.normalize_ref(ref)
      for _, img in ipairs(imgs) do
        if img.name == want or img.id == want or img.id:sub(8, 8 + #ref - 1) == ref then
          n:out(rootfs.encode_json({ status = status_of(img), info = { imageSpec = { os = "linux", architecture = "arm64" } } }) .. "\n")
          return 0
        end
      end
      n:err('time="' .. os.date("!%Y-%m-%dT%H:%M:%SZ") .. '" level=fatal msg="no such image \\"' .. ref .. '\\" present"\n')
      return 1
    elseif verb == "ps" or verb == "pods" then
      n:out(verb == "ps" and "CONTAINER           IMAGE               CREATED             STATE               NAME                ATTEMPT             POD ID              POD\n"
        or "POD ID              CREATED             STATE               NAME                NAMESPACE           ATTEMPT             RUNTIME\n")
      return 0
    end
    n:err('time="' .. os.date("!%Y-%m-%dT%H:%M:%SZ") .. '" level=fatal msg="command \\"' .. verb .. '\\" not found"\n')
    return 1
  end
end

--- Add the runtime commands to `commands` (command contexts reach kina.sim.node as n.node).
function R.install(commands)
  for _, install in ipairs({ install_sysctl, install_iptables, install_systemd, install_containerd }) do install(commands) end
end

return R
