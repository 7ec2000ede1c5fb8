--- kina.sim.errors — runtime errors of the simulated CLI and how each release prints them.
--
-- Commands raise error objects with `error(errors.new(...))`; kina.sim.main catches them and
-- prints them for the simulated version (reference §4):
--   * ≥ 0.10: `Error: <message>` (+ ` (cause: "<cause>")`), exit 1;
--   * ≤ 0.9:  `Error: <code>: "<message>"` (+ cause), exit 1;
--   * `errors.raw(text)` prints `Error: <text>` as is in every release (texts the CLI prints
--     in the nested `code: "message"` form, e.g. failed stop/delete);
--   * `errors.usage(text)` (argument errors) prints text as is, exit 64.
local M = {}

local Error = {}
Error.__index = Error
Error.__tostring = function(e) return "sim error: " .. (e.text or e.raw or e.message) end

--- A ContainerizationError: `code` is one of unknown invalidArgument internalError exists
-- notFound cancelled invalidState empty timeout unsupported interrupted.
function M.new(code, message, cause)
  return setmetatable({ code = code, message = message, cause = cause, exit = 1 }, Error)
end

--- An error whose text after "Error: " is the same in every release.
function M.raw(text, exit)
  return setmetatable({ raw = text, exit = exit or 1 }, Error)
end

--- An argument-parser error: `{exit = 64, text = ...}` from kina.sim.args.
function M.usage(e)
  return setmetatable({ text = e.text, exit = e.exit or 64 }, Error)
end

function M.is(e)
  return getmetatable(e) == Error
end

--- Raise `code: message` as an error object.
function M.throw(code, message, cause)
  error(M.new(code, message, cause), 0)
end

--- The nested form used inside causes and aggregate errors: `code: "message"`.
function M.nested(code, message)
  return string.format('%s: "%s"', code, message)
end

--- Text to print on stderr (no trailing newline).
function M.render(e, version)
  if e.text then return e.text end
  if e.raw then return "Error: " .. e.raw end
  local s
  if version.coded_errors then
    s = "Error: " .. M.nested(e.code, e.message)
  else
    s = "Error: " .. e.message
  end
  if e.cause then s = s .. ' (cause: "' .. e.cause .. '")' end
  return s
end

return M
