--- kina.sim.commands.system — system status, version, start, kernel set.
local json = require("kina.json")
local render = require("kina.sim.render")

local M = {}

local function roots(S)
  local home = S.getenv("HOME") or "/Users/kina"
  return home .. "/Library/Application Support/com.apple.container/", "/usr/local/"
end

-- 1.4.1's nested status (PR 1769; updates-2026-12 §1, shape from kylemclaren/container-ui
-- issue 14). Only `status`, the client's keys and `server.version` being the bare version are
-- confirmed; `server` is given the client's keys, `host` this simulated Mac (arm64, 8 CPUs,
-- "macOS <KINA_SIM_MACOS>"), `logRoot` is left out (optional): README "Still unconfirmed".
local function nested_status(S, app_root, install_root)
  local data = S.store:load()
  local running, total, images = 0, 0, 0
  for _, c in pairs(data.containers) do
    total = total + 1
    if c.state == "running" then running = running + 1 end
  end
  for _ in pairs(data.images) do images = images + 1 end
  local commit = S.v.commit or "unspecified"
  -- KINA_SIM_SERVER_VERSION (x.y.z): the services still run an older release after an upgrade
  -- until `container system stop && container system start` (updates-2026-12 §1, 1.3.1 row:
  -- third-party); the nested status names both (client.version, server.version: PR 1769)
  local server_version = S.getenv("KINA_SIM_SERVER_VERSION")
  if server_version == nil or server_version == "" then server_version = S.v.string end
  return {
    status = "running",
    client = { appName = "container", build = "release", commit = commit, version = S.v.string },
    server = { appName = "container-apiserver", build = "release", commit = commit, version = server_version },
    host = { architecture = "arm64", cpus = 8, operatingSystem = "macOS " .. tostring(S.macos) },
    paths = { appRoot = app_root, installRoot = install_root },
    resources = { containersRunning = running, containersTotal = total, images = images },
  }
end

function M.status(S, p)
  local fmt = p.opts.format or "table"
  if S.system_stopped then
    if fmt == "json" and S.v.status_nested then
      -- 1.4.1: only `status` when the services are down or unregistered
      S.out(render.encode({ status = "unregistered" }, S.v, false) .. "\n")
    elseif fmt == "json" then
      S.out(render.encode({ status = "unregistered", appRoot = "", installRoot = "", apiServerVersion = "",
        apiServerCommit = "", apiServerBuild = "", apiServerAppName = "" }, S.v, false) .. "\n")
    else
      S.out("apiserver is not running and not registered with launchd\n")
    end
    return 1
  end
  local app_root, install_root = roots(S)
  local version_text = string.format("container-apiserver version %s (build: release, commit: %s)",
    S.v.string, S.v.short_commit)
  local status = {
    status = "running", appRoot = app_root, installRoot = install_root,
    apiServerVersion = version_text, apiServerCommit = S.v.commit or "unspecified",
    apiServerBuild = "release", apiServerAppName = "container-apiserver",
  }
  if fmt == "json" and S.v.status_nested then
    S.out(render.encode(nested_status(S, app_root, install_root), S.v, false) .. "\n")
  elseif fmt == "json" then
    S.out(render.encode(status, S.v, false) .. "\n")
  elseif S.v:ge("1.0.0") then
    S.out(render.table({
      { "FIELD", "VALUE" }, { "status", status.status }, { "appRoot", status.appRoot },
      { "installRoot", status.installRoot }, { "logRoot", "" },
      { "apiserver.version", status.apiServerVersion }, { "apiserver.commit", status.apiServerCommit },
      { "apiserver.build", status.apiServerBuild }, { "apiserver.appName", status.apiServerAppName },
    }) .. "\n")
  else
    S.out("apiserver is running\n")
    S.out("application data root: " .. app_root .. "\n")
    S.out("application install root: " .. install_root .. "\n")
    S.out(version_text .. "\n")
  end
  return 0
end

function M.version(S, p)
  local cli = { appName = "container", buildType = "release", commit = S.v.commit or "unspecified", version = S.v.string }
  local server = { appName = "container-apiserver", buildType = "release", commit = S.v.commit or "unspecified",
    version = string.format("container-apiserver version %s (build: release, commit: %s)", S.v.string, S.v.short_commit) }
  -- SystemVersion.swift (0.8.0 to 1.2.2): the server's entry only when its 2-second ping
  -- answers, so with the services down just the CLI's, exit 0; a row per entry is
  -- [appName, version, buildType, commit] as the JSON has them
  local versions = S.system_stopped and { cli } or { cli, server }
  if p.opts.format == "json" then
    S.out(render.encode(json.array(versions), S.v, false) .. "\n")
  else
    local rows = { { "COMPONENT", "VERSION", "BUILD", "COMMIT" } }
    for _, info in ipairs(versions) do rows[#rows + 1] = { info.appName, info.version, info.buildType, info.commit } end
    S.out(render.table(rows) .. "\n")
  end
  return 0
end

function M.start(S, p)
  local _ = p
  S.store:update(function(data)
    data.system_started = true
    if data.services_stopped then
      -- the network service starts again with a fresh rotating allocator (an in-memory actor:
      -- Sources/Services/Network/Server/AttachmentAllocator.swift), so addresses are handed
      -- out from the bottom of each subnet again
      data.services_stopped = nil
      data.ipam = {}
    end
  end)
  return 0
end

-- swift-log 1.14's StreamLogHandler.standardOutput line (the version Apple's 1.2.2
-- Package.resolved pins): "<%Y-%m-%dT%H:%M:%S%z> info <label> :[ <k=v ...>] [<module>] <message>"
local function log_info(S, message, metadata)
  S.out(("%s info com.apple.container.cli :%s [ContainerCommands] %s\n"):format(
    os.date("!%Y-%m-%dT%H:%M:%S+0000", math.floor(S.now())), metadata and (" " .. metadata) or "", message))
end

--- `container system stop` (SystemStop.swift, 1.2.2): ping the API server; when it answers, stop
-- every container (5 s each), wait for them, then deregister the services. Until `system
-- start`, every command but `system start/status/stop` fails as with the services down.
function M.stop(S, p)
  local prefix = p.opts.prefix or "com.apple.container."
  log_info(S, "checking if APIServer is alive")
  if S.system_stopped or S.store:load().services_stopped then
    log_info(S, "APIServer health check failed, skipping bootout")
    return 0
  end
  log_info(S, "stopping containers", "stopTimeoutSeconds=5")
  S.store:update(function(data)
    require("kina.sim.commands.container").stop_all(S, data)
    data.services_stopped = true
  end)
  log_info(S, "waiting for containers to exit")
  log_info(S, "stopping service", "label=gui/501/" .. prefix .. "apiserver")
  return 0
end

function M.kernel_set(S, p)
  local o = p.opts
  if not o.recommended and not o.binary and not o.tar then
    require("kina.sim.errors").throw("invalidArgument", "must specify --recommended, --binary or --tar")
  end
  S.store:update(function(data)
    data.kernel = { recommended = o.recommended or false, binary = o.binary, tar = o.tar, arch = o.arch or "arm64" }
  end)
  return 0
end

return M
