--- kina.async — coroutines over the process runner.
--
-- A workflow reads top to bottom but runs many commands at once: each task is a coroutine;
-- `spawn` starts a process (or queues it behind the concurrency limit) and `await` suspends the
-- task until the process is done, while the scheduler drives `runner:step` for everyone.
--
-- Called outside a task (from the main thread), `await`, `sleep` and `join` simply drive the
-- scheduler until what they wait for is done, so plain scripts can use them too.
--
-- Errors: misuse raises; a process that cannot be started makes `await` return
-- `nil, "ENOENT: ...", "ENOENT"`; an error in a task is raised again in whoever joins it, and
-- `run` raises any task error nobody joined, so no error is lost.

local core = require "kina.core.runner"

local M = {}

local Scheduler = {}
Scheduler.__index = Scheduler

--- The error value raised in waiting tasks when SIGINT/SIGTERM arrives while interrupts are watched.
local Interrupted = {}
Interrupted.__index = Interrupted
Interrupted.__tostring = function(e) return "interrupted (SIG" .. e.signal .. ")" end
M.Interrupted = Interrupted

function M.is_interrupted(err)
  return getmetatable(err) == Interrupted
end

local function traceback(err)
  if type(err) == "string" then return debug.traceback(err, 2) end
  return err
end

--- Create a scheduler.
-- @tparam[opt] table opts `max` (concurrent processes, default 8), `grace` (seconds between
--   SIGTERM and SIGKILL on cancellation, default 5)
function M.new(opts)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "max" and k ~= "grace" then error("scheduler options: unknown field '" .. tostring(k) .. "'", 2) end
  end
  local max = opts.max or 8
  if math.type(max) ~= "integer" or max < 1 then error("scheduler options: field 'max' must be a positive integer", 2) end
  return setmetatable({
    runner = core.new(),
    max = max,
    grace = opts.grace or 5,
    running = 0,       -- processes started and not finished, counted against max
    queue = {},        -- jobs waiting for a slot, in order
    queued_unlimited = 0, -- how many of them are pipe consumers (which start outside the limit)
    jobs = {},         -- Process -> job, while running
    ready = {},        -- {co, ...values} to resume
    timers = {},       -- {at, co}, unsorted (few)
    failed = {},       -- tasks that raised and nobody joined yet
    interrupts = 0,
  }, Scheduler)
end

Scheduler.__close = function(self) self:close() end

--- Kill everything still running and release the runner. Idempotent.
function Scheduler:close()
  if self.runner then
    self.runner:close()
    self.runner = nil
  end
end

local lua_only_fields = { on_stdout = true, on_stderr = true, name = true }

