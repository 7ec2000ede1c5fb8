--- kina.sim.commands.container — run create start stop kill delete list inspect exec logs
-- copy prune.
--
-- Each handler is `fn(S, parsed) → exit code`, where S is the simulator context built by
-- kina.sim.main and `parsed` the result of kina.sim.args.parse. Runtime errors are raised as
-- kina.sim.errors objects. KINA_SIM_LATENCY sleeps happen outside the state lock.
local json = require("kina.json")
local errors = require("kina.sim.errors")
local validate = require("kina.sim.validate")
local images = require("kina.sim.images")
local render = require("kina.sim.render")
local net = require("kina.sim.net")
local util = require("kina.sim.util")
local state = require("kina.sim.state")

local M = {}
local A = json.array

local function throw(code, msg, cause) errors.throw(code, msg, cause) end

--- Fail or hang as KINA_SIM_FAIL / KINA_SIM_HANG say for (op, target).
local function fault_point(S, op, target, fail_error)
  if S.fault.should_hang(op, target) then S.hang() end
  local failing, pattern = S.fault.should_fail(op, target)
  if failing then error(fail_error(pattern), 0) end
end
M.fault_point = fault_point

local function sim_cause(pattern)
  return string.format('internalError: "simulated failure (KINA_SIM_FAIL=%s)"', pattern)
end

--- Pull `ref` into state if missing; returns the image record. `scheme` is the resolved
-- registry scheme (images.resolve_scheme): https to a plain-HTTP registry fails.
function M.ensure_image(S, data, ref, parts, platform, scheme)
  local img = data.images[ref]
  if img then return img end
  if scheme == "https" and images.plain_http_registry(parts and parts.domain, S.getenv) then
    error(images.tls_to_plain_http_error(), 0)
  end
  if not images.registry_has(ref, S.getenv) then error(images.not_found_error(ref, parts), 0) end
  img = images.record(ref, S.now(), platform)
  data.images[ref] = img
  return img
end

--- Start a stopped record inside a state update: allocate its IP on its network.
local function start_record(S, data, c)
  if c.state == "running" then return end
  local nw = c.networks[1]
  if nw and nw.network ~= "none" then
    local network = net.get(data, nw.network)
    -- ContainersService.bootstrap asks NetworksService.plugin(for:), which throws this (1.1.0+;
    -- the text before 1.1.0 is listed as unknown in sim/README.md).
    if not network then throw("notFound", "no network for id " .. nw.network) end
    local ip, prefix = net.allocate(data, nw.network, c.id)
    if not ip then throw("internalError", prefix) end
    c.ip, c.prefix, c.gateway, c.network = ip, prefix, network.gateway, nw.network
    c.mac = nw.mac or util.random_mac()
    c.mtu = nw.mtu or 1280
  end
  c.state = "running"
  c.started = S.now()
  c.stopped_at = nil
  c.boot = (c.boot or 0) + 1
end

local function stop_record(data, c)
  if c.state ~= "running" then return end
  net.release(data, c.network, c.ip)
  c.ip, c.prefix, c.gateway, c.mac = nil, nil, nil, nil
  c.state = "stopped"
end

local function delete_record(S, data, c)
  stop_record(data, c)
  data.containers[c.id] = nil
  if c.rootfs then util.rm_rf(c.rootfs) end
  local _ = S
end

-- A kindest/node whose entrypoint exited (kina.sim.node.entrypoint: no CAP_SYS_ADMIN, an old
-- IPv4 address and no current one) has no init process left: the container stops, as
-- Apple's runtime stops a container whose init exits. Observed lazily, when its log or an
-- exec looks at it. Returns the record as it now is.
local function settle(S, c)
  local node = S.node()
  if not (c.node and c.state == "running" and node and node.boot_failed) then return c end
  if not node.boot_failed(M.node_view(c), S.getenv, S.ctx_for(c.id)) then return c end
  return S.store:update(function(data)
    local cur = data.containers[c.id]
    if cur then stop_record(data, cur) end
    return cur or c
  end)
end
M.settle = settle

