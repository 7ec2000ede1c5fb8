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

local function stderr_is_tty()
  local ok, uv = pcall(require, "luv")
  return ok and uv.guess_handle(2) == "tty"
end

--- Seconds a runtime call may go unanswered, with no step on screen, before a line says what
-- kina waits for (a cleanup or a delete on a hung CLI would otherwise show nothing).
M.WAIT_NOTICE = 5

--- A status writer. opts: `out` (a file, default io.stderr), `quiet` (print nothing but
-- warnings and errors), `verbose` (debug lines: each runtime call and its duration), `smart`
-- (force the terminal form on or off), `tty` (force whether `out` is a terminal, where Ctrl-C
-- echoes `^C`), `wait_notice` (seconds, default M.WAIT_NOTICE), `getenv`.
function M.new(opts)
  opts = opts or {}
  local getenv = opts.getenv or os.getenv
  local smart = opts.smart
  if smart == nil then smart = smart_terminal(getenv) end
  local tty = opts.tty
  if tty == nil then tty = (opts.out == nil or opts.out == io.stderr) and stderr_is_tty() end
  return setmetatable({ out = opts.out or io.stderr, quiet = opts.quiet, verbose = opts.verbose,
    smart = smart, tty = tty, wait_notice = opts.wait_notice or M.WAIT_NOTICE, current = nil, frame = 0 }, Status)
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

--- A line shown with -v only, under kind's header for its debug lines (`DEBUG: `).
function Status:debug(text)
  if self.verbose then self:info("DEBUG: " .. text) end
end

--- A warning: shown even with --quiet.
function Status:warn(text)
  local quiet = self.quiet
  self.quiet = false
  self:info(" • WARNING: " .. text)
  self.quiet = quiet
end

--- A signal arrived (Ctrl-C). The terminal has echoed `^C` where the cursor was: end that line
-- so what follows (a cleanup's lines, `ERROR: ...`) starts on its own. A running spinner
-- redraws its line anyway.
function Status:interrupted()
  if self.tty and not (self.smart and self.current) then
    self.out:write("\n")
    self.out:flush()
  end
end

local function command_text(argv)
  return require("kina.provider.apple").command_line(argv or {})
end

local function outcome(r, err)
  if not r then return tostring(err) end
  if r.timed_out then return "timed out" end
  if r.cancelled then return "cancelled" end
  if r.signal then return "killed by SIG" .. tostring(r.signal) end
  return "exit " .. tostring(r.code)
end

--- `sched` as a provider sees it, with every process the provider runs reported here: with -v
-- a debug line per call (its command line, how it ended, how long it took, like kind's -v);
-- and, with or without -v, a line when a call has gone unanswered for `wait_notice` seconds
-- while no step is on screen, saying what kina waits for. Every other method is `sched`'s own.
function Status:runtime_calls(sched)
  local status = self
  local view = {}
  local function watch(job)
    if not job.done then
      sched:go(function()
        -- an interrupt wakes the sleep early (it raises): check then too, and never fail
        pcall(sched.sleep, sched, status.wait_notice)
        if not job.done and status.current == nil then
          status:info(("waiting for `%s` (no answer after %gs) ..."):format(command_text(job.opts.argv), status.wait_notice))
        end
      end)
    end
  end
  function view.spawn(_, opts)
    local job = sched:spawn(opts)
    watch(job)
    -- a streamed call (stdout "pipe") is awaited by whoever reads it: say when it started
    status:debug(("started %s"):format(command_text(opts.argv)))
    return job
  end
  function view.exec(_, opts)
    local job = sched:spawn(opts)
    watch(job)
    local res = table.pack(pcall(sched.await, sched, job))
    if res[1] then
      local r = res[2]
      status:debug(("%s: %s%s"):format(command_text(opts.argv), outcome(r, res[3]),
        r and r.duration and (" in %.2fs"):format(r.duration) or ""))
      return table.unpack(res, 2, res.n)
    end
    status:debug(("%s: %s"):format(command_text(opts.argv), tostring(res[2])))
    error(res[2], 0)
  end
  return setmetatable(view, { __index = function(_, k)
    local v = sched[k]
    if type(v) ~= "function" then return v end
    return function(_, ...) return v(sched, ...) end
  end })
end

return M
