--- kina.sim.main — entry point of the `container` CLI simulator.
--
-- `main(args) → exit code`, args = argv after the program name. The host (build/kina run as
-- `container`) calls it and exits with the result.
--
-- Environment:
--   KINA_SIM_VERSION   CLI release imitated (x.y.z, default 1.2.2)
--   KINA_SIM_MACOS     15 or 26 (default 26): network command, non-default networks, reachability
--   KINA_SIM_STATE     state directory (default $TMPDIR/kina-sim-state)
--   KINA_SIM_LATENCY   milliseconds slept by run/start/exec/image pull (outside the state lock)
--   KINA_SIM_FAIL, KINA_SIM_HANG   injected faults (grammar in kina.sim.fault)
--   KINA_SIM_SYSTEM    "stopped": services down (each command's XPC error, kina.sim.services_down;
--                      --version, help, system start/status/stop/version answer by themselves)
--   KINA_SIM_LOG       file to which each invocation's argv is appended as one JSON array
--   KINA_SIM_IMAGES    optional comma list: the only references the registry has (kina.sim.images)
local json = require("kina.json")
local args_mod = require("kina.sim.args")
local errors = require("kina.sim.errors")
local versions = require("kina.sim.versions")
local fault = require("kina.sim.fault")
local state = require("kina.sim.state")
local util = require("kina.sim.util")
local specs = require("kina.sim.commands.specs")

local M = {}

local function cmd(spec, module, fn, extra)
  local c = { spec = spec, module = module, fn = fn }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

-- Command tree: name → entry; groups have `subs`.
local function tree(v, macos)
  local t = {
    run = cmd(specs.run, "container", "run"),
    create = cmd(specs.create, "container", "create"),
    start = cmd(specs.start, "container", "start"),
    stop = cmd(specs.stop, "container", "stop"),
    kill = cmd(specs.kill, "container", "kill"),
    delete = cmd(specs.delete, "container", "delete"),
    list = cmd(specs.list, "container", "list"),
    inspect = cmd(specs.inspect, "container", "inspect"),
    exec = cmd(specs.exec, "container", "exec"),
    logs = cmd(specs.logs, "container", "logs"),
    image = { name = "image", abstract = "Manage images", subs = {
      list = cmd(specs.image_list, "image", "list"),
      pull = cmd(specs.image_pull, "image", "pull"),
      save = cmd(specs.image_save, "image", "save"),
      load = cmd(specs.image_load, "image", "load"),
      tag = cmd(specs.image_tag, "image", "tag"),
      delete = cmd(specs.image_delete, "image", "delete"),
      inspect = cmd(specs.image_inspect, "image", "inspect"),
    }, aliases = { ls = "list", rm = "delete" } },
    system = { name = "system", abstract = "Manage system components", subs = {
      status = cmd(specs.system_status, "system", "status"),
      start = cmd(specs.system_start, "system", "start"),
      stop = cmd(specs.system_stop, "system", "stop"),
      kernel = { name = "system kernel", abstract = "Manage the default kernel configuration", subs = {
        set = cmd(specs.system_kernel_set, "system", "kernel_set"),
      } },
    } },
  }
  t.rm = t.delete
  t.ls = t.list
  t.i = t.image
  t.s = t.system
  if v:ge("1.0.0") then
    t.copy = cmd(specs.copy, "container", "copy")
    t.cp = t.copy
  end
  if v:ge("0.9.0") then t.prune = cmd(specs.prune, "container", "prune") end
  if v:ge("0.8.0") then t.system.subs.version = cmd(specs.system_version, "system", "version") end
  if macos >= 26 then
    t.network = { name = "network", abstract = "Manage container networks", subs = {
      create = cmd(specs.network_create, "network", "create"),
      list = cmd(specs.network_list, "network", "list"),
      inspect = cmd(specs.network_inspect, "network", "inspect"),
      delete = cmd(specs.network_delete, "network", "delete"),
    }, aliases = { ls = "list", rm = "delete" } }
    t.n = t.network
  end
  return t
end

local ROOT_HELP = [[
OVERVIEW: A container platform for macOS

USAGE: container [--debug] <subcommand>

OPTIONS:
  --debug                 Enable debug output [environment: CONTAINER_DEBUG]
  --version               Show the version.
  -h, --help              Show help information.

CONTAINER SUBCOMMANDS:
  create                  Create a new container
  delete, rm              Delete one or more containers
  exec                    Run a new command in a running container
  inspect                 Display information about one or more containers
  kill                    Kill or signal one or more running containers
  list, ls                List containers
  logs                    Fetch container logs
  run                     Run a container
  start                   Start a container
  stop                    Stop one or more running containers

IMAGE SUBCOMMANDS:
  image, i                Manage images

OTHER SUBCOMMANDS:
%s  system, s               Manage system components
]]

