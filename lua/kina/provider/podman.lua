--- kina.provider.podman — nodes as containers of podman or Docker on Linux.
--
-- One module for both CLIs: they take the same `run` flags and answer `inspect` with the same
-- JSON keys for what kina reads. The binary is chosen by name (`podman`, `docker`, or a path
-- whose last component says which); the differences kind makes between the two
-- (kind-and-peers §2.3, §2.9) are keyed on that. The interface, and what every method promises,
-- is lua/kina/provider/README.md; errors are kina.provider.common's ProviderError, as for
-- Apple's runtime.
--
-- Node containers follow kind's docker/podman provider (§2.3): --hostname, the role and cluster
-- labels, --privileged, tmpfs on /tmp and /run, /var on a volume of its own, /lib/modules
-- read-only, --detach --tty, the cluster network, published ports (the API server on
-- 127.0.0.1 unless configured), KUBECONFIG for control planes.

local spec = require "kina.core.spec"
local common = require "kina.provider.common"
local uv = require "luv"

local M = {}

M.CLUSTER_LABEL = "io.kina.cluster"
M.ROLE_LABEL = "io.kina.role"
--- The label on a node's /var volume naming its node (podman only), so delete finds it.
M.NODE_LABEL = "io.kina.node"

--- The network nodes join when their description names none: kind's fixed network is `kind`
-- (§2.2); kina's is `kina`. Created on first use, never deleted by a cluster's delete (it is
-- shared by every cluster, as kind's is).
M.DEFAULT_NETWORK = "kina"

--- kina.core.spec validates a node description and renders its options (labels, mounts, ports,
-- env) in the `-l/-v/-p/-e` syntax that Apple's CLI shares with Docker's; this provider takes
-- them from the rendering for this Apple release, the newest kina knows (every option exists
-- there), and leaves out what only Apple's runtime has.
M.DESCRIPTION_RELEASE = "1.5.0"

-- Seconds before a CLI call is given up as hung: kina.provider.common's.
M.DEFAULT_TIMEOUTS = common.DEFAULT_TIMEOUTS

--- Why a CLI call failed, for people. Keyed by M.error_cause(); %s is the binary's name.
M.HINTS = {
  service_not_running = "%s cannot reach its engine: start it (`systemctl start docker` for Docker), or run kina as a user who may use it.",
  name_taken = "a container with that name already exists: delete it (`kina delete cluster --name ...` or `%s rm -f NAME`) or choose another name.",
  exec_not_found = "the program does not exist in the node image.",
  image_not_found = "the image was not found: check the reference, your network, and `%s login` for private registries.",
  port_in_use = "a host port is already taken: stop what listens there, or choose another hostPort.",
  timeout = "%s did not answer in time.",
  not_running = "the node is not running: `kina start cluster` starts it again.",
  apple_only = "this field is for Apple's runtime only: leave it out on Linux.",
}

-- Texts of podman 4.3 and Docker 20-28 errors, lower-cased, and the cause each means. The
-- first that matches wins, so more specific texts come first.
local CAUSES = {
  { "executable file not found", "exec_not_found" },
  { "no such file or directory: oci runtime attempted to invoke a command that was not found", "exec_not_found" },
  { "is already in use", "name_taken" },
  { "already exists", "already_exists" },
  { "cannot connect to the docker daemon", "service_not_running" },
  { "cannot connect to podman", "service_not_running" },
  { "address already in use", "port_in_use" },
  { "container state improper", "not_running" },
  { "is not running", "not_running" },
  { "can only create exec sessions on running containers", "not_running" },
  { "no such container", "not_found" },
  { "no such object", "not_found" },
  { "no such network", "not_found" },
  { "network not found", "not_found" },
  { "unable to find network", "not_found" },
  { "no such volume", "not_found" },
  { "image not known", "image_not_found" },
  { "manifest unknown", "image_not_found" },
  { "pull access denied", "image_not_found" },
  { "no such image", "image_not_found" },
  { "initializing source", "image_not_found" },
}

--- The cause of a failed call from its stderr, or nil.
function M.error_cause(stderr)
  local text = (stderr or ""):lower()
  for _, c in ipairs(CAUSES) do
    if text:find(c[1], 1, true) then return c[2] end
  end
  return nil
end

local new_error = common.new_error

--- "podman" or "docker" for a binary name or path.
function M.runtime_of(binary)
  local base = tostring(binary):match("([^/]+)$") or ""
  if base:find("docker", 1, true) then return "docker" end
  if base:find("podman", 1, true) then return "podman" end
  return nil
end

---------------------------------------------------------------------------------------------
-- The provider object

local Provider = {}
Provider.__index = Provider

--- A provider driving podman's or Docker's CLI.
-- @tparam table opts `scheduler` (a kina.async scheduler; required), `binary` ("podman",
--   "docker" or a path to either; default "podman"), `runtime` ("podman"|"docker" when the
--   binary's name does not say), `timeouts` (overrides of DEFAULT_TIMEOUTS), `env` (added to
--   every call's environment, e.g. CONTAINERS_CONF).
function M.new(opts)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "scheduler" and k ~= "binary" and k ~= "runtime" and k ~= "timeouts" and k ~= "env" then
      error("podman provider options: unknown field '" .. tostring(k) .. "'", 2)
    end
  end
  if type(opts.scheduler) ~= "table" or type(opts.scheduler.spawn) ~= "function" then
    error("podman provider options: field 'scheduler' must be a kina.async scheduler", 2)
  end
  local binary = opts.binary or "podman"
  if type(binary) ~= "string" or binary == "" then error("podman provider options: field 'binary' must be a non-empty string", 2) end
  local runtime = opts.runtime or M.runtime_of(binary)
  if runtime ~= "podman" and runtime ~= "docker" then
    error(("podman provider options: cannot tell whether %q is podman or docker: set field 'runtime'"):format(binary), 2)
  end
  local timeouts = common.timeouts("podman", opts.timeouts)
  local display_name = runtime == "docker" and "Docker" or "podman"
  return setmetatable({
    name = runtime,
    display_name = display_name,
    doctor = "kina.doctor.linux",
    image_store = display_name .. "'s image store",
    runtime = runtime,
    binary = binary,
    sched = opts.scheduler,
    timeouts = timeouts,
    env = opts.env,
  }, Provider)
end

function Provider:hint(cause)
  local text = cause and M.HINTS[cause]
  return text and text:format(self.binary)
end

-- timeout(op), run_cli and call: every provider's (kina.provider.common)
common.add_cli_methods(Provider)

-- What to do when the CLI is not found (run_cli's hint for ENOENT).
function Provider:missing_cli_hint()
  return ("%s was not found: install it (Debian: `apt-get install %s`), or choose another runtime with KINA_PROVIDER."):format(
    self.binary, self.runtime == "docker" and "docker.io" or "podman")
end

-- Raise a ProviderError for a failed result.
function Provider:fail(op, node, argv, r)
  local cause = r.timed_out and "timeout" or M.error_cause(r.stderr)
  error(new_error{ op = op, node = node, argv = argv, status = common.status_text(r), stderr = r.stderr,
    code = r.code, result = r, cause = cause, hint = self:hint(cause) }, 0)
end

local decode = common.decode_json

local function lines_of(text)
  local out = {}
  for line in (text or ""):gmatch("[^\n]+") do
    line = line:gsub("%s+$", "")
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

---------------------------------------------------------------------------------------------
-- Runtime information

--- The CLI version (cached): "podman version 4.3.1", "Docker version 28.2.2, build e6534b4".
function Provider:version()
  if not self.cli_version then
    local r = self:call("version", nil, { "--version" })
    local v = r.stdout:match("[Vv]ersion v?(%d+%.%d+%.?%d*)")
    if not v then error(new_error{ op = "version", message = ("cannot read a version in %q"):format(r.stdout) }, 0) end
    self.cli_version = v
  end
  return self.cli_version
end

--- The runtime's own account of itself for `kina export logs`: kind's podman-info.txt
-- (`podman info`) or docker-info.txt (`docker info`), whatever the exit status.
function Provider:runtime_report()
  local r = self:run_cli("status", nil, { "info" })
  return self.runtime .. "-info.txt", (r.stdout or "") .. (r.stderr or "")
end

--- {runtime, binary, version, service_running, multi_node, cgroup_version, rootless, features}.
-- `info --format json` fails when the engine cannot be reached (Docker's daemon is down).
function Provider:info()
  if self.cached_info then return self.cached_info end
  local version = self:version()
  local r = self:run_cli("status", nil, { "info", "--format", "json" })
  local info = {
    runtime = self.runtime, binary = self.binary, version = version,
    service_running = r.code == 0, multi_node = true, features = {},
    status_error = r.code ~= 0 and (r.stderr or ""):gsub("%s+$", "") or nil,
  }
  if r.code == 0 then
    local d = decode("info", r.stdout)
    if self.runtime == "podman" then
      local host = d.host or {}
      info.cgroup_version = host.cgroupVersion == "v2" and 2 or 1
      info.rootless = (host.security or {}).rootless == true
      info.network_backend = host.networkBackend
    else
      info.cgroup_version = tostring(d.CgroupVersion) == "2" and 2 or 1
      info.rootless = false
      for _, o in ipairs(d.SecurityOptions or {}) do
        if tostring(o):find("name=rootless", 1, true) then info.rootless = true end
      end
      info.desktop = tostring(d.OperatingSystem or ""):find("Docker Desktop", 1, true) ~= nil
    end
    self.cached_info = info
  end
  return info
end

--- Raise, with what to do about it, unless the runtime can run kina's nodes; returns info and
-- warnings.
function Provider:ensure_ready()
  local info = self:info()
  if not info.service_running then
    error(new_error{ op = "preflight", message = ("%s cannot run containers: %s"):format(self.binary, info.status_error or "info failed"),
      cause = "service_not_running", hint = self:hint("service_not_running") }, 0)
  end
  local warnings = {}
  if info.rootless then
    -- kind runs rootless too, with limits (cgroup v2 and delegation): kina has not been tried so
    warnings[#warnings + 1] = ("%s runs rootless: kina's nodes were only tried with rootful podman"):format(self.binary)
  end
  return info, warnings
end

--- The capabilities this runtime declares (README.md, "Capabilities"). Every node joins one
-- bridge network, so nodes reach each other; a rootful engine on Linux puts that bridge on the
-- host, so the host routes to container IPs (not so rootless, nor on Docker Desktop's VM); nodes
-- run --privileged. ip_kept_across_restart: podman 4.3 with CNI gave a node 10.89.0.2, then
-- 10.89.0.3 after stop/start on this project's CI machine, so no runtime here promises it.
function Provider:capabilities()
  local info = self:info()
  return {
    nodes_reach_each_other = true,
    per_container_ip_routable_from_host = not info.rootless and not info.desktop,
    privileged = true,
    networks = true,
    ip_kept_across_restart = false,
    publishes_host_ports = true,
    -- kind runs nothing of the kind on Docker or podman: the host's kernel, overlayfs, MTU 1500
    needs_node_preparation = false,
    -- containers share the host's CPUs and memory: limits only where the config sets them (kind: none)
    node_size_required = false,
  }
end

---------------------------------------------------------------------------------------------
-- Node descriptions → `run` argv

-- Apple's `--mount type=tmpfs,target=X[,size=N][,readonly]` in Docker's and podman's words.
local function tmpfs_mount(apple_spec)
  local out = {}
  for part in apple_spec:gmatch("[^,]+") do
    local k, v = part:match("^([^=]+)=(.*)$")
    if k == "target" then out[#out + 1] = "destination=" .. v
    elseif k == "size" then out[#out + 1] = "tmpfs-size=" .. v
    elseif part == "readonly" then out[#out + 1] = "readonly"
    else out[#out + 1] = part end
  end
  return table.concat(out, ",")
end

-- Options of Apple's rendering that take a value, and what becomes of each here.
local CARRIED = { ["-l"] = "--label", ["-v"] = "--volume", ["--tmpfs"] = "--tmpfs", ["-p"] = "--publish",
  ["-e"] = "-e", ["--cpus"] = "--cpus", ["--memory"] = "--memory", ["--platform"] = "--platform" }
local DROPPED = { ["--cap-add"] = true, ["--masked-path"] = true, ["--read-only-path"] = true,
  ["--scheme"] = true, ["--network"] = true, ["--name"] = true }

--- The `run` argv (with the binary) and what creating it needs: {argv, info (spec.run_argv's),
-- network, volume}. Raises on a description kina.core.spec refuses, or one that asks for what
-- only Apple's runtime has.
function Provider:plan(desc, field)
  local rendered, extra = spec.run_argv(desc, M.DESCRIPTION_RELEASE, field)
  local prefix = field and (field .. ".") or ""
  if desc.kernel then
    error(new_error{ op = "create", node = desc.name, message = prefix .. "kernel: podman and Docker nodes run on the host's kernel",
      hint = M.HINTS.apple_only }, 0)
  end
  if desc.rosetta then
    error(new_error{ op = "create", node = desc.name, message = prefix .. "rosetta: Rosetta is Apple's", hint = M.HINTS.apple_only }, 0)
  end
  local nargs = #(desc.args or {})
  local image_at = #rendered - nargs
  assert(rendered[image_at] == desc.image, "kina.core.spec's argv ends in the image and its arguments")
  local carried = {}
  local i = 3 -- after `run -d`
  while i < image_at do
    local a = rendered[i]
    if a == "--rosetta" then i = i + 1
    elseif a == "--mount" then
      carried[#carried + 1] = "--mount"
      carried[#carried + 1] = tmpfs_mount(rendered[i + 1])
      i = i + 2
    elseif CARRIED[a] then
      carried[#carried + 1] = CARRIED[a]
      carried[#carried + 1] = rendered[i + 1]
      i = i + 2
    elseif DROPPED[a] or a == "--kernel" then i = i + 2
    else error(("kina.core.spec rendered an option this provider does not know: %s"):format(a)) end
  end

  local network = desc.network or M.DEFAULT_NETWORK
  local docker = self.runtime == "docker"
  local argv = { self.binary, "run", "--name", desc.name, "--hostname", desc.name,
    "--label", M.ROLE_LABEL .. "=" .. desc.role, "--privileged" }
  local function add(...) for _, a in ipairs{ ... } do argv[#argv + 1] = a end end
  if docker then add("--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined") end
  add("--tmpfs", "/tmp", "--tmpfs", "/run")
  -- /var on its own volume: pods and logs stay off the container's root file system (§2.3);
  -- podman gets a named volume with these mount options, Docker an anonymous one (§2.9)
  local volume
  if docker then add("--volume", "/var")
  else
    volume = desc.name
    add("--volume", volume .. ":/var:suid,exec,dev")
  end
  -- kind mounts /lib/modules unconditionally; a host without it (a container running kina)
  -- would fail the run with "statfs /lib/modules: no such file or directory"
  if uv.fs_stat("/lib/modules") then add("--volume", "/lib/modules:/lib/modules:ro") end
  if not docker then add("-e", "container=podman") end
  add("--detach", "--tty", "--label", M.CLUSTER_LABEL .. "=" .. desc.cluster, "--net", network)
  if docker then add("--restart=on-failure:1", "--init=false", "--cgroupns=private") end
  for _, a in ipairs(carried) do argv[#argv + 1] = a end
  if desc.role == "control-plane" then add("-e", "KUBECONFIG=/etc/kubernetes/admin.conf") end
  for k = image_at, #rendered do argv[#argv + 1] = rendered[k] end
  return { argv = argv, info = extra, network = network, volume = volume }
end

--- The run argv a description gives, without running it (for dry runs and checks).
function Provider:run_argv(desc, field)
  return self:plan(desc, field).argv
end

--- What a description would give without running anything: {warnings, host_ports}, raising
-- on a field this runtime cannot take (kernel, rosetta).
function Provider:validate(desc, field)
  return self:plan(desc, field).info
end

--- `args` as a command line for people to run (`podman exec NODE ...`).
function Provider:user_command(args)
  return common.command_line({ self.binary:match("([^/]+)$"), table.unpack(args) })
end

--- The command a user runs to pull `ref` into the store kina loads images from.
function Provider:pull_command(ref)
  return self:user_command({ "pull", ref })
end

-- Create the default network unless it exists; two nodes created at once may race to it.
function Provider:ensure_network(name)
  if self:network_inspect(name) then return end
  local r, argv = self:run_cli("network create", name, { "network", "create", name })
  if r.code ~= 0 and M.error_cause(r.stderr) ~= "already_exists" then self:fail("network create", name, argv, r) end
end

--- The address ranges nodes on `network` (default: M.DEFAULT_NETWORK, made here when missing,
-- as kind makes its network before the nodes) take their IPs from, for NO_PROXY (kind-and-peers §2.3).
function Provider:node_subnets(network)
  network = network or M.DEFAULT_NETWORK
  if network == M.DEFAULT_NETWORK then self:ensure_network(network) end
  local rec = self:network_inspect(network)
  return { rec and rec.subnet or nil }
end

--- Create and start a node from a description (the fields kina.core.spec.run_argv takes);
-- returns the node name and the process result. A failed run leaves nothing behind.
function Provider:create(desc, field)
  local plan = self:plan(desc, field)
  if plan.network == M.DEFAULT_NETWORK then self:ensure_network(plan.network) end
  if plan.volume then
    local r, argv = self:run_cli("volume create", desc.name, { "volume", "create", "--label", M.CLUSTER_LABEL .. "=" .. desc.cluster,
      "--label", M.NODE_LABEL .. "=" .. desc.name, plan.volume })
    if r.code ~= 0 then
      -- the volume is named after its node: one left over means the node (or its remains) is there
      local cause = M.error_cause(r.stderr)
      if cause == "already_exists" then cause = "name_taken" end
      error(new_error{ op = "volume create", node = desc.name, argv = argv, status = common.status_text(r),
        stderr = r.stderr, code = r.code, result = r, cause = cause, hint = self:hint(cause) }, 0)
    end
  end
  local args = {}
  for k = 2, #plan.argv do args[#args + 1] = plan.argv[k] end
  local r, argv = self:run_cli("run", desc.name, args)
  if r.code ~= 0 then
    -- `run` can leave a created container (a port taken at start): remove it, unless the
    -- failure was that the name belongs to another container; the volume is this call's own
    if M.error_cause(r.stderr) ~= "name_taken" then self:run_cli("delete", desc.name, { "rm", "-f", "-v", desc.name }) end
    if plan.volume then self:run_cli("volume rm", desc.name, { "volume", "rm", "-f", plan.volume }) end
    self:fail("run", desc.name, argv, r)
  end
  return desc.name, r
end

function Provider:start(name)
  return self:call("start", name, { "start", name })
end

--- Stop a node, giving systemd `time` seconds (default 30) before the runtime kills it.
function Provider:stop(name, opts)
  local time = opts and opts.time or 30
  return self:call("stop", name, { "stop", "-t", tostring(time), name }, { timeout = time + self.timeouts.default })
end

function Provider:kill(name, signal)
  return self:call("kill", name, { "kill", "-s", tostring(signal or "KILL"), name })
end

--- Delete nodes (and their anonymous or kina-labelled /var volumes); what is already gone is
-- not an error (as with kind).
function Provider:delete(names, opts)
  if type(names) == "string" then names = { names } end
  if #names == 0 then return end
  local _ = opts -- always forced, as kind's `rm -f -v`
  local args = { "rm", "-f", "-v" }
  for _, n in ipairs(names) do args[#args + 1] = n end
  local r, argv = self:run_cli("delete", table.concat(names, ", "), args)
  if r.code ~= 0 then
    if #names > 1 then
      for _, n in ipairs(names) do self:delete({ n }) end
      return r
    end
    if M.error_cause(r.stderr) ~= "not_found" then self:fail("delete", names[1], argv, r) end
  end
  if self.runtime == "podman" then
    local wanted = {}
    for _, n in ipairs(names) do wanted[n] = true end
    local vols = self:call("volume list", nil, { "volume", "ls", "--filter", "label=" .. M.NODE_LABEL, "--format", "{{.Name}}" })
    for _, v in ipairs(lines_of(vols.stdout)) do
      if wanted[v] then
        local vr, vargv = self:run_cli("volume rm", v, { "volume", "rm", "-f", v })
        if vr.code ~= 0 and M.error_cause(vr.stderr) ~= "not_found" then self:fail("volume rm", v, vargv, vr) end
      end
    end
  end
  return r
end

local function state_of(status)
  if status == "running" then return "running" end
  if status == "paused" then return "paused" end
  return "stopped" -- created, configured, exited, stopped, dead
end

-- The platform of a node: the host's own (a node runs natively; inspect does not say).
local ARCH = { x86_64 = "amd64", amd64 = "amd64", aarch64 = "arm64", arm64 = "arm64" }
local HOST_MACHINE = uv.os_uname().machine
local HOST_PLATFORM = "linux/" .. (ARCH[HOST_MACHINE] or HOST_MACHINE)

-- A record (README.md, "Records") from one object of `inspect`'s JSON, podman's or Docker's.
local function container_record(obj)
  local config = obj.Config or {}
  local settings = obj.NetworkSettings or {}
  local rec = {
    name = tostring(obj.Name or ""):gsub("^/", ""),
    state = state_of((obj.State or {}).Status),
    labels = config.Labels or {},
    image = obj.ImageName or config.Image,
    image_digest = obj.Image,
    created = obj.Created,
    started = (obj.State or {}).StartedAt,
    platform = HOST_PLATFORM,
    ports = {},
  }
  local nets = {}
  for net in pairs(settings.Networks or {}) do nets[#nets + 1] = net end
  table.sort(nets)
  for _, net in ipairs(nets) do
    local n = settings.Networks[net]
    if not rec.ip and n.IPAddress and n.IPAddress ~= "" then
      rec.network, rec.ip = net, n.IPAddress
      if n.GlobalIPv6Address and n.GlobalIPv6Address ~= "" then rec.ipv6 = n.GlobalIPv6Address end
    end
  end
  rec.network = rec.network or nets[1]
  if rec.state ~= "running" then rec.ip, rec.ipv6 = nil, nil end
  for key, bindings in pairs(settings.Ports or {}) do
    local port, proto = key:match("^(%d+)/(%a+)$")
    for _, b in ipairs(type(bindings) == "table" and bindings or {}) do
      rec.ports[#rec.ports + 1] = { host_address = b.HostIp ~= "" and b.HostIp or "0.0.0.0", host_port = tonumber(b.HostPort),
        container_port = tonumber(port), protocol = proto, count = 1 }
    end
  end
  table.sort(rec.ports, function(a, b)
    if a.container_port ~= b.container_port then return a.container_port < b.container_port end
    return a.protocol < b.protocol
  end)
  rec.cluster = rec.labels[M.CLUSTER_LABEL]
  rec.role = rec.labels[M.ROLE_LABEL]
  return rec
end

--- One node's record, or nil when there is no such container.
function Provider:inspect(name)
  local r, argv = self:run_cli("inspect", name, { "container", "inspect", name })
  if r.code ~= 0 then
    if M.error_cause(r.stderr) == "not_found" then return nil end
    self:fail("inspect", name, argv, r)
  end
  local objs = decode("inspect", r.stdout)
  if type(objs) ~= "table" or not objs[1] then return nil end
  return container_record(objs[1])
end

--- kina's nodes (containers labelled io.kina.cluster), optionally filtered by labels, sorted by
-- name. The runtime filters by label; one inspect reads them all.
function Provider:list(opts)
  opts = opts or {}
  local args = { "ps", "-a", "--filter", "label=" .. M.CLUSTER_LABEL }
  local keys = {}
  for k in pairs(opts.labels or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    args[#args + 1] = "--filter"
    args[#args + 1] = "label=" .. k .. "=" .. opts.labels[k]
  end
  args[#args + 1] = "--format"
  args[#args + 1] = "{{.Names}}"
  local names = lines_of(self:call("list", nil, args).stdout)
  local out = {}
  if #names > 0 then
    local inspect_args = { "container", "inspect" }
    for _, n in ipairs(names) do inspect_args[#inspect_args + 1] = n end
    local r = self:run_cli("list", nil, inspect_args)
    if r.code == 0 then
      for _, obj in ipairs(decode("list", r.stdout)) do out[#out + 1] = container_record(obj) end
    else
      -- one went away between ps and inspect: the rest one by one
      for _, n in ipairs(names) do out[#out + 1] = self:inspect(n) end
    end
  end
  local kept = {}
  for _, rec in ipairs(out) do
    if rec.cluster and common.labels_match(rec, opts.labels) then kept[#kept + 1] = rec end
  end
  table.sort(kept, function(a, b) return a.name < b.name end)
  return kept
end

--- The node's IPv4 address, or raise when it has none (stopped).
function Provider:ip(name)
  local rec = self:inspect(name)
  if not rec then error(new_error{ op = "ip", node = name, message = "no such node" }, 0) end
  if not rec.ip then
    error(new_error{ op = "ip", node = name, message = ("node is %s and has no IP address"):format(rec.state),
      hint = M.HINTS.not_running }, 0)
  end
  return rec.ip
end

--- The node's published ports ({{host_address, host_port, container_port, protocol, count}}).
function Provider:ports(name)
  local rec = self:inspect(name)
  if not rec then error(new_error{ op = "ports", node = name, message = "no such node" }, 0) end
  return rec.ports
end

---------------------------------------------------------------------------------------------
-- Exec, logs, files

local exec_fields = {
  stdin = true, stdin_file = true, stdin_from = true, env = true, user = true, workdir = true,
  timeout = true, on_stdout = true, on_stderr = true, stdout = true, stdout_limit = true, check = true,
}

local function exec_parts(self, name, cmd, opts)
  opts = opts or {}
  for k in pairs(opts) do
    if not exec_fields[k] then error("exec options: unknown field '" .. tostring(k) .. "'", 3) end
  end
  if type(cmd) ~= "table" or #cmd == 0 then error("exec: the command must be a non-empty argv table", 3) end
  -- kind's node command: `exec --privileged [-i] [-e K=V ...]` (kind-and-peers §1.1); -i only
  -- with stdin, or the exec waits for a stdin nobody closes
  local argv = { self.binary, "exec", "--privileged" }
  if opts.stdin ~= nil or opts.stdin_file ~= nil or opts.stdin_from ~= nil then argv[#argv + 1] = "-i" end
  local keys = {}
  for k in pairs(opts.env or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    argv[#argv + 1] = "-e"
    argv[#argv + 1] = k .. "=" .. tostring(opts.env[k])
  end
  if opts.user then argv[#argv + 1] = "--user"; argv[#argv + 1] = opts.user end
  if opts.workdir then argv[#argv + 1] = "--workdir"; argv[#argv + 1] = opts.workdir end
  argv[#argv + 1] = name
  for _, a in ipairs(cmd) do argv[#argv + 1] = a end
  local spawn = { argv = argv, timeout = opts.timeout or self.timeouts.exec, env = self.env,
    stdin = opts.stdin, stdin_file = opts.stdin_file, stdin_from = opts.stdin_from,
    on_stdout = opts.on_stdout, on_stderr = opts.on_stderr, stdout = opts.stdout, stdout_limit = opts.stdout_limit }
  return spawn, argv
end

--- Run `cmd` (argv) in a node; returns the result, raising on a non-zero exit unless
-- opts.check == false. Options as Apple's provider's (README.md).
function Provider:exec(name, cmd, opts)
  local spawn, argv = exec_parts(self, name, cmd, opts)
  local r, err, code = self.sched:exec(spawn)
  if not r then error(new_error{ op = "exec", node = name, argv = argv, message = err, code = code }, 0) end
  if r.timed_out then
    error(new_error{ op = "exec", node = name, argv = argv, status = ("timed out after %gs"):format(spawn.timeout),
      stderr = r.stderr, result = r, cause = "timeout", hint = self:hint("timeout") }, 0)
  end
  if r.code ~= 0 and not (opts and opts.check == false) then self:fail("exec", name, argv, r) end
  return r
end

--- Run kina.batch `b` in node `name`: the batch's result and the exec's; a failed step raises a
-- ProviderError naming that command.
function Provider:exec_batch(name, b, opts)
  local cmd = b:argv()
  local _, argv = exec_parts(self, name, cmd, { stdin = opts and opts.stdin })
  local r = self:exec(name, cmd, { check = false, timeout = opts and opts.timeout, stdin = opts and opts.stdin })
  local res = b:result(r)
  if not res.failed then return res, r end
  if not res.failed.argv then self:fail("exec", name, argv, r) end
  local f = res.failed
  local output = require("kina.batch").output(r)
  local cause = M.error_cause(output)
  error(new_error{ op = "exec", node = name, argv = f.path and { "printf", "%s", "<" .. f.path .. ">" } or f.argv,
    status = "exit status " .. tostring(f.status), stderr = output, code = f.status,
    result = { code = f.status, stdout = "", stderr = output }, cause = cause, hint = self:hint(cause),
    message = f.path and ("writing " .. f.path) or nil }, 0)
end

--- The streaming form of exec: the scheduler job (await it, or pass it as another job's
-- stdin_from when opts.stdout == "pipe") and the argv.
function Provider:exec_job(name, cmd, opts)
  local spawn, argv = exec_parts(self, name, cmd, opts)
  return self.sched:spawn(spawn), argv
end

--- The node's log. Nodes run with a tty, so their console is all on stdout; a container
-- without one writes its stderr apart, and that follows. opts.boot: there is no VM here, so the
-- boot log is the same log.
function Provider:logs(name, opts)
  opts = opts or {}
  local args = { "logs" }
  if opts.tail then args[#args + 1] = "--tail"; args[#args + 1] = tostring(opts.tail) end
  args[#args + 1] = name
  local r = self:call("logs", name, args)
  return r.stdout .. (r.stderr or "")
end

--- Follow the node's log until a line matches `pattern` (a Lua pattern); true on a match,
-- raises a ProviderError after `timeout` seconds.
function Provider:wait_for_log(name, pattern, timeout)
  local matched = false
  local argv = { self.binary, "logs", "-f", name }
  local function look(line)
    if line:find(pattern) then
      matched = true
      return true -- stop following
    end
  end
  local r, err, code = self.sched:exec{ argv = argv, env = self.env, timeout = timeout, on_stdout = look, on_stderr = look }
  if not r then error(new_error{ op = "wait for log", node = name, argv = argv, message = err, code = code }, 0) end
  if matched then return true end
  if r.code and r.code ~= 0 and not r.timed_out then self:fail("logs", name, argv, r) end
  error(new_error{ op = "wait for log", node = name, argv = argv,
    message = ("no line matching %q appeared in the log within %gs"):format(pattern, timeout), stderr = r.stderr }, 0)
end

--- Write `source` (a string, or with opts.file a host path) to `dest` in the node (kind's
-- `cp /dev/stdin`, kina.provider.common.copy_to).
function Provider:copy_to(name, source, dest, opts)
  return common.copy_to(self, name, source, dest, opts)
end

function Provider:check_host_ports(ports)
  return common.check_host_ports(ports)
end

---------------------------------------------------------------------------------------------
-- Networks

local function network_record(obj)
  if obj.name then -- podman 4's own shape
    local subnet = (obj.subnets or {})[1] or {}
    return { name = obj.name, subnet = subnet.subnet, gateway = subnet.gateway, labels = obj.labels or {}, mode = obj.driver }
  end
  local config = ((obj.IPAM or {}).Config or {})[1] or {}
  return { name = obj.Name, subnet = config.Subnet, gateway = config.Gateway, labels = obj.Labels or {}, mode = obj.Driver }
end

--- Create a network; opts: labels ({k = v}), subnet (CIDR).
function Provider:network_create(name, opts)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "labels" and k ~= "subnet" then error("network_create options: unknown field '" .. tostring(k) .. "'", 2) end
  end
  local args = { "network", "create" }
  local keys = {}
  for k in pairs(opts.labels or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    args[#args + 1] = "--label"
    args[#args + 1] = k .. "=" .. opts.labels[k]
  end
  if opts.subnet then args[#args + 1] = "--subnet"; args[#args + 1] = opts.subnet end
  args[#args + 1] = name
  return self:call("network create", name, args)
end

--- Delete a network; one that is already gone is not an error.
function Provider:network_delete(name)
  local r, argv = self:run_cli("network delete", name, { "network", "rm", name })
  if r.code ~= 0 and M.error_cause(r.stderr) ~= "not_found" then self:fail("network delete", name, argv, r) end
  return r
end

function Provider:network_list()
  local names = lines_of(self:call("network list", nil, { "network", "ls", "--format", "{{.Name}}" }).stdout)
  if #names == 0 then return {} end
  local args = { "network", "inspect" }
  for _, n in ipairs(names) do args[#args + 1] = n end
  local out = {}
  for _, obj in ipairs(decode("network list", self:call("network list", nil, args).stdout)) do out[#out + 1] = network_record(obj) end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

function Provider:network_inspect(name)
  local r, argv = self:run_cli("network inspect", name, { "network", "inspect", name })
  if r.code ~= 0 then
    if M.error_cause(r.stderr) == "not_found" then return nil end
    self:fail("network inspect", name, argv, r)
  end
  local objs = decode("network inspect", r.stdout)
  return objs[1] and network_record(objs[1]) or nil
end

---------------------------------------------------------------------------------------------
-- Images

function Provider:image_exists(ref)
  local r = self:run_cli("image inspect", nil, { "image", "inspect", ref })
  return r.code == 0
end

--- Pull an image. opts: platform, on_progress (line callback on the CLI's progress, stderr);
-- scheme is Apple's (podman and Docker choose http for a registry by their own configuration).
function Provider:image_pull(ref, opts)
  opts = opts or {}
  local args = { "pull" }
  if opts.platform then args[#args + 1] = "--platform"; args[#args + 1] = opts.platform end
  -- registrySchemes' http: podman pulls from a plain-HTTP registry with --tls-verify=false;
  -- Docker has no such flag (its daemon's insecure-registries decides)
  if opts.scheme == "http" and self.runtime == "podman" then args[#args + 1] = "--tls-verify=false" end
  args[#args + 1] = ref
  return self:call("pull", nil, args, { on_stderr = opts.on_progress })
end

--- Save images as a docker-archive (which `ctr images import` reads): to a file (opts.to), or
-- with opts.pipe = true as a running job whose stdout is a pipe for another job's stdin_from.
-- podman writes several images into one archive only with --multi-image-archive.
-- opts.platform is not passed: podman 4.3's save has no --platform (it saves the local image).
function Provider:image_save(refs, opts)
  opts = opts or {}
  if type(refs) == "string" then refs = { refs } end
  local args = { "save" }
  if self.runtime == "podman" and #refs > 1 then args[#args + 1] = "--multi-image-archive" end
  if opts.to then args[#args + 1] = "--output"; args[#args + 1] = opts.to end
  for _, ref in ipairs(refs) do args[#args + 1] = ref end
  if opts.pipe then
    local argv = self:cli_argv(args)
    return self.sched:spawn{ argv = argv, stdout = "pipe", timeout = self.timeouts.save, env = self.env }, argv
  end
  return self:call("save", nil, args)
end

function Provider:image_load(path)
  return self:call("load", nil, { "load", "--input", path })
end

return M