local function finish(self, job, result, err, code)
  job.done, job.result, job.err, job.code = true, result, err, code
  for _, co in ipairs(job.waiters) do self.ready[#self.ready + 1] = { co } end
  job.waiters = {}
end

local function flush_lines(self, job, stream, final)
  local cb = stream == "stdout" and job.on_stdout or job.on_stderr
  local pending = job.partial[stream]
  local start = 1
  while true do
    local nl = pending:find("\n", start, true)
    if not nl then break end
    local line = pending:sub(start, nl - 1)
    start = nl + 1
    if not job.stopped then
      local ok, stop = xpcall(cb, traceback, line)
      if not ok then
        job.callback_error = stop
        job.stopped = true
      elseif stop then
        job.stopped = true
      end
      if job.stopped and job.proc then job.proc:terminate(self.grace) end
    end
  end
  pending = pending:sub(start)
  if final and #pending > 0 and not job.stopped then
    local ok, err = xpcall(cb, traceback, pending)
    if not ok then job.callback_error = err end
    pending = ""
  end
  job.partial[stream] = pending
end

local function start(self, job)
  local opts = job.opts
  if opts.stdin_from then
    local producer = opts.stdin_from
    opts.stdin_from = producer.proc
  end
  local proc, err, code = self.runner:spawn(opts)
  if not proc then
    finish(self, job, nil, err, code)
    return
  end
  job.proc = proc
  job.started = true
  self.jobs[proc] = job
  if not job.unlimited then self.running = self.running + 1 end
end

local function can_start(self, job)
  local from = job.opts.stdin_from
  if from and not from.proc then return false end -- its producer has not started yet
  return job.unlimited or self.running < self.max
end

local function start_queued(self)
  local queue = self.queue
  local i = 1
  while i <= #queue do
    -- with every slot taken only a pipe's consumer may still start: stop looking when the
    -- queue holds none (a long queue is scanned on every wake-up otherwise)
    if self.running >= self.max and self.queued_unlimited == 0 then break end
    local job = queue[i]
    if can_start(self, job) then
      table.remove(queue, i)
      if job.unlimited then self.queued_unlimited = self.queued_unlimited - 1 end
      start(self, job)
    else
      i = i + 1
    end
  end
end

--- Start a process, or queue it until a slot is free.
-- @tparam table opts the runner's spawn options (argv, env, cwd, stdin, stdin_file, stdin_from
--   (another job whose stdout is "pipe"), stdout, stderr, limits, timeout, grace, drain) plus
--   `on_stdout(line)` / `on_stderr(line)` (return true to stop the process) and `name`.
-- @return a job handle for `await`
function Scheduler:spawn(opts)
  if type(opts) ~= "table" then error("spawn: options must be a table", 2) end
  local core_opts = {}
  for k, v in pairs(opts) do
    if not lua_only_fields[k] then core_opts[k] = v end
  end
  local job = { opts = core_opts, waiters = {}, partial = { stdout = "", stderr = "" }, name = opts.name }
  if opts.on_stdout ~= nil then
    if type(opts.on_stdout) ~= "function" then error("spawn options: field 'on_stdout' must be a function", 2) end
    if core_opts.stdout ~= nil and core_opts.stdout ~= "capture" then
      error("spawn options: on_stdout needs stdout captured", 2)
    end
    job.on_stdout, core_opts.stdout = opts.on_stdout, "stream"
    job.chunks = job.chunks or {}
    job.chunks.stdout = {}
  end
  if opts.on_stderr ~= nil then
    if type(opts.on_stderr) ~= "function" then error("spawn options: field 'on_stderr' must be a function", 2) end
    if core_opts.stderr ~= nil and core_opts.stderr ~= "capture" then
      error("spawn options: on_stderr needs stderr captured", 2)
    end
    job.on_stderr, core_opts.stderr = opts.on_stderr, "stream"
    job.chunks = job.chunks or {}
    job.chunks.stderr = {}
  end
  if core_opts.stdin_from ~= nil then
    local from = core_opts.stdin_from
    if type(from) ~= "table" or from.opts == nil or from.opts.stdout ~= "pipe" then
      error("spawn options: field 'stdin_from' must be a job spawned with stdout = \"pipe\"", 2)
    end
    -- A pipe's consumer starts as soon as its producer does, outside the limit: otherwise a
    -- producer blocked on a full pipe could hold the last slot its consumer waits for.
    job.unlimited = true
  end
  if not self.runner then error("spawn: scheduler is closed", 2) end
  if can_start(self, job) and #self.queue == 0 then start(self, job)
  else
    self.queue[#self.queue + 1] = job
    if job.unlimited then self.queued_unlimited = self.queued_unlimited + 1 end
  end
  return job
end

local function on_exit(self, proc)
  local job = self.jobs[proc]
  self.jobs[proc] = nil
  if not job.unlimited then self.running = self.running - 1 end
  local result = proc:result()
  proc:close()
  if job.on_stdout then flush_lines(self, job, "stdout", true) end
  if job.on_stderr then flush_lines(self, job, "stderr", true) end
  if job.chunks then
    for stream, parts in pairs(job.chunks) do result[stream] = table.concat(parts) end
  end
  if job.name then result.name = job.name end
  finish(self, job, result)
end

local function on_chunk(self, proc, stream, data)
  local job = self.jobs[proc]
  if not job then return end
  local parts = job.chunks[stream]
  local limit = job.opts[stream .. "_limit"] or 16 * 1024 * 1024
  job.kept = job.kept or { stdout = 0, stderr = 0 }
  if job.kept[stream] < limit then
    local take = data
    if job.kept[stream] + #data > limit then take = data:sub(1, limit - job.kept[stream]) end
    parts[#parts + 1] = take
    job.kept[stream] = job.kept[stream] + #take
  end
  job.partial[stream] = job.partial[stream] .. data
  flush_lines(self, job, stream, false)
end

local function on_signal(self, name)
  self.interrupts = self.interrupts + 1
  self.last_signal = name
  -- Stop what runs now; the workflow's cleanup may start new commands afterwards.
  for proc in pairs(self.jobs) do proc:terminate(self.grace) end
  for _, job in ipairs(self.queue) do finish(self, job, nil, "interrupted", "EINTR") end
  self.queue = {}
  self.queued_unlimited = 0
  self.pending_interrupt = setmetatable({ signal = name, count = self.interrupts }, Interrupted)
  -- sleeping tasks wake now and raise it too (a workflow polling between commands would
  -- otherwise never notice)
  for _, t in ipairs(self.timers) do t.at = 0 end
end

local function resume(self, entry)
  local co = entry[1]
  self.current = co
  local ok, err = coroutine.resume(co, table.unpack(entry, 2, entry.n or #entry))
  self.current = nil
  if not ok then error(err, 0) end -- task bodies are wrapped, so this is a scheduler bug
end

local function next_timer(self)
  local soonest
  for _, t in ipairs(self.timers) do
    if not soonest or t.at < soonest then soonest = t.at end
  end
  return soonest
end

local function fire_timers(self, now)
  local i = 1
  while i <= #self.timers do
    local t = self.timers[i]
    if t.at <= now then
      table.remove(self.timers, i)
      self.ready[#self.ready + 1] = { t.co }
    else
      i = i + 1
    end
  end
end

--- Drive the scheduler until `done()` is true.
function Scheduler:pump(done)
  while true do
    while #self.ready > 0 do
      local batch = self.ready
      self.ready = {}
      for _, entry in ipairs(batch) do resume(self, entry) end
    end
    if done() then return end
    start_queued(self)
    local now = core.now()
    local at = next_timer(self)
    local busy = self.runner:active() > 0
    if not busy and not at and #self.ready == 0 then
      if #self.queue > 0 then error("scheduler: queued processes can never start (a pipe's producer was never started?)") end
      if done() then return end
      error("scheduler: waiting for something that can never happen (no process, timer or task left)")
    end
    local timeout = at and math.max(0, at - now) or nil
    for _, ev in ipairs(self.runner:step(timeout)) do
      local proc, kind = ev[1], ev[2]
      if kind == "exit" then on_exit(self, proc)
      elseif kind == "signal" then on_signal(self, ev[3])
      else on_chunk(self, proc, kind, ev[3]) end
    end
    fire_timers(self, core.now())
    if self.pending_interrupt then
      local err = self.pending_interrupt
      self.pending_interrupt = nil
      self.interrupt_error = err
      if self.on_interrupt then self.on_interrupt(err) end
    end
    start_queued(self)
  end
end

local function in_task(self)
  local co, main = coroutine.running()
  return not main and self.tasks and self.tasks[co] ~= nil
end

local function check_interrupt(self, seen)
  local err = self.interrupt_error
  if err and err.count > seen then error(err, 0) end
end

--- Wait for a job; returns its result table, or nil, message, code if it could not start.
-- Raises the error of an on_stdout/on_stderr callback, and Interrupted when a watched signal
-- arrives meanwhile.
function Scheduler:await(job)
  if type(job) ~= "table" or job.waiters == nil then error("await: not a job", 2) end
  local seen = self.interrupts
  if not job.done then
    if in_task(self) then
      -- only finish() resumes a waiter: after an interrupt the process is told to stop, so its
      -- waiters still wake once it is gone
      job.waiters[#job.waiters + 1] = coroutine.running()
      repeat coroutine.yield() until job.done
    else
      self:pump(function() return job.done end)
    end
  end
  check_interrupt(self, seen)
  if job.callback_error then error(job.callback_error, 0) end
  if job.err then return nil, job.err, job.code end
  return job.result
end

--- spawn + await.
function Scheduler:exec(opts)
  return self:await(self:spawn(opts))
end

--- Wait for every job (or task) in `list`; returns their results in the same order. A job that
-- could not start gives {error = msg, code = code} in its place; a failed task raises after all
-- have finished (the first error, in list order).
function Scheduler:await_all(list)
  local results, first_err = {}, nil
  for i, item in ipairs(list) do
    if item.co then
      local ok, err = pcall(function() results[i] = table.pack(self:join(item)) end)
      if not ok and first_err == nil then first_err = err end
    else
      local ok, r, msg, code = pcall(self.await, self, item)
      if not ok then
        if first_err == nil then first_err = r end
      elseif r then
        results[i] = r
      else
        results[i] = { error = msg, code = code, argv = item.opts.argv }
      end
    end
  end
  if first_err ~= nil then error(first_err, 0) end
  return results
end

--- Run `fn(...)` as a task; returns a handle for `join`.
function Scheduler:go(fn, ...)
  if type(fn) ~= "function" then error("go: expected a function", 2) end
  self.tasks = self.tasks or setmetatable({}, { __mode = "k" })
  local task = { waiters = {} }
  local args = table.pack(...)
  task.co = coroutine.create(function()
    local res = table.pack(xpcall(fn, function(err)
      task.traceback = debug.traceback(tostring(err), 2)
      return err
    end, table.unpack(args, 1, args.n)))
    task.done = true
    if res[1] then
      task.results = table.pack(table.unpack(res, 2, res.n))
    else
      task.err = res[2]
      self.failed[task] = true
    end
    for _, co in ipairs(task.waiters) do self.ready[#self.ready + 1] = { co } end
  end)
  self.tasks[task.co] = task
  self.ready[#self.ready + 1] = { task.co }
  return task
end

--- Wait for a task; returns what its function returned, or raises its error.
function Scheduler:join(task)
  if type(task) ~= "table" or not task.co then error("join: not a task", 2) end
  if not task.done then
    if in_task(self) then
      task.waiters[#task.waiters + 1] = coroutine.running()
      repeat coroutine.yield() until task.done
    else
      self:pump(function() return task.done end)
    end
  end
  self.failed[task] = nil
  if task.err ~= nil then error(task.err, 0) end
  return table.unpack(task.results, 1, task.results.n)
end

--- Suspend the current task (or, outside a task, drive the scheduler) for `seconds`.
-- Raises Interrupted, as await does, when a watched signal arrives meanwhile.
function Scheduler:sleep(seconds)
  if type(seconds) ~= "number" or seconds < 0 then error("sleep: seconds must be a non-negative number", 2) end
  local at = core.now() + seconds
  local seen = self.interrupts
  if in_task(self) then
    self.timers[#self.timers + 1] = { at = at, co = coroutine.running() }
    coroutine.yield()
  else
    self.timers[#self.timers + 1] = { at = at, co = coroutine.create(function() end) }
    self:pump(function() return core.now() >= at or self.interrupts > seen end)
  end
  check_interrupt(self, seen)
end

--- Report SIGINT/SIGTERM instead of dying: running processes get SIGTERM (then SIGKILL after
-- the grace period) and every `await` in progress raises an Interrupted error, so workflows can
-- clean up. `handler(err)` (optional) is called once per signal.
function Scheduler:watch_interrupts(handler)
  assert(self.runner:watch_signals(true))
  self.on_interrupt = handler
end

--- Cancel everything: queued jobs fail, running processes get SIGTERM then SIGKILL.
function Scheduler:cancel_all()
  for _, job in ipairs(self.queue) do finish(self, job, nil, "cancelled", "ECANCELED") end
  self.queue = {}
  self.queued_unlimited = 0
  for proc in pairs(self.jobs) do proc:terminate(self.grace) end
end

--- Run `fn(scheduler, ...)` as the main task and drive everything to completion; returns what
-- it returned. Raises its error, or the error of any other task that failed and was never joined.
function Scheduler:run(fn, ...)
  local main = self:go(fn, self, ...)
  self:pump(function() return main.done end)
  local results = table.pack(pcall(self.join, self, main))
  if not results[1] then error(results[2], 0) end
  local orphan = next(self.failed)
  if orphan then
    self.failed[orphan] = nil
    error(orphan.err, 0)
  end
  return table.unpack(results, 2, results.n)
end

--- Convenience: a new scheduler running `fn`, closed afterwards.
function M.run(fn, opts, ...)
  local sched <close> = M.new(opts)
  return sched:run(fn, ...)
end

M.now = core.now

return M