local function root_help(t)
  local extra = ""
  if t.network then extra = "  network, n              Manage container networks\n" end
  local s = string.format(ROOT_HELP, extra)
  if t.copy then s = s:gsub("  create ", "  copy, cp                Copy files between a container and the local filesystem\n  create ", 1) end
  if t.prune then s = s:gsub("  run     ", "  prune                   Remove all stopped containers\n  run     ", 1) end
  return s
end

local function plugin_error(S, name)
  local root = S.getenv("KINA_SIM_INSTALL_ROOT") or "/usr/local"
  return errors.usage({ exit = 64, text = table.concat({
    "Error: Plugin 'container-" .. name .. "' not found.",
    "",
    "- If system services are not running, start them with: container system start",
    "- If the plugin isn't installed, ensure it exists under:",
    "",
    "Check to see that the plugin exists under:",
    "  - " .. root .. "/libexec/container-plugins/" .. name,
    "  - " .. root .. "/libexec/container/plugins/" .. name,
    "",
    "Usage: container [--debug] <subcommand>",
    "  See 'container --help' for more information.",
  }, "\n") })
end

--- Build the simulator context for one invocation.
local function context(getenv)
  local v, verr = versions.new(getenv("KINA_SIM_VERSION"))
  if not v then error(errors.raw(verr), 0) end
  local macos = tonumber(getenv("KINA_SIM_MACOS") or "26") or 26
  local dir = getenv("KINA_SIM_STATE")
  if not dir or dir == "" then dir = state.default_dir(getenv) end
  local S = {
    v = v, macos = macos, getenv = getenv,
    fault = fault.new(getenv("KINA_SIM_FAIL"), getenv("KINA_SIM_HANG")),
    system_stopped = getenv("KINA_SIM_SYSTEM") == "stopped",
    now = util.now, hang = fault.hang,
  }
  local latency = tonumber(getenv("KINA_SIM_LATENCY") or "")
  function S.latency() util.sleep_ms(latency) end
  function S.out(s) io.stdout:write(s) end
  function S.open_store()
    if not S.store then
      local store, err = state.open(dir)
      if not store then error(errors.raw("cannot open simulator state " .. dir .. ": " .. tostring(err)), 0) end
      S.store = store
    end
    return S.store
  end
  local node_mod, node_tried
  function S.node()
    if not node_tried then
      node_tried = true
      local ok, mod = pcall(require, "kina.sim.node")
      if ok then node_mod = mod else S.node_error = mod end
    end
    return node_mod
  end
  --- ctx for the node simulation, for container `id`.
  function S.ctx_for(id)
    local container = require("kina.sim.commands.container")
    local function views()
      local data = S.store:load()
      local list = {}
      for _, c in ipairs(state.sorted_containers(data)) do list[#list + 1] = container.node_view(c) end
      return list
    end
    local ctx = { version = v.string, macos = macos }
    local data = S.store:load()
    ctx.container = data.containers[id] and container.node_view(data.containers[id]) or nil
    ctx.containers = views
    function ctx.find_by_ip(ip)
      for _, c in ipairs(views()) do if c.ip == ip then return c end end
      return nil
    end
    function ctx.reachable(from, to)
      if not from or not to or from.state ~= "running" or to.state ~= "running" then return false end
      if from.id == to.id then return true end
      if macos < 26 then return false end
      return from.network == to.network
    end
    ctx.env = getenv
    function ctx.lock(name) return S.store:lock(name) end
    ctx.should_fail = S.fault.should_fail
    return ctx
  end
  return S
end

-- Operations whose handlers have no fault point of their own: KINA_SIM_FAIL / KINA_SIM_HANG
-- apply here, before anything runs, with the runtime's "failed to …" wording. The target is
-- each positional argument (network names for `network inspect`), or none.
local GENERIC_FAULTS = {
  list = "failed to list containers", prune = "failed to prune containers",
  ["image list"] = "failed to list images",
  ["network list"] = "failed to list networks", ["network inspect"] = "failed to get network",
  ["system status"] = "failed to get system status", ["system version"] = "failed to get system version",
  ["system start"] = "failed to start system services", ["system kernel set"] = "failed to set kernel",
}

local function generic_fault(S, path, parsed)
  local what = GENERIC_FAULTS[path]
  if not what then return end
  local targets = {}
  for _, v in pairs(parsed.args) do
    if type(v) == "table" then for _, x in ipairs(v) do targets[#targets + 1] = x end
    elseif type(v) == "string" then targets[#targets + 1] = v end
  end
  if #targets == 0 then targets[1] = false end
  for _, t in ipairs(targets) do
    local target = t or nil
    if S.fault.should_hang(path, target) then S.hang() end
    local failing, pattern = S.fault.should_fail(path, target)
    if failing then
      error(errors.new("internalError", what,
        string.format('internalError: "simulated failure (KINA_SIM_FAIL=%s)"', pattern)), 0)
    end
  end
end

local function dispatch(S, argv)
  local v = S.v
  local t = tree(v, S.macos)
  local i = 1
  while argv[i] == "--debug" do i = i + 1 end
  local word = argv[i]
  if word == nil or word == "-h" or word == "--help" or word == "help" then
    io.stdout:write(root_help(t))
    return 0
  end
  if word == "--version" then
    io.stdout:write(string.format("container CLI version %s (build: release, commit: %s)\n", v.string, v.short_commit))
    return 0
  end
  if word:sub(1, 1) == "-" then
    error(errors.usage({ text = "Error: Unknown option '" .. word .. "'\nUsage: container [--debug] <subcommand>\n" ..
      "  See 'container --help' for more information." }), 0)
  end
  local entry = t[word]
  if not entry then error(plugin_error(S, word), 0) end
  local path = { }
  -- Walk groups.
  while entry.subs do
    path[#path + 1] = entry.name
    i = i + 1
    local sub = argv[i]
    if sub == nil or sub == "-h" or sub == "--help" then
      local lines = { "OVERVIEW: " .. entry.abstract, "", "USAGE: container " .. entry.name .. " <subcommand>", "",
        "OPTIONS:", "  -h, --help              Show help information.", "", "SUBCOMMANDS:" }
      local names = {}
      for n in pairs(entry.subs) do names[#names + 1] = n end
      table.sort(names)
      for _, n in ipairs(names) do lines[#lines + 1] = "  " .. n end
      io.stdout:write(table.concat(lines, "\n") .. "\n")
      return 0
    end
    local name = (entry.aliases and entry.aliases[sub]) or sub
    local nxt = entry.subs[name]
    if not nxt then
      error(errors.usage({ text = "Error: Unexpected argument '" .. sub .. "'\nUsage: container " .. entry.name ..
        " <subcommand>\n  See 'container " .. entry.name .. " --help' for more information." }), 0)
    end
    entry = nxt
  end
  local spec = entry.spec
  local parsed, perr = args_mod.parse(spec, argv, i + 1, v)
  if not parsed then error(errors.usage(perr), 0) end
  if parsed.help then
    io.stdout:write(args_mod.help(spec, v))
    return 0
  end
  parsed.path = spec.path
  S.open_store()
  -- `container system stop` deregisters the services until `system start` (state, not env)
  if not S.system_stopped and spec.path ~= "system stop" and S.store:load().services_stopped then S.system_stopped = true end
  if S.system_stopped then
    -- where and how each command fails without Apple's services (kina.sim.services_down);
    -- system start/status/stop/version answer by themselves
    local code = require("kina.sim.services_down").check(S, parsed)
    if code then return code end
  end
  generic_fault(S, spec.path, parsed)
  local module = require("kina.sim.commands." .. entry.module)
  return module[entry.fn](S, parsed)
end

--- Run the simulator for `args` (argv after the program name); returns the exit code.
function M.main(args, getenv)
  getenv = getenv or os.getenv
  args = args or {}
  local logfile = getenv("KINA_SIM_LOG")
  if logfile and logfile ~= "" then
    local list = json.array({})
    for i, a in ipairs(args) do list[i] = a end
    util.append_line(logfile, json.encode(list))
  end
  local S
  local ok, res = xpcall(function()
    S = context(getenv)
    return dispatch(S, args)
  end, function(e)
    if errors.is(e) then return e end
    return { internal = true, message = tostring(e), trace = debug.traceback(tostring(e), 2) }
  end)
  io.stdout:flush()
  if ok then return math.tointeger(res) or 0 end
  if errors.is(res) then
    local v = S and S.v or versions.new(versions.DEFAULT)
    io.stderr:write(errors.render(res, v) .. "\n")
    return res.exit or 1
  end
  io.stderr:write("Error: internal simulator error: " .. res.trace .. "\n")
  return 1
end

return M
