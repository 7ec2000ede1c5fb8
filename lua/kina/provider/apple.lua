--- kina.provider.apple — nodes as containers of Apple's `container` CLI.
--
-- The facts (argv per operation and version, JSON shapes, error texts) are in the C modules
-- kina.core.apple and kina.core.spec; this file is the policy: timeouts, idempotence, filtering,
-- error messages and hints. Every operation runs through a kina.async scheduler, so it can run
-- inside a task: five `create`s in five tasks are five concurrent `container run`s.
--
-- The interface every provider implements, with each method's contract and the capabilities a
-- provider declares, is written down in lua/kina/provider/README.md; the shared conformance
-- suite (spec/support/provider_conformance.lua) runs it here against the simulator and in
-- spec/podman_provider_spec.lua against real podman.
--
-- Failures raise a ProviderError: it names the operation and the node, shows the command line,
-- the exit status, the runtime's stderr and, where a known cause matches, a hint.

local apple = require "kina.core.apple"
local spec = require "kina.core.spec"
local json = require "kina.json"
local common = require "kina.provider.common"

local M = {}

--- The oldest CLI kina supports: the first release with port ranges and --rosetta; older JSON
-- and flags are parsed, but nobody should start there.
M.MIN_VERSION = "0.7.0"
--- The newest release kina was checked against; newer ones are used with a warning.
M.MAX_TESTED = "1.5.0"
--- Apple's releases from MIN_VERSION to MAX_TESTED (apple-container.md §1 tags; updates-2026-12
-- §1 after 1.2.2). Another version in that range is not a release (1.4.0: Apple discarded the
-- tag) and is used with a warning too.
M.RELEASES = {
  "0.7.0", "0.7.1", "0.8.0", "0.9.0", "0.10.0", "0.11.0", "0.12.0", "0.12.1", "0.12.2", "0.12.3",
  "1.0.0", "1.1.0", "1.2.0", "1.2.1", "1.2.2", "1.3.0", "1.3.1", "1.4.1", "1.5.0",
}
--- The labels identifying kina's nodes.
M.CLUSTER_LABEL = "io.kina.cluster"
M.ROLE_LABEL = "io.kina.role"

