--- kina.sim.services_down — what each command prints when Apple's services are down
-- (KINA_SIM_SYSTEM=stopped: not registered with launchd, as after `container system stop`).
--
-- Each command fails where Apple's code first talks to a service, with that call's wrapping:
--   * XPCClient.parseReply (Sources/ContainerXPC/XPCClient.swift, 0.7.0 to 1.2.2) turns the XPC
--     error into ContainerizationError(.interrupted, "XPC connection error: <description>");
--     the description launchd/XPC gives for an unregistered service is taken to be
--     "Connection invalid" (XPC_ERROR_CONNECTION_INVALID: pastes show it for `list` in
--     apple/container#80, unwrapped for `image pull` in #36, and from `system start`'s ping in
--     #1721 and #2008; README "Still unconfirmed" for the other services);
--   * a client method may wrap it (`failed to list containers`, …; cited per entry), and the
--     command may wrap that again (≤0.9 `logs`);
--   * Application.main (Sources/ContainerCommands/Application.swift:137 in 1.2.2, the same
--     from 0.7.0) rewraps any error whose description contains "XPC connection error" as
--     ContainerizationError(.interrupted, "<description>\nEnsure container system service has
--     been started with `container system start`."), which kina.sim.errors prints per release:
--     bare from 0.10 (containerization's LocalizedError text; #1721's paste), before as
--     `interrupted: "<description>\nEnsure …."` (the pastes in #268 and #672, 0.4.1).
-- Checks a command runs before its first service call (its validate(), a --name, a local path)
-- come first, with the texts the running simulator uses. `system status`, `system start`,
-- `system stop` and `system version` have their own answers (kina.sim.commands.system);
-- `check` returns nil for them.
local errors = require("kina.sim.errors")

local M = {}

--- The XPC failure as it appears nested: `interrupted: "XPC connection error: Connection invalid"`.
M.XPC = errors.nested("interrupted", "XPC connection error: Connection invalid")

M.HINT = "Ensure container system service has been started with `container system start`."

-- Application.swift: the rewrapped error, printed by kina.sim.errors for the release.
local function hinted(description)
  return errors.new("interrupted", description .. "\n" .. M.HINT)
end

-- A client method's ContainerizationError(.internalError, message: what, cause: the XPC error).
local function wrapped(what)
  return errors.nested("internalError", what) .. ' (cause: "' .. M.XPC .. '")'
end

local function fail(e) error(e, 0) end

-- The XPC error unwrapped: the health-check ping (ClientHealthCheck.ping, reached through
-- Application.loadContainerSystemConfig), ClientImage, NetworkClient and ClientKernel calls
-- pass it through as it is.
local function unwrapped() fail(hinted(M.XPC)) end

-- ContainerClient.list / ClientContainer.list (≤0.9): "failed to list containers"; `get(id:)`
-- lists first, so start and exec fail here too.
local function list_containers() fail(hinted(wrapped("failed to list containers"))) end

-- One line per container of an AggregateError (AggregateError.swift: descriptions joined by
-- "\n"), every line the same text.
local function per_container(ids, what)
  local lines = {}
  for i = 1, #ids do lines[i] = wrapped(what) end
  fail(hinted(table.concat(lines, "\n")))
end

-- validate() of stop, kill and delete (ContainerStop/Kill/Delete.swift, 0.7.0 to 1.2.2).
local function validate_ids(p, conflict)
  local ids = p.args["container-ids"] or {}
  if #ids == 0 and not p.opts.all then errors.throw("invalidArgument", "no containers specified and --all not supplied") end
  if #ids > 0 and p.opts.all then errors.throw("invalidArgument", conflict) end
  return ids
end

local function unique(list)
  local seen, out = {}, {}
  for _, x in ipairs(list) do
    if not seen[x] then seen[x] = true; out[#out + 1] = x end
  end
  return out
end

-- ContainerCopy.parsePathRef (1.0.0 to 1.2.2).
local function path_ref(ref)
  local parts = {}
  for part in (ref .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = part end
  if #parts == 1 then return { path = ref } end
  if #parts == 2 and parts[1] ~= "" and parts[2]:sub(1, 1) == "/" then return { id = parts[1], path = parts[2] } end
  errors.throw("invalidArgument", "invalid path given: " .. ref)
end

local function stat_type(path)
  local st = require("luv").fs_stat(path)
  return st and st.type or nil
end

local CHECKS = {}

-- ContainerList.swift, ContainerInspect.swift, ContainerStart.swift, ContainerExec.swift,
-- ContainerPrune.swift (0.9.0+): the container list is the first call.
CHECKS.list = list_containers
CHECKS.inspect = list_containers
CHECKS.start = list_containers
CHECKS.exec = list_containers
CHECKS.prune = list_containers

-- ContainerStop.swift: up to 0.10.0 the containers are listed first; from 0.11.0 each ID is
-- stopped directly (ContainerClient.stop: "failed to stop container"), --all lists.
function CHECKS.stop(S, p)
  local ids = validate_ids(p, "explicitly supplied container IDs conflict with the --all flag")
  if p.opts.all or S.v:lt("0.11.0") then list_containers() end
  per_container(ids, "failed to stop container")
end

-- ContainerKill.swift: up to 0.9 the running containers are listed first; from 0.10.0 each ID
-- is killed in turn (ContainerClient.kill: "failed to kill container"), --all lists.
function CHECKS.kill(S, p)
  local ids = validate_ids(p, "explicitly supplied container IDs conflict with the --all flag")
  if p.opts.all or S.v:lt("0.10.0") then list_containers() end
  per_container(ids, "failed to kill container")
end

-- ContainerDelete.swift: up to 0.10.0 the containers are listed first; from 0.11.0 each
-- distinct ID is deleted directly (ContainerClient.delete: "failed to delete container").
function CHECKS.delete(S, p)
  local ids = validate_ids(p, "explicitly supplied container ID(s) conflict with the --all flag")
  if p.opts.all or S.v:lt("0.11.0") then list_containers() end
  per_container(unique(ids), "failed to delete container")
end

-- ContainerLogs.swift: ≤0.9 gets the container (a list) inside a do/catch that rethrows
-- ContainerizationError(.invalidArgument, "failed to fetch container logs for X: <error>");
-- from 0.10.0 ContainerClient.logs: "failed to get logs for container X".
function CHECKS.logs(S, p)
  local id = p.args["container-id"]
  if S.v:lt("0.10.0") then
    fail(hinted(errors.nested("invalidArgument",
      "failed to fetch container logs for " .. id .. ": " .. wrapped("failed to list containers"))))
  end
  fail(hinted(wrapped("failed to get logs for container " .. id)))
end

-- ContainerCopy.swift (1.0.0+): the paths are parsed and the local side checked, then
-- ContainerClient.copyIn/copyOut: "failed to copy into/from container X".
function CHECKS.copy(S, p)
  local src, dst = path_ref(p.args.source), path_ref(p.args.destination)
  if src.id and dst.id then errors.throw("invalidArgument", "copying between containers is not supported") end
  if not src.id and not dst.id then
    errors.throw("invalidArgument", "one of source or destination must be a container reference (container_id:path)")
  end
  if src.id then
    if stat_type(dst.path) == "directory" and not src.path:match("[^/]") then
      errors.throw("invalidArgument", "source path has no last component: " .. src.path)
    end
    fail(hinted(wrapped("failed to copy from container " .. src.id)))
  end
  if S.v:ge("1.1.0") and not src.path:match("[^/]") then
    errors.throw("invalidArgument", "source path has no last component: " .. src.path)
  end
  local kind = stat_type(src.path)
  if not kind then errors.throw("notFound", "source path does not exist: " .. src.path) end
  if src.path:sub(-1) == "/" and kind ~= "directory" then
    errors.throw("invalidArgument", "source path is not a directory: " .. src.path)
  end
  fail(hinted(wrapped("failed to copy into container " .. dst.id)))
end

-- ContainerRun.swift, ContainerCreate.swift: from 1.0.0 loadContainerSystemConfig pings first;
-- before, the --name is checked (Utility.validEntityName) and the image is looked up
-- (Utility.containerConfigFromFlags → ClientImage.fetch → ClientImage.list; run's own
-- `try? get` swallows its failure). Unwrapped either way.
local function run_or_create(S, p)
  if S.v:lt("1.0.0") and p.opts.name then require("kina.sim.validate").container_name(p.opts.name) end
  unwrapped()
end
CHECKS.run = run_or_create
CHECKS.create = run_or_create

-- ImageList.swift: from 1.0.0 the ping comes first; before, validate() (--quiet with
-- --verbose, either with --format json; 0.7.0 to 0.12.3) runs before ClientImage.list.
CHECKS["image list"] = function(S, p)
  local o = p.opts
  if S.v:lt("1.0.0") then
    if o.quiet and o.verbose then errors.throw("invalidArgument", "cannot use flag --quiet and --verbose together") end
    if (o.quiet or o.verbose) and o.format == "json" then
      errors.throw("invalidArgument", "cannot use flag --quiet or --verbose along with --format json")
    end
  end
  unwrapped()
end

-- ImageInspect.swift, ImageTag.swift, ImagePull.swift: the ping (1.0.0+) or ClientImage.get /
-- ClientImage.pull (before; pull normalises the reference first).
CHECKS["image inspect"] = unwrapped
CHECKS["image tag"] = unwrapped
CHECKS["image pull"] = function(S, p)
  if S.v:lt("1.0.0") then
    local ref, why = require("kina.sim.images").normalize(p.args.reference)
    if not ref then errors.throw("invalidArgument", why) end
  end
  unwrapped()
end

-- ImageDelete.swift: validate(), then the ping (1.0.0+) or ClientImage.list/get.
CHECKS["image delete"] = function(_, p)
  local refs = p.args.images or {}
  if #refs == 0 and not p.opts.all then errors.throw("invalidArgument", "no images specified and --all not supplied") end
  if #refs > 0 and p.opts.all then errors.throw("invalidArgument", "explicitly supplied images conflict with the --all flag") end
  unwrapped()
end

-- ImageSave.swift: from 1.0.0 the ping comes first. Before, each reference's ClientImage.get
-- failure is printed (stdout) and the command fails with "failed to save image(s)", a text
-- without "XPC connection error", so without the hint.
CHECKS["image save"] = function(S, p)
  if S.v:ge("1.0.0") then unwrapped() end
  for _, r in ipairs(p.args.references) do
    S.out("failed to get image for reference " .. r .. ": " .. M.XPC .. "\n")
  end
  errors.throw("invalidArgument", "failed to save image(s)")
end

-- ImageLoad.swift (0.7.0 to 1.2.2): no ping; stdin is copied to a temporary file (or --input
-- must exist) before ClientImage.load asks the images service.
CHECKS["image load"] = function(S, p)
  local image = require("kina.sim.commands.image")
  local src, code = image.input_archive(S, p)
  if not src then return code end
  src.discard()
  unwrapped()
end

-- NetworkCreate/List/Inspect/Delete.swift: NetworkClient (ClientNetwork ≤0.11) passes the XPC
-- error through. create builds its NetworkConfiguration (name, labels, subnet) first; delete
-- runs validate() first.
CHECKS["network list"] = unwrapped
CHECKS["network inspect"] = unwrapped
CHECKS["network create"] = function(S, p)
  local validate = require("kina.sim.validate")
  validate.network_name(p.args.name, S.v)
  validate.labels(p.opts.label)
  local subnet = p.opts.subnet
  if subnet and not require("kina.sim.net").parse_cidr(subnet) then errors.throw("invalidArgument", "invalid subnet " .. subnet) end
  unwrapped()
end
CHECKS["network delete"] = function(_, p)
  local names = p.args["network-names"] or {}
  if #names == 0 and not p.opts.all then errors.throw("invalidArgument", "no networks specified and --all not supplied") end
  if #names > 0 and p.opts.all then
    errors.throw("invalidArgument", "explicitly supplied network name(s) conflict with the --all flag")
  end
  unwrapped()
end

-- KernelSet.swift: --recommended pings first (loadContainerSystemConfig); --binary and --tar
-- reach ClientKernel.installKernel(FromTar), unwrapped. Without any of them the handler's own
-- error applies.
CHECKS["system kernel set"] = function(_, p)
  local o = p.opts
  if o.recommended or o.binary or o.tar then unwrapped() end
end

-- Their own answers when the services are down: SystemStatus.swift (not registered with
-- launchd), SystemStart.swift, SystemStop.swift (its health check fails: nothing to stop),
-- SystemVersion.swift (the CLI row only: the 2-second ping fails).
local OWN_ANSWER = { ["system status"] = true, ["system start"] = true, ["system stop"] = true, ["system version"] = true }

--- Raise the error `p.path` fails with while the services are down, or return nil when the
-- command answers by itself; a number is an exit code to return at once (`image load` of a
-- missing --input).
function M.check(S, p)
  if OWN_ANSWER[p.path] then return nil end
  local check = CHECKS[p.path]
  if not check then error("kina.sim.services_down: no entry for `" .. tostring(p.path) .. "`", 0) end
  return check(S, p)
end

--- The commands with an entry (for specs).
function M.paths()
  local out = {}
  for path in pairs(CHECKS) do out[#out + 1] = path end
  for path in pairs(OWN_ANSWER) do out[#out + 1] = path end
  table.sort(out)
  return out
end

return M
