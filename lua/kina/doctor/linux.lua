--- kina.doctor.linux — what `kina doctor` checks with podman or Docker (the provider names
-- this module in its `doctor` field): the CLI answers, and the provider's own verdict on whether
-- its engine can run kina's nodes. The host's kernel and network are the nodes' own there, so
-- there is nothing of Apple's kind (VM kernel, macOS, Local Network) to check.

local doctor = require "kina.doctor"

local M = {}

local check = doctor.check

--- podman's or Docker's: the CLI answers, and the provider's own verdict (ensure_ready) on
-- whether its engine can run nodes; its warnings are one check's.
function M.runtime(provider)
  local cli, version = doctor.cli(provider, function(v) return ("%s %s (%s)"):format(provider.runtime, v, provider.binary) end)
  local checks = { cli }
  if not version then return checks, nil end
  local ok, info, warnings = pcall(provider.ensure_ready, provider)
  if not ok then
    checks[2] = doctor.failure("services", info)
    return checks, nil
  end
  if warnings and #warnings > 0 then checks[2] = check("services", "warn", table.concat(warnings, "; "))
  else checks[2] = check("services", "ok", ("%s can run containers"):format(provider.binary)) end
  return checks, info
end

--- No checks beyond the runtime's.
function M.machine()
  return {}
end

return M