-- Seconds before a CLI call is given up as hung (Apple's CLI can hang: apple/container#1681,
-- #2275): kina.provider.common's.
M.DEFAULT_TIMEOUTS = common.DEFAULT_TIMEOUTS

--- `network list` (which tells macOS 26 from 15) runs with Apple's 1-second client timeout:
-- kina tries it this many times, waiting NETWORK_LIST_RETRY_DELAY × attempt seconds between.
M.NETWORK_LIST_ATTEMPTS = 3
M.NETWORK_LIST_RETRY_DELAY = 0.5

--- Why a CLI call failed, for people. Keyed by kina.core.apple.error_cause().
M.HINTS = {
  service_not_running = "Apple's container services are not running: run `container system start --enable-kernel-install`.",
  name_taken = "a container with that name already exists: delete it (`kina delete cluster --name ...` or `container delete --force NAME`) or choose another name.",
  memory_too_low = "Apple's runtime needs at least 200 MiB per container, and kubeadm wants about 2 GiB for a control plane: raise `memory`.",
  network_needs_macos26 = "networks other than `default`, and traffic between containers, need macOS 26; on macOS 15 kina can only create single-node clusters.",
  unknown_option = "this version of Apple's container CLI lacks an option kina needs: upgrade to 1.2.1 or later (`container --version`).",
  kernel_missing = "no Linux kernel is installed for Apple's runtime: run `container system kernel set --recommended`.",
  port_permission = "host ports below 1024 need root on macOS: pick a port of 1024 or more.",
  nf_tables = "the node booted the old 6.12 kernel, which lacks nf_tables: run `container system kernel set --recommended --force`, then recreate the cluster.",
  readonly_sysctl = "/proc/sys is read-only in the node: Apple's container 1.2.0 cannot run kind nodes; upgrade to 1.2.1 or later.",
  exec_not_found = "the program does not exist in the node image.",
  image_not_found = "the image was not found: check the reference, your network, and `container registry login` for private registries.",
  local_network = "macOS blocked the connection: allow Local Network access for `container-runtime-linux` in System Settings → Privacy & Security → Local Network.",
  timeout = "Apple's container CLI did not answer in time; it is known to hang when its services misbehave: try `container system stop && container system start --enable-kernel-install`.",
  not_running = "the node is not running: `kina start cluster` starts it again.",
}

---------------------------------------------------------------------------------------------
-- Errors

-- The error class and its command line are every provider's (kina.provider.common); they stay
-- reachable here under their old names.
local ProviderError = common.ProviderError
M.ProviderError = ProviderError
M.command_line = common.command_line
M.is_error = common.is_error
local new_error = common.new_error
local status_text = common.status_text

local function local_network_blocked(stderr)
  return stderr:find("No route to host", 1, true) or stderr:find("EHOSTUNREACH", 1, true)
end

---------------------------------------------------------------------------------------------
-- The provider object

local Provider = {}
Provider.__index = Provider

--- A provider driving Apple's CLI.
-- @tparam table opts `scheduler` (a kina.async scheduler; required), `binary` (default
--   $KINA_CONTAINER or "container"), `timeouts` (overrides of DEFAULT_TIMEOUTS), `env` (added to
--   every call's environment).
function M.new(opts)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "scheduler" and k ~= "binary" and k ~= "timeouts" and k ~= "env" then
      error("apple provider options: unknown field '" .. tostring(k) .. "'", 2)
    end
  end
  if type(opts.scheduler) ~= "table" or type(opts.scheduler.spawn) ~= "function" then
    error("apple provider options: field 'scheduler' must be a kina.async scheduler", 2)
  end
  -- KINA_CONTAINER_TIMEOUT (seconds) caps every call: for impatient scripts and for tests of
  -- a hung CLI
  local cap = tonumber(os.getenv("KINA_CONTAINER_TIMEOUT") or "")
  local timeouts = common.timeouts("apple", opts.timeouts, cap and cap > 0 and cap or nil)
  local binary = opts.binary or os.getenv("KINA_CONTAINER")
  if binary == nil or binary == "" then binary = "container" end
  return setmetatable({
    name = "apple",
    display_name = "Apple's runtime",
    doctor = "kina.doctor.apple",
    image_store = "Apple's image store (`container image save` writes the whole archive before it streams into the nodes)",
    binary = binary,
    sched = opts.scheduler,
    timeouts = timeouts,
    env = opts.env,
  }, Provider)
end

-- timeout(op), run_cli and call: every provider's (kina.provider.common)
common.add_cli_methods(Provider)

-- What to do when the CLI is not found (run_cli's hint for ENOENT).
function Provider:missing_cli_hint()
  return ("Apple's `container` CLI was not found as %q. Install it from https://github.com/apple/container/releases "
    .. "(it needs macOS 15 or later on Apple silicon), or set KINA_CONTAINER to its path."):format(self.binary)
end

-- Raise a ProviderError for a failed result (a job kina killed at its deadline: cause timeout).
function Provider:fail(op, node, argv, r)
  local cause = r.timed_out and "timeout" or apple.error_cause(r.stderr or "", r.code or -1)
  if not cause and local_network_blocked(r.stderr or "") then cause = "local_network" end
  error(new_error{ op = op, node = node, argv = argv, status = status_text(r), stderr = r.stderr,
    code = r.code, result = r, cause = cause, hint = cause and M.HINTS[cause] }, 0)
end

local decode = common.decode_json

---------------------------------------------------------------------------------------------
-- Runtime information

--- The CLI version (cached).
function Provider:version()
  if not self.cli_version then
    local r = self:call("version", nil, apple.argv_version())
    local v, err = apple.parse_version(r.stdout)
    if not v then error(new_error{ op = "version", message = err }, 0) end
    self.cli_version = v
  end
  return self.cli_version
end

--- The runtime's own account of itself for `kina export logs`, as kind's docker-info.txt:
-- a file name and `container system status` as the CLI prints it (any exit status: "apiserver
-- is not running" is worth keeping too).
function Provider:runtime_report()
  local r = self:run_cli("status", nil, { "system", "status" })
  return "container-system-status.txt", (r.stdout or "") .. (r.stderr or "")
end

--- {runtime, version, service_running, macos (15|26), features}. macOS's networking generation
-- is read from whether the `network` command exists: it is only registered on macOS 26.
function Provider:info()
  if self.cached_info then return self.cached_info end
  local version = self:version()
  local features = apple.features(version)
  local status = self:run_cli("status", nil, apple.argv_system_status(version))
  local running = status.code == 0
  -- the JSON (0.10.0+; nested from 1.4.1) names the server's version, and from 1.4.1 the
  -- client's: they differ after an upgrade until the services are restarted
  local detail, detail_error
  if features.status_format then
    local decoded, err = json.decode(status.stdout or "", { empty_arrays = false })
    if decoded ~= nil then detail, detail_error = apple.parse_system_status(decoded)
    else detail_error = "could not parse the CLI's JSON: " .. tostring(err) end
  end
  local macos
  if running then
    -- Apple's client gives `network list` 1 second (updates-2026-12 §1), so a busy machine
    -- fails it now and then: try NETWORK_LIST_ATTEMPTS times before giving up
    for attempt = 1, M.NETWORK_LIST_ATTEMPTS do
      local net, argv = self:run_cli("network list", nil, apple.argv_network_list(version))
      if net.code == 0 then macos = 26
      else
        local cause = apple.error_cause(net.stderr, net.code)
        if cause == "unknown_command" or cause == "unknown_option" or cause == "network_needs_macos26" then macos = 15
        elseif attempt == M.NETWORK_LIST_ATTEMPTS then
          self:fail("network list", nil, argv, net) -- not knowing would be a guess
        else
          self.sched:sleep(M.NETWORK_LIST_RETRY_DELAY * attempt)
        end
      end
      if macos then break end
    end
  end
  local info = {
    runtime = "apple",
    binary = self.binary,
    version = version,
    service_running = running,
    macos = macos,
    features = features,
    multi_node = macos == 26,
    status = detail,             -- kina.core.apple.parse_system_status's record, or nil
    status_error = detail_error, -- why there is none (output that is not the JSON expected)
  }
  if running then self.cached_info = info end
  return info
end

--- The capabilities this runtime declares (lua/kina/provider/README.md, "Capabilities"), facts of
-- apple-container.md §5.4: containers reach each other only on macOS 26; the host routes to
-- each container's IP on the vmnet bridge; IPs are allocated at start, so they can change across
-- stop/start; nodes are VMs run with --cap-add ALL, not --privileged containers; networks other
-- than `default` need macOS 26.
function Provider:capabilities()
  local macos26 = self:info().macos == 26
  return {
    nodes_reach_each_other = macos26,
    per_container_ip_routable_from_host = true,
    privileged = false,
    networks = macos26,
    ip_kept_across_restart = false,
    publishes_host_ports = true,
    -- every node is a VM of its own (apple-container §5.6): kina.cluster's DEFAULT_PREPARE
    needs_node_preparation = true,
    -- a VM has the CPUs and memory it is started with (kina's defaults when the config is silent)
    node_size_required = true,
  }
end

local function older(a, b) return apple.compare_versions(a, b) < 0 end

--- True when `version` is one of M.RELEASES.
function M.is_release(version)
  for _, r in ipairs(M.RELEASES) do
    if r == version then return true end
  end
  return false
end

--- Raise, with what to do about it, unless the runtime can run kina's nodes.
function Provider:ensure_ready()
  local info = self:info()
  if not info.features.nodes_boot then
    error(new_error{ op = "preflight", message = ("Apple's container %s cannot run kindest/node: it makes /proc/sys read-only "
      .. "with no way to opt out (apple/container#2041)"):format(info.version),
      hint = "upgrade to container 1.2.1 or later, which has --masked-path/--read-only-path NONE." }, 0)
  end
  if older(info.version, M.MIN_VERSION) then
    error(new_error{ op = "preflight", message = ("Apple's container %s is older than %s, the oldest release kina supports"):format(
      info.version, M.MIN_VERSION), hint = "upgrade Apple's container CLI (1.2.1 or later recommended)." }, 0)
  end
  if not info.service_running then
    error(new_error{ op = "preflight", message = "Apple's container services are not running",
      hint = M.HINTS.service_not_running }, 0)
  end
  local warnings = {}
  if older(M.MAX_TESTED, info.version) then
    warnings[#warnings + 1] = ("container %s is newer than %s, the newest release kina was checked against"):format(info.version, M.MAX_TESTED)
  elseif not M.is_release(info.version) then
    warnings[#warnings + 1] = ("container %s is not one of Apple's releases kina was checked against (%s … %s)"):format(
      info.version, M.MIN_VERSION, M.MAX_TESTED)
  end
  return info, warnings
end

---------------------------------------------------------------------------------------------
-- Nodes

--- Create and start a node from a description (see kina.core.spec.run_argv); returns the node
-- name and the process result.
function Provider:create(desc, field)
  local version = self:version()
  local args = spec.run_argv(desc, version, field)
  local r = self:call("run", desc.name, args)
  return desc.name, r
end

--- What a description would give without running anything: {warnings, host_ports} (the
-- spec builder's), raising on a field Apple's runtime cannot take.
function Provider:validate(desc, field)
  return (select(2, spec.run_argv(desc, self:version(), field)))
end

--- Why a failure of `cause` happened and what to do, for people (nil when kina has no hint).
function Provider:hint(cause) return M.HINTS[cause] end

--- `args` as a command line for people to run (`container exec NODE ...`).
function Provider:user_command(args)
  return M.command_line({ "container", table.unpack(args) })
end

--- The command a user runs to pull `ref` into the store kina loads images from.
function Provider:pull_command(ref)
  return M.command_line({ "container", table.unpack(apple.argv_image_pull(ref, nil, self:version())) })
end

--- The address ranges nodes take their IPs from, for NO_PROXY: Apple's default network is
-- normally 192.168.64.0/24 (apple-container §5.4); kina appends the /16 around it, as a peer
-- tool on Apple's runtime does (kind-and-peers §10), so other vmnet subnets there are covered.
function Provider:node_subnets()
  return { "192.168.0.0/16" }
end

--- The run argv a description gives, without running it (for dry runs and checks).
function Provider:run_argv(desc, field)
  return self:cli_argv((spec.run_argv(desc, self:version(), field)))
end

function Provider:start(name)
  return self:call("start", name, apple.argv_start(name, self:version()))
end

--- Stop a node. systemd in a kind node needs more than the CLI's 5 s default to shut down
-- cleanly, so kina waits `time` seconds (default 30) before the CLI kills it.
function Provider:stop(name, opts)
  local time = opts and opts.time or 30
  return self:call("stop", name, apple.argv_stop({ name }, { time = time }, self:version()),
    { timeout = time + self.timeouts.default })
end

function Provider:kill(name, signal)
  return self:call("kill", name, apple.argv_kill(name, signal, self:version()))
end

--- Delete nodes; deleting what is already gone is not an error (as with kind).
function Provider:delete(names, opts)
  if type(names) == "string" then names = { names } end
  if #names == 0 then return end
  local version = self:version()
  local r, argv = self:run_cli("delete", table.concat(names, ", "), apple.argv_delete(names, { force = opts == nil or opts.force ~= false }, version))
  if r.code == 0 then return r end
  -- Some were missing (the CLI stops at, or lists, those): delete the rest one by one and
  -- ignore "not found".
  if #names > 1 then
    for _, name in ipairs(names) do self:delete({ name }, opts) end
    return r
  end
  if apple.error_cause(r.stderr, r.code) == "not_found" then return r end
  self:fail("delete", names[1], argv, r)
end

local labels_match = common.labels_match

--- kina's nodes (containers labelled io.kina.cluster), optionally filtered by labels; the CLI has
-- no label filter, so filtering happens here.
function Provider:list(opts)
  opts = opts or {}
  -- the same command on every version, and the parser tells the JSON shapes apart, so listing
  -- costs one CLI call (no --version first)
  local r = self:call("list", nil, apple.argv_list())
  local records, err = apple.parse_containers(decode("list", r.stdout))
  if not records then error(new_error{ op = "list", message = err }, 0) end
  local out = {}
  for _, rec in ipairs(records) do
    rec.labels = rec.labels or {}
    rec.cluster = rec.labels[M.CLUSTER_LABEL]
    rec.role = rec.labels[M.ROLE_LABEL]
    if rec.cluster and labels_match(rec, opts.labels) then out[#out + 1] = rec end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

--- One node's record, or nil when there is no such container.
function Provider:inspect(name)
  local version = self:version()
  local r, argv = self:run_cli("inspect", name, apple.argv_inspect({ name }, version))
  if r.code ~= 0 then
    if apple.error_cause(r.stderr, r.code) == "not_found" then return nil end
    self:fail("inspect", name, argv, r)
  end
  local records, err = apple.parse_containers(decode("inspect", r.stdout))
  if not records then error(new_error{ op = "inspect", node = name, message = err }, 0) end
  local rec = records[1] -- before 1.0 a missing name printed [] with exit 0
  if rec then
    rec.labels = rec.labels or {}
    rec.cluster = rec.labels[M.CLUSTER_LABEL]
    rec.role = rec.labels[M.ROLE_LABEL]
  end
  return rec
end

--- The node's IPv4 address (without the prefix length), or raise when it has none (stopped).
function Provider:ip(name)
  local rec = self:inspect(name)
  if not rec then error(new_error{ op = "ip", node = name, message = "no such node" }, 0) end
  if not rec.ip then
    error(new_error{ op = "ip", node = name, message = ("node is %s and has no IP address"):format(rec.state or "not running"),
      hint = M.HINTS.not_running }, 0)
  end
  return rec.ip
end

--- The node's published ports ({{host_address, host_port, container_port, protocol, count}}), or
-- raise when there is no such node.
function Provider:ports(name)
  local rec = self:inspect(name)
  if not rec then error(new_error{ op = "ports", node = name, message = "no such node" }, 0) end
  return rec.ports or {}
end

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
  local interactive = opts.stdin ~= nil or opts.stdin_file ~= nil or opts.stdin_from ~= nil
  local args = apple.argv_exec(name, cmd, { interactive = interactive, env = opts.env, user = opts.user, workdir = opts.workdir }, self:version())
  local argv = self:cli_argv(args)
  local spawn = { argv = argv, timeout = opts.timeout or self.timeouts.exec, env = self.env,
    stdin = opts.stdin, stdin_file = opts.stdin_file, stdin_from = opts.stdin_from,
    on_stdout = opts.on_stdout, on_stderr = opts.on_stderr, stdout = opts.stdout, stdout_limit = opts.stdout_limit }
  return spawn, argv
end

--- Run `cmd` (argv) in a node; returns the result. Raises on a non-zero exit unless
-- opts.check == false. opts: stdin (string), stdin_file, stdin_from (a job with stdout "pipe"),
-- env, user, workdir, timeout, on_stdout/on_stderr (line callbacks), stdout, stdout_limit.
function Provider:exec(name, cmd, opts)
  local spawn, argv = exec_parts(self, name, cmd, opts)
  local r, err, code = self.sched:exec(spawn)
  if not r then error(new_error{ op = "exec", node = name, argv = argv, message = err, code = code }, 0) end
  if r.timed_out then
    error(new_error{ op = "exec", node = name, argv = argv, status = ("timed out after %gs"):format(spawn.timeout),
      stderr = r.stderr, result = r, cause = "timeout", hint = M.HINTS.timeout }, 0)
  end
  if r.code ~= 0 and not (opts and opts.check == false) then self:fail("exec", name, argv, r) end
  return r
end

--- Run kina.batch `b` in node `name`: its result (kina.batch result) and the exec's. A step of
-- the batch that fails raises a ProviderError naming that command, its exit status, the
-- batch's output and the hint for it; a batch that did not run raises as exec does.
function Provider:exec_batch(name, b, opts)
  local cmd = b:argv()
  local _, argv = exec_parts(self, name, cmd, { stdin = opts and opts.stdin })
  local r = self:exec(name, cmd, { check = false, timeout = opts and opts.timeout, stdin = opts and opts.stdin })
  local res = b:result(r)
  if not res.failed then return res, r end
  if not res.failed.argv then self:fail("exec", name, argv, r) end
  local f = res.failed
  local output = require("kina.batch").output(r)
  local cause = apple.error_cause(output, f.status)
  if not cause and local_network_blocked(output) then cause = "local_network" end
  error(new_error{ op = "exec", node = name, argv = f.path and { "printf", "%s", "<" .. f.path .. ">" } or f.argv,
    status = "exit status " .. tostring(f.status), stderr = output, code = f.status,
    result = { code = f.status, stdout = "", stderr = output }, cause = cause, hint = cause and M.HINTS[cause],
    message = f.path and ("writing " .. f.path) or nil }, 0)
end

--- The streaming form of exec: returns the scheduler job (await it, or pass it as another
-- job's stdin_from when opts.stdout == "pipe") and the argv.
function Provider:exec_job(name, cmd, opts)
  local spawn, argv = exec_parts(self, name, cmd, opts)
  return self.sched:spawn(spawn), argv
end

--- The node's log (the init process's output, or the VM's boot log with boot = true).
function Provider:logs(name, opts)
  opts = opts or {}
  return self:call("logs", name, apple.argv_logs(name, { tail = opts.tail, boot = opts.boot }, self:version())).stdout
end

--- Follow the node's log until a line matches `pattern` (a Lua pattern); true on a match,
-- raises a ProviderError after `timeout` seconds.
function Provider:wait_for_log(name, pattern, timeout)
  local matched = false
  local argv = self:cli_argv(apple.argv_logs(name, { follow = true }, self:version()))
  local r, err, code = self.sched:exec{
    argv = argv, env = self.env, timeout = timeout,
    on_stdout = function(line)
      if line:find(pattern) then
        matched = true
        return true -- stop following
      end
    end,
  }
  if not r then error(new_error{ op = "wait for log", node = name, argv = argv, message = err, code = code }, 0) end
  if matched then return true end
  if r.code and r.code ~= 0 then self:fail("logs", name, argv, r) end
  error(new_error{ op = "wait for log", node = name, argv = argv,
    message = ("no line matching %q appeared in the log within %gs"):format(pattern, timeout), stderr = r.stderr }, 0)
end

--- Write `data` (a string) or the file `path` to `dest` in the node, through
-- `exec -i NODE cp /dev/stdin DEST` (kind's pattern; `container cp` needs 1.0 and could write
-- nothing into tmpfs on 1.0). opts: `file = true` when `source` is a host path; `mode` ("0644").
function Provider:copy_to(name, source, dest, opts)
  return common.copy_to(self, name, source, dest, opts)
end

---------------------------------------------------------------------------------------------
-- Host ports

--- Raise naming the first host port that is already taken, before anything is created (a
-- known kind pain point: docker fails half-way through instead). ports = {{address, port,
-- protocol, field}}.
function Provider:check_host_ports(ports)
  return common.check_host_ports(ports)
end

---------------------------------------------------------------------------------------------
-- Networks (macOS 26 only)

function Provider:require_networks(op)
  local info = self:info()
  if info.macos == 15 then
    error(new_error{ op = op, message = "networks need macOS 26: on macOS 15 Apple's runtime has only the default network",
      hint = M.HINTS.network_needs_macos26 }, 0)
  end
end

function Provider:network_create(name, opts)
  self:require_networks("network create")
  return self:call("network create", name, apple.argv_network_create(name, opts, self:version()))
end

--- Delete a network; one that is already gone is not an error.
function Provider:network_delete(name)
  self:require_networks("network delete")
  local r, argv = self:run_cli("network delete", name, apple.argv_network_delete({ name }, self:version()))
  if r.code ~= 0 and apple.error_cause(r.stderr, r.code) ~= "not_found" then self:fail("network delete", name, argv, r) end
  return r
end

function Provider:network_list()
  self:require_networks("network list")
  local r = self:call("network list", nil, apple.argv_network_list(self:version()))
  local nets, err = apple.parse_networks(decode("network list", r.stdout))
  if not nets then error(new_error{ op = "network list", message = err }, 0) end
  return nets
end

function Provider:network_inspect(name)
  self:require_networks("network inspect")
  local r, argv = self:run_cli("network inspect", name, apple.argv_network_inspect({ name }, self:version()))
  if r.code ~= 0 then
    if apple.error_cause(r.stderr, r.code) == "not_found" then return nil end
    self:fail("network inspect", name, argv, r)
  end
  local nets, err = apple.parse_networks(decode("network inspect", r.stdout))
  if not nets then error(new_error{ op = "network inspect", message = err }, 0) end
  return nets[1]
end

---------------------------------------------------------------------------------------------
-- Images

function Provider:image_exists(ref)
  local r = self:run_cli("image inspect", nil, apple.argv_image_inspect({ ref }, self:version()))
  return r.code == 0
end

--- Pull an image. opts: platform, scheme ("http"|"https"; without it kina.core.apple passes
-- --scheme http from 1.3.0 for a registry that `--scheme auto` reached over http), on_progress.
function Provider:image_pull(ref, opts)
  opts = opts or {}
  return self:call("pull", nil, apple.argv_image_pull(ref, { platform = opts.platform, scheme = opts.scheme }, self:version()),
    { on_stderr = opts.on_progress })
end

--- Save images: to a file (opts.to = path), or, with opts.pipe = true, as a running job whose
-- stdout is a pipe for another job's stdin_from (so the archive streams child to child).
function Provider:image_save(refs, opts)
  opts = opts or {}
  if type(refs) == "string" then refs = { refs } end
  local args = apple.argv_image_save(refs, { platform = opts.platform, output = opts.to }, self:version())
  if opts.pipe then
    local argv = self:cli_argv(args)
    return self.sched:spawn{ argv = argv, stdout = "pipe", timeout = self.timeouts.save, env = self.env }, argv
  end
  return self:call("save", nil, args)
end

function Provider:image_load(path)
  return self:call("load", nil, apple.argv_image_load(path, self:version()))
end

return M
