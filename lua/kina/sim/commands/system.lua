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
  if p.opts.format == "json" then
    S.out(render.encode(json.array({ cli, server }), S.v, false) .. "\n")
  else
    S.out(render.table({
      { "COMPONENT", "VERSION", "BUILD", "COMMIT" },
      { "CLI", cli.version, cli.buildType, cli.commit:sub(1, 7) },
      { "API Server", S.v.string, server.buildType, server.commit:sub(1, 7) },
    }) .. "\n")
  end
  return 0
end

function M.start(S, p)
  local _ = p
  -- The simulated services are always available; starting is idempotent.
  S.store:update(function(data) data.system_started = true end)
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
