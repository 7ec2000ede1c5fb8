--- kina.provider — which runtime runs the nodes, chosen like kind (kind-and-peers §1.2).
--
-- KINA_PROVIDER=apple|podman|docker chooses; KINA_CONTAINER (the path of Apple's CLI, or of
-- kina's simulator of it) means Apple's; without either kina detects: Apple's `container` on
-- macOS, then Docker, then podman, and on Linux last a `container` on PATH (only kina's
-- simulator is called so there: Apple's CLI exists for macOS alone). kind picks docker
-- whenever `docker -v` answers; kina takes
-- Docker only when its CLI is found and an engine is configured (DOCKER_HOST, or the socket
-- /var/run/docker.sock exists), so a machine with Docker's CLI but no engine and with podman
-- (this project's CI machine) gets podman rather than a provider that cannot run anything.
-- The interface every provider implements is README.md beside this file.

local uv = require "luv"
local common = require "kina.provider.common"

local M = {}

--- The providers kina knows, and the module serving each.
M.NAMES = { "apple", "podman", "docker" }
M.MODULES = { apple = "kina.provider.apple", podman = "kina.provider.podman", docker = "kina.provider.podman" }

--- The variable that chooses, and the one naming Apple's binary (kina.provider.apple).
M.VARIABLE = "KINA_PROVIDER"

local function on_path(binary, getenv)
  if binary:find("/", 1, true) then return uv.fs_access(binary, "X") and binary or nil end
  for dir in (getenv("PATH") or ""):gmatch("[^:]+") do
    local path = dir .. "/" .. binary
    if uv.fs_access(path, "X") then return path end
  end
  return nil
end

--- The provider's name and why it was chosen.
-- opts (all optional, for tests): getenv (default os.getenv), system (uname's sysname, default
-- this machine's), find (binary → path or nil; default a search of PATH), exists (path → bool).
-- Raises a ProviderError naming KINA_PROVIDER when it holds an unknown value, and one naming
-- what was looked for when nothing is found.
function M.choose(opts)
  opts = opts or {}
  local getenv = opts.getenv or os.getenv
  local system = opts.system or uv.os_uname().sysname
  local find = opts.find or function(binary) return on_path(binary, getenv) end
  local exists = opts.exists or function(path) return uv.fs_stat(path) ~= nil end
  local wanted = getenv(M.VARIABLE)
  if wanted and wanted ~= "" then
    if not M.MODULES[wanted] then
      error(common.new_error{ op = "choose provider", message = ("%s=%q is not a provider kina knows"):format(M.VARIABLE, wanted),
        hint = ("set %s to one of %s, or unset it to detect the runtime."):format(M.VARIABLE, table.concat(M.NAMES, ", ")) }, 0)
    end
    return wanted, ("%s=%s"):format(M.VARIABLE, wanted)
  end
  local apple_binary = getenv("KINA_CONTAINER")
  if apple_binary and apple_binary ~= "" then return "apple", "KINA_CONTAINER=" .. apple_binary end
  if system == "Darwin" and find("container") then return "apple", "macOS with Apple's container CLI" end
  if find("docker") and ((getenv("DOCKER_HOST") or "") ~= "" or exists("/var/run/docker.sock")) then
    return "docker", "Docker's CLI with an engine"
  end
  if find("podman") then return "podman", "podman's CLI" end
  if system ~= "Darwin" and find("container") then return "apple", "a `container` on PATH (kina's simulator of Apple's CLI)" end
  -- on macOS Apple's provider explains how to install its CLI at the first call
  if system == "Darwin" then return "apple", "macOS (no runtime found; Apple's is kina's default there)" end
  error(common.new_error{ op = "choose provider", message = "no container runtime found: neither podman nor Docker (with an engine) is on PATH",
    hint = ("install podman (`apt-get install podman`) or Docker, or set %s."):format(M.VARIABLE) }, 0)
end

--- A provider object for `name` (default: M.choose()). opts: scheduler (required), env, and
-- the module's own options (binary, timeouts).
function M.new(opts)
  opts = opts or {}
  local name = opts.name or M.choose()
  local module_name = M.MODULES[name]
  if not module_name then error(("provider: unknown provider %q"):format(tostring(name)), 2) end
  local o = {}
  for k, v in pairs(opts) do if k ~= "name" then o[k] = v end end
  if name ~= "apple" and not o.binary then o.binary = name end
  return require(module_name).new(o)
end

--- The module serving a provider object (its constants: CLUSTER_LABEL, HINTS ...).
function M.module_of(provider)
  return require(M.MODULES[provider.name] or M.MODULES.apple)
end

return M
