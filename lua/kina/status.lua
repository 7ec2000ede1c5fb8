--- kina.status — kind-style progress lines on stderr.
--
--   ✓ Ensuring node image (kindest/node:v1.35.5) 🖼
--
-- On a terminal (stderr is a tty, NO_COLOR unset, TERM not "dumb") a running step shows a
-- spinner and ends with a green ✓ or red ✗; otherwise each step prints ` • step  ...` when it
-- starts and ` ✓ step` / ` ✗ step` when it ends, so logs read well in CI.

local M = {}

local FRAMES = { "⠈⠁", "⠈⠑", "⠈⠱", "⠈⡱", "⢀⡱", "⢄⡱", "⢄⡱", "⢆⡱", "⢎⡱", "⢎⡰", "⢎⡠", "⢎⡀", "⢎⠁", "⠎⠁", "⠊⠁" }

local Status = {}
Status.__index = Status

local function smart_terminal(getenv)
  local ok, uv = pcall(require, "luv")
  if not ok or uv.guess_handle(2) ~= "tty" then return false end
  local term = getenv("TERM") or ""
  return getenv("NO_COLOR") == nil and term ~= "dumb" and term ~= ""
end

--- A status writer. opts: `out` (a file, default io.stderr), `quiet` (print nothing but
-- warnings and errors), `verbose`, `smart` (force the terminal form on or off), `getenv`.
function M.new(opts)
  opts = opts or {}
  local getenv = opts.getenv or os.getenv
  local smart = opts.smart
  if smart == nil then smart = smart_terminal(getenv) end
  return setmetatable({ out = opts.out or io.stderr, quiet = opts.quiet, verbose = opts.verbose,
    smart = smart, current = nil, frame = 0 }, Status)
end

function Status:write(s)
  if not self.quiet then
    self.out:write(s)
    self.out:flush()
  end
end

--- Start a step (ending the previous one as a success).
function Status:start(text)
  self:finish(true)
  self.current = text
  if self.smart then self:spin() else self:write((" • %s  ...\n"):format(text)) end
end

--- Redraw the spinner (called periodically while a step runs on a terminal).
function Status:spin()
  if not (self.smart and self.current) then return end
  self.frame = self.frame % #FRAMES + 1
  self:write(("\x1b[?7l\r %s %s\x1b[?7h"):format(FRAMES[self.frame], self.current))
end

--- End the current step: ✓ when ok, ✗ otherwise.
function Status:finish(ok)
  if not self.current then return end
  local mark
  if self.smart then
    mark = ok and "\x1b[32m✓\x1b[0m" or "\x1b[31m✗\x1b[0m"
    self:write(("\r\x1b[2K %s %s\n"):format(mark, self.current))
  else
    mark = ok and "✓" or "✗"
    self:write((" %s %s\n"):format(mark, self.current))
  end
  self.current = nil
end

--- A plain line (info), between steps.
function Status:info(text)
  local step = self.current
  if step and self.smart then self:write("\r\x1b[2K") end
  self:write(text .. "\n")
  if step and self.smart then self:spin() end
end

--- A line shown with -v only.
function Status:debug(text)
  if self.verbose then self:info(text) end
end

--- A warning: shown even with --quiet.
function Status:warn(text)
  local quiet = self.quiet
  self.quiet = false
  self:info(" • WARNING: " .. text)
  self.quiet = quiet
end

return M