--- Build the container record from run/create options (client-side validation).
local function build_record(S, p, id, img_ref, img)
  local o = p.opts
  local v = S.v
  -- an image loaded from an archive runs as its own config says; others as the simulator's
  -- catalogue (kina.sim.images.defaults) says
  local defaults = img.process or images.defaults(img_ref)
  local labels = validate.labels(o.label)
  local memory = o.memory and validate.memory(o.memory) or 1024 * 1024 * 1024
  local cpus = o.cpus or 4
  local ports = validate.publish_all(o.publish, v)
  local networks = A()
  for _, spec in ipairs(o.network or {}) do networks[#networks + 1] = validate.network(spec, v) end
  if #networks == 0 then networks[1] = { network = "default" } end
  local mounts = A()
  for _, m in ipairs(o.mount or {}) do mounts[#mounts + 1] = validate.mount(m, S.v) end
  for _, m in ipairs(o.volume or {}) do mounts[#mounts + 1] = validate.volume(m) end
  for _, t in ipairs(o.tmpfs or {}) do
    mounts[#mounts + 1] = { type = "tmpfs", source = "tmpfs", destination = t, options = A() }
  end
  local cap_add = validate.capabilities(o.cap_add)
  local cap_drop = validate.capabilities(o.cap_drop)
  local masked = validate.path_overrides(o.masked_path, validate.DEFAULT_MASKED, "masked-path")
  local readonly = validate.path_overrides(o.read_only_path, validate.DEFAULT_READONLY, "read-only-path")
  if o.no_dns and (o.dns or o.dns_domain or o.dns_option or o.dns_search) then
    error(errors.usage({ text = "Error: --no-dns cannot be used with --dns, --dns-domain, --dns-option, or --dns-search" ..
      "\nUsage: container " .. p.path .. " [<options>] <image> [<arguments> ...]\n  See 'container " .. p.path ..
      " --help' for more information." }), 0)
  end
  if o.kernel and not require("luv").fs_stat(o.kernel) then
    throw("notFound", "kernel file not found at path " .. o.kernel)
  end
  local args = p.args.arguments or {}
  -- Parser.process (1.2.2): a non-empty --entrypoint replaces the image's entrypoint and drops
  -- its Cmd; an empty one counts as unset. Then the arguments, else the image's Cmd.
  local image_entrypoint = defaults.entrypoint or {}
  if v:ge("1.5.0") and #image_entrypoint == 1 and image_entrypoint[1] == "" then
    -- 1.5.0 (containerization 0.47.0, apple/container issue 2248): `Entrypoint: [""]` clears
    -- the image's entrypoint as Docker does; before, "" was the executable and the start failed
    image_entrypoint = {}
  end
  local command, override = {}, false
  if o.entrypoint and o.entrypoint ~= "" then
    command, override = { o.entrypoint }, true
  else
    for _, a in ipairs(image_entrypoint) do command[#command + 1] = a end
  end
  for _, a in ipairs(#args > 0 and args or (not override and defaults.cmd) or {}) do command[#command + 1] = a end
  local executable, arguments = command[1], { table.unpack(command, 2) }
  if not executable then throw("invalidArgument", "command/entrypoint not specified for container process") end
  local dns
  if not o.no_dns then
    dns = { nameservers = A(o.dns or {}), domain = o.dns_domain, search = A(o.dns_search or {}),
      options = A(o.dns_option or {}) }
  end
  local rlimits = A()
  for _, u in ipairs(o.ulimit or {}) do
    local t, soft, hard = u:match("^(%w+)=([^:]+):?(.*)$")
    if not t then throw("invalidArgument", "invalid ulimit format '" .. u .. "': expected <type>=<soft>[:<hard>]") end
    local function val(x) return x == "unlimited" and -1 or tonumber(x) end
    rlimits[#rlimits + 1] = { limit = "RLIMIT_" .. t:upper(), soft = val(soft), hard = val(hard ~= "" and hard or soft) }
  end
  local caps_all
  if not v.capabilities_default then caps_all = true
  else
    caps_all = false
    for _, c in ipairs(cap_add) do if c == "ALL" then caps_all = true end end
  end
  local readonly_proc_sys = false
  if v.default_readonly_paths then
    if readonly == nil then readonly_proc_sys = true
    else
      for _, r in ipairs(readonly) do if r == "/proc/sys" then readonly_proc_sys = true end end
    end
  end
  return {
    id = id,
    hostname = id,
    image = { reference = img.reference, digest = img.digest, mediaType = img.mediaType, size = img.size },
    node = images.is_node_image(img.reference),
    platform = validate.platform(o),
    labels = labels,
    cpus = cpus,
    memory = memory,
    ports = ports,
    sockets = A(),
    networks = networks,
    mounts = mounts,
    env = validate.environment(defaults.env, o.env_file, o.env, S.getenv),
    executable = executable,
    arguments = A(arguments),
    workdir = o.workdir or defaults.workdir or "/",
    user = o.user,
    uid = o.uid, gid = o.gid,
    tty = o.tty or false,
    interactive = o.interactive or false,
    dns = dns,
    rosetta = o.rosetta or false,
    ssh = o.ssh or false,
    read_only = o.read_only or false,
    use_init = o.init or false,
    virtualization = o.virtualization or false,
    cap_add = cap_add,
    cap_drop = cap_drop,
    caps_all = caps_all,
    masked_paths = masked,
    readonly_paths = readonly,
    readonly_proc_sys = readonly_proc_sys,
    shm_size = o.shm_size and math.floor(validate.size_bytes(o.shm_size)) or nil,
    stop_signal = defaults.stop_signal,
    kernel_args = A(o.kernel_arg or {}),
    rlimits = rlimits,
    remove = o.remove or false,
    state = "stopped",
    macos = S.macos,
  }
end

--- The ctx.container view of a record, for the node simulation.
function M.node_view(c)
  local env = {}
  for _, e in ipairs(c.env or {}) do
    local k, val = e:match("^([^=]*)=(.*)$")
    if k then env[k] = val end
  end
  return {
    id = c.id, ip = c.state == "running" and c.ip or nil, image = c.image.reference,
    labels = c.labels or {}, network = (c.networks[1] or {}).network, state = c.state,
    rootfs = c.rootfs, readonly_proc_sys = c.readonly_proc_sys or false, caps_all = c.caps_all or false,
    started = c.started, env = env, macos = c.macos, cpus = c.cpus, memory = c.memory, platform = c.platform,
  }
end

local function check_network_request(S, data, networks)
  for _, n in ipairs(networks) do
    if n.network ~= "default" and n.network ~= "none" then
      if S.macos < 26 then
        throw("invalidArgument", "non-default network configuration requires macOS 26 or newer")
      end
      -- Utility.swift checks each attachment with NetworkClient.get(id:), whose text this is
      -- (NetworkClient.swift, 0.12.3 to 1.2.2); `network inspect` says "network not found: X".
      if not net.get(data, n.network) then throw("notFound", "network " .. n.network .. " not found") end
    end
  end
end

local function create_container(S, p, is_run)
  local o = p.opts
  local v = S.v
  local id = o.name
  if id then validate.container_name(id) end
  if id and is_run then
    local snapshot = S.store:load()
    if snapshot.containers[id] then throw("exists", "container with id " .. id .. " already exists") end
  end
  id = id or util.uuid()
  local ref, parts = images.normalize(p.args.image)
  if not ref then throw("invalidArgument", parts) end
  local plat = validate.platform(o)
  local scheme = images.resolve_scheme(v, o.scheme, parts.domain)
  -- validate everything client-side before touching state
  local probe = build_record(S, p, id, ref, images.record(ref, 0, plat))
  if v:ge("0.10.0") and probe.memory < 200 * 1024 * 1024 then
    throw("invalidArgument", string.format("minimum memory amount allowed is 200 MiB (got %d bytes)", probe.memory))
  end
  if o.publish_socket then
    for _, s in ipairs(o.publish_socket) do
      local h, c = s:match("^([^:]+):([^:]+)$")
      if not h then
        throw("invalidArgument", "invalid publish-socket format " .. s .. ". Expected: host_path:container_path")
      end
      probe.sockets[#probe.sockets + 1] = { hostPath = h, containerPath = c }
    end
  end
  local record = S.store:update(function(data)
    local img = M.ensure_image(S, data, ref, parts, { os = plat.os, architecture = plat.architecture }, scheme)
    if data.containers[id] then
      if is_run then throw("exists", "container with id " .. id .. " already exists") end
      throw("exists", "container already exists: " .. id)
    end
    check_network_request(S, data, probe.networks)
    local c = build_record(S, p, id, ref, img)
    c.sockets = probe.sockets
    data.seq = data.seq + 1
    c.seq = data.seq
    c.created = S.now()
    c.rootfs = S.store.dir .. "/rootfs/" .. id
    data.containers[id] = c
    return c
  end)
  util.mkdir_p(record.rootfs)
  local node = S.node()
  if record.node and node and node.init_rootfs then
    local ok, err = node.init_rootfs(record.rootfs, M.node_view(record), S.getenv)
    if not ok then
      S.store:update(function(data) local cur = data.containers[id]; if cur then delete_record(S, data, cur) end end)
      throw("invalidArgument", tostring(err))
    end
  end
  if o.cidfile then
    local f = io.open(o.cidfile, "w")
    if f then f:write(id); f:close() end
  end
  return record
end

--- Boot a created container: latency (outside the lock), faults, then running.
local function boot(S, id, op)
  S.latency()
  local ok, err = pcall(fault_point, S, op, id, function(pattern)
    return errors.new("internalError", "failed to bootstrap container " .. id, sim_cause(pattern))
  end)
  if not ok then return nil, err end
  return S.store:update(function(data)
    local c = data.containers[id]
    if not c then throw("notFound", "container with ID " .. id .. " not found") end
    start_record(S, data, c)
    return c
  end)
end

local function run_attached(S, c)
  local node = S.node()
  if c.node then
    -- A node's init never exits: follow its boot log until the container stops.
    return M.follow_log(S, c.id, false, nil)
  end
  local code = 0
  if node and node.exec then
    local argv = { c.executable }
    for _, a in ipairs(c.arguments) do argv[#argv + 1] = a end
    code = node.exec(S.ctx_for(c.id), argv, {
      stdin = c.interactive and io.stdin or nil, stdout = io.stdout, stderr = io.stderr,
      interactive = c.interactive, tty = c.tty, env = M.node_view(c).env, user = c.user, workdir = c.workdir,
    }) or 0
  end
  S.store:update(function(data)
    local cur = data.containers[c.id]
    if cur then
      stop_record(data, cur)
      if cur.remove then delete_record(S, data, cur) end
    end
  end)
  return code
end

function M.run(S, p)
  local c = create_container(S, p, true)
  local started, err = boot(S, c.id, "run")
  if not started then
    -- run deletes the container it created when the start fails
    S.store:update(function(data)
      local cur = data.containers[c.id]
      if cur then delete_record(S, data, cur) end
    end)
    error(err, 0)
  end
  if p.opts.detach then
    S.out(c.id .. "\n")
    return 0
  end
  return run_attached(S, started)
end

function M.create(S, p)
  local c = create_container(S, p, false)
  fault_point(S, "create", c.id, function(pattern)
    S.store:update(function(data)
      local cur = data.containers[c.id]
      if cur then delete_record(S, data, cur) end
    end)
    return errors.new("internalError", "failed to create container " .. c.id, sim_cause(pattern))
  end)
  S.out(c.id .. "\n")
  return 0
end

local function get_failed(id)
  throw("notFound", "get failed: container " .. id .. " not found")
end

function M.start(S, p)
  local id = p.args["container-id"]
  local snapshot = S.store:load()
  local c = snapshot.containers[id]
  if not c then get_failed(id) end
  if c.state == "running" then
    if p.opts.attach or p.opts.interactive then
      throw("invalidArgument", "attach is currently unsupported on already running containers")
    end
    S.out(id .. "\n")
    return 0
  end
  local started, err = boot(S, id, "start")
  if not started then error(err, 0) end
  if p.opts.attach or p.opts.interactive then return run_attached(S, started) end
  S.out(id .. "\n")
  return 0
end

local function select_ids(S, p, data, running_only)
  local ids = p.args["container-ids"] or {}
  if p.opts.all then
    if #ids > 0 then
      throw("invalidArgument", p.path == "delete" and "explicitly supplied container ID(s) conflict with the --all flag"
        or "explicitly supplied container IDs conflict with the --all flag")
    end
    ids = {}
    for _, c in ipairs(state.sorted_containers(data)) do
      if not running_only or c.state == "running" then ids[#ids + 1] = c.id end
    end
    return ids
  end
  if #ids == 0 then throw("invalidArgument", "no containers specified and --all not supplied") end
  return ids
end

local function aggregate(lines)
  if #lines == 0 then return end
  error(errors.raw(table.concat(lines, "\n")), 0)
end

local function stop_or_kill(S, p, op, verb)
  local snapshot = S.store:load()
  -- `stop --all` takes stopped containers too and prints them (issue 10, from Apple's 1.2.2
  -- source); `kill --all` only the running ones
  local ids = select_ids(S, p, snapshot, op == "kill")
  local failures = {}
  for _, id in ipairs(ids) do
    if S.fault.should_hang(op, id) then S.hang() end
    local failing, pattern = S.fault.should_fail(op, id)
    local ok, msg = true, nil
    if failing then
      ok, msg = false, errors.nested("internalError", "failed to " .. verb .. " container") ..
        ' (cause: "' .. sim_cause(pattern) .. '")'
    else
      ok, msg = S.store:update(function(data)
        local c = data.containers[id]
        if not c then
          if op == "stop" and not S.v.stop_delete_missing_errors then return true end
          return false, errors.nested("internalError", "failed to " .. verb .. " container") ..
            ' (cause: "' .. errors.nested("notFound", "container with ID " .. id .. " not found") .. '")'
        end
        if op == "kill" and c.state ~= "running" then
          -- the runtime's text (issue 10, from Apple's 1.2.2 source); the wrapping around it
          -- is README "Still unconfirmed"
          return false, errors.nested("internalError", "failed to kill container") ..
            ' (cause: "' .. errors.nested("invalidState", "no runtime client exists: container is stopped") .. '")'
        end
        stop_record(data, c)
        if c.remove then delete_record(S, data, c) end
        return true
      end)
    end
    if ok then
      if snapshot.containers[id] or S.v.stop_delete_missing_errors then S.out(id .. "\n") end
    else
      failures[#failures + 1] = msg
    end
  end
  aggregate(failures)
  return 0
end

function M.stop(S, p) return stop_or_kill(S, p, "stop", "stop") end

--- Stop every running container inside a state update (`system stop`: ContainerStop.stopContainers
-- over `client.list()`); returns their IDs.
function M.stop_all(S, data)
  local stopped = {}
  for _, c in ipairs(state.sorted_containers(data)) do
    if c.state == "running" then
      stop_record(data, c)
      if c.remove then delete_record(S, data, c) end
      stopped[#stopped + 1] = c.id
    end
  end
  return stopped
end
function M.kill(S, p) return stop_or_kill(S, p, "kill", "kill") end

function M.delete(S, p)
  local snapshot = S.store:load()
  local ids = select_ids(S, p, snapshot, false)
  if p.opts.all and not p.opts.force then
    local kept = {}
    for _, id in ipairs(ids) do if snapshot.containers[id].state ~= "running" then kept[#kept + 1] = id end end
    ids = kept
  end
  local seen, failures, missing = {}, {}, {}
  for _, id in ipairs(ids) do
    if not seen[id] then
      seen[id] = true
      if S.fault.should_hang("delete", id) then S.hang() end
      local failing, pattern = S.fault.should_fail("delete", id)
      local ok, msg
      if failing then
        ok, msg = false, errors.nested("internalError", "failed to delete container") ..
          ' (cause: "' .. sim_cause(pattern) .. '")'
      else
        ok, msg = S.store:update(function(data)
          local c = data.containers[id]
          if not c then return false, "missing" end
          if c.state == "running" and not p.opts.force then
            return false, errors.nested("internalError", "failed to delete container") .. ' (cause: "' ..
              errors.nested("invalidState", "container " .. id .. " is running and can not be deleted") .. '")'
          end
          delete_record(S, data, c)
          return true
        end)
      end
      if ok then S.out(id .. "\n")
      elseif msg == "missing" then
        if S.v.stop_delete_missing_errors then
          failures[#failures + 1] = errors.nested("internalError", "failed to delete container") ..
            ' (cause: "' .. errors.nested("notFound", "container with ID " .. id .. " not found") .. '")'
        else
          missing[#missing + 1] = '"' .. id .. '"'
        end
      else
        failures[#failures + 1] = msg
      end
    end
  end
  if #missing > 0 then
    throw("notFound", "failed to delete one or more containers: [" .. table.concat(missing, ", ") .. "]")
  end
  aggregate(failures)
  return 0
end

function M.list(S, p)
  local data = S.store:load()
  local all = state.sorted_containers(data)
  local fmt = p.opts.format or "table"
  local show_all = p.opts.all or (fmt == "json" and not S.v.list_json_honours_all)
  local list = {}
  for _, c in ipairs(all) do
    if show_all or c.state == "running" then list[#list + 1] = c end
  end
  if fmt == "json" then
    S.out(render.encode(render.containers(list, S.v), S.v, false) .. "\n")
  elseif fmt == "table" then
    if p.opts.quiet then
      for _, c in ipairs(list) do S.out(c.id .. "\n") end
    else
      S.out(render.container_table(list, S.v) .. "\n")
    end
  else
    throw("unsupported", "format " .. fmt .. " is not supported by the simulator")
  end
  return 0
end

function M.inspect(S, p)
  local data = S.store:load()
  local list = A()
  for _, id in ipairs(p.args["container-ids"]) do
    fault_point(S, "inspect", id, function(pattern)
      return errors.new("internalError", "failed to inspect container " .. id, sim_cause(pattern))
    end)
    local c = data.containers[id]
    if c then list[#list + 1] = render.container(c, S.v)
    elseif S.v.inspect_missing_errors then throw("notFound", "container not found: " .. id) end
  end
  S.out(render.encode(list, S.v, true) .. "\n")
  return 0
end

function M.exec(S, p)
  local id = p.args["container-id"]
  local argv = p.args.arguments
  local data = S.store:load()
  local c = data.containers[id]
  if not c then get_failed(id) end
  if c.state == "running" then c = settle(S, c) end
  if c.state ~= "running" then throw("invalidState", "container " .. id .. " is not running") end
  local o = p.opts
  local cmdline = table.concat(argv, " ")
  S.latency()
  if S.fault.should_hang("exec", cmdline) then S.hang() end
  local failing, pattern = S.fault.should_fail("exec", cmdline)
  if failing then
    io.stderr:write(string.format("%s: simulated failure (KINA_SIM_FAIL=%s)\n", argv[1], pattern))
    return 1
  end
  local view = M.node_view(c)
  local env = {}
  for k, val in pairs(view.env) do env[k] = val end
  for _, e in ipairs(validate.environment({}, o.env_file, o.env, S.getenv)) do
    local k, val = e:match("^([^=]*)=(.*)$")
    env[k] = val
  end
  local node = S.node()
  if not node or not node.exec then
    -- the container side of the simulator failed to load: a bug, not something to imitate
    error("kina.sim.node could not be loaded: " .. tostring(S.node_error), 0)
  end
  local pio = {
    stdin = o.interactive and io.stdin or nil, stdout = io.stdout, stderr = io.stderr,
    interactive = o.interactive or false, tty = o.tty or false, env = env,
    user = o.user or (o.uid and tostring(o.uid)) or c.user, workdir = o.workdir or c.workdir,
  }
  if o.detach then
    S.out(id .. "\n")
    io.stdout:flush()
    pio.stdout, pio.stderr = io.open("/dev/null", "w"), io.open("/dev/null", "w")
    node.exec(S.ctx_for(id), argv, pio)
    return 0
  end
  local code = node.exec(S.ctx_for(id), argv, pio)
  return math.tointeger(code) or 0
end


--- Lines of a container's log: the node simulation's boot log for kindest/node images.
local function log_lines(S, c, boot, now)
  local node = S.node()
  if c.node and node and node.boot_log then
    local lines = node.boot_log(M.node_view(c), now, S.getenv, S.ctx_for(c.id)) or {}
    settle(S, c)
    return lines
  end
  if boot then
    return { "[    0.000000] Linux version 6.18.15 (kina-sim) #1 SMP", "[    0.100000] Run /sbin/vminitd as init process" }
  end
  return {}
end

function M.follow_log(S, id, boot, n)
  local printed = 0
  local first = true
  while true do
    local data = S.store:load()
    local c = data.containers[id]
    if not c then return 0 end
    local lines = log_lines(S, c, boot, S.now())
    local start = printed + 1
    if first and n and n >= 0 then start = math.max(1, #lines - n + 1) end
    first = false
    for i = start, #lines do S.out(lines[i] .. "\n") end
    io.stdout:flush()
    printed = math.max(printed, #lines)
    if c.state ~= "running" then return 0 end
    util.sleep_ms(200)
  end
end

function M.logs(S, p)
  local id = p.args["container-id"]
  local data = S.store:load()
  local c = data.containers[id]
  if not c then
    throw("internalError", "failed to get logs for container " .. id,
      errors.nested("notFound", "container with ID " .. id .. " not found"))
  end
  fault_point(S, "logs", id, function(pattern)
    return errors.new("internalError", "failed to get logs for container " .. id, sim_cause(pattern))
  end)
  if p.opts.follow then return M.follow_log(S, id, p.opts.boot, p.opts.n) end
  local lines = log_lines(S, c, p.opts.boot, S.now())
  local start = 1
  if p.opts.n and p.opts.n >= 0 then start = math.max(1, #lines - p.opts.n + 1) end
  for i = start, #lines do S.out(lines[i] .. "\n") end
  return 0
end

-- ContainerCopy.parsePathRef: "id:/abs/path" is a container path, a word without ":" a local
-- one, anything else invalid.
local function parse_path_ref(ref)
  local parts = {}
  for part in (ref .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = part end
  if #parts == 1 then return { path = ref } end
  if #parts == 2 and parts[1] ~= "" and parts[2]:sub(1, 1) == "/" then return { id = parts[1], path = parts[2] } end
  throw("invalidArgument", "invalid path given: " .. ref)
end

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  return (require("luv").cwd() or ".") .. "/" .. path
end

local function clean(path)
  local c = path:gsub("/+", "/")
  if #c > 1 then c = c:gsub("/$", "") end
  return c
end

local function last_component(path)
  return clean(path):match("([^/]+)$")
end

-- ContainerCopy.swift (1.0+): the printed destination and error texts follow it; the copy
-- itself handles regular files.
function M.copy(S, p)
  local src, dst = parse_path_ref(p.args.source), parse_path_ref(p.args.destination)
  if src.id and dst.id then throw("invalidArgument", "copying between containers is not supported") end
  if not src.id and not dst.id then
    throw("invalidArgument", "one of source or destination must be a container reference (container_id:path)")
  end
  local id = src.id or dst.id
  local data = S.store:load()
  local c = data.containers[id]
  if not c then get_failed(id) end
  if c.state ~= "running" then throw("invalidState", "container " .. id .. " is not running") end
  fault_point(S, "copy", id, function(pattern)
    return errors.new("internalError", "failed to copy for container " .. id, sim_cause(pattern))
  end)
  local uv = require("luv")
  local function write(to, content)
    local dir = to:match("^(.*)/[^/]*$")
    if dir and dir ~= "" then util.mkdir_p(dir) end
    local f = io.open(to, "wb")
    if not f then throw("internalError", "cannot write " .. to) end
    f:write(content)
    f:close()
  end
  if dst.id then
    -- copy in
    local local_path = clean(absolute(src.path))
    local st = uv.fs_stat(local_path)
    if not st then throw("notFound", "source path does not exist: " .. src.path) end
    if src.path:sub(-1) == "/" and st.type ~= "directory" then
      throw("invalidArgument", "source path is not a directory: " .. src.path)
    end
    local content = util.read_file(local_path)
    if not content then throw("invalidArgument", "cannot copy " .. src.path .. ": the simulator copies regular files only") end
    local target = dst.path
    local host_target = c.rootfs .. clean(target)
    local tst = uv.fs_stat(host_target)
    if target:sub(-1) == "/" or (tst and tst.type == "directory") then
      host_target = host_target .. "/" .. last_component(local_path)
    end
    write(host_target, content)
    S.out((dst.path:sub(-1) == "/" and (id .. ":" .. dst.path .. last_component(local_path)) or (id .. ":" .. dst.path)) .. "\n")
    return 0
  end
  -- copy out
  local content = util.read_file(c.rootfs .. clean(src.path))
  if not content then throw("notFound", "path " .. src.path .. " does not exist in container " .. id) end
  local dest = clean(absolute(dst.path))
  local dst_st = uv.fs_stat(dest)
  if dst_st and dst_st.type == "directory" then
    dest = dest .. "/" .. last_component(src.path)
  elseif dst.path:sub(-1) == "/" then
    throw("invalidArgument", "destination is not a directory: " .. dst.path)
  end
  write(dest, content)
  S.out(dest .. "\n")
  return 0
end

function M.prune(S, p)
  local _ = p
  local removed = S.store:update(function(data)
    local ids = {}
    for _, c in ipairs(state.sorted_containers(data)) do
      if c.state ~= "running" then
        ids[#ids + 1] = c.id
        delete_record(S, data, c)
      end
    end
    return ids
  end)
  for _, id in ipairs(removed) do S.out(id .. "\n") end
  return 0
end

M.start_record = start_record
M.stop_record = stop_record
return M
