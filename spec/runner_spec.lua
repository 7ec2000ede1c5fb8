-- The process runner (kina.core.runner) and the coroutine scheduler over it (kina.async).
-- Every test spawns real processes.
local runner = require "kina.core.runner"
local async = require "kina.async"
local uv = require "luv"

local function self_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("*l"):match("^(%d+)")
  f:close()
  return tonumber(pid)
end

-- Counted in this process (no io.popen: its pipe and child would race with the count); the
-- directory descriptor scandir opens is there in every count alike.
local function open_fds()
  local n = 0
  local dir = assert(uv.fs_scandir("/proc/self/fd"))
  while uv.fs_scandir_next(dir) do n = n + 1 end
  return n
end

-- fd -> what it is, for a message naming what differs
local function fd_targets()
  local out = {}
  local p = assert(io.popen("ls -l /proc/" .. self_pid() .. "/fd"))
  for line in p:lines() do
    local fd, target = line:match("%s(%d+) %-> (.*)$")
    if fd then out[fd] = target end
  end
  p:close()
  return out
end

-- processes whose parent is this process (zombies included)
local function children()
  local me, list = self_pid(), {}
  local p = assert(io.popen("ls /proc"))
  for entry in p:lines() do
    if entry:match("^%d+$") then
      local f = io.open("/proc/" .. entry .. "/stat")
      if f then
        local stat = f:read("*l") or ""
        f:close()
        local state, ppid = stat:match("%) (%S) (%d+)")
        if tonumber(ppid) == me then list[#list + 1] = { pid = tonumber(entry), state = state } end
      end
    end
  end
  p:close()
  -- the `ls` started by popen above may still be listed; it is not ours to count
  local out = {}
  for _, c in ipairs(list) do
    local f = io.open("/proc/" .. c.pid .. "/comm")
    local comm = f and f:read("*l")
    if f then f:close() end
    if comm ~= "ls" then out[#out + 1] = c end
  end
  return out
end

local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local state = f:read("*l"):match("%) (%S)")
  f:close()
  return state ~= "Z"
end

local function exists(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if f then f:close() end
  return f ~= nil
end

-- Run one process to completion on a bare runner.
local function run1(opts)
  local r <close> = runner.new()
  local p, err, code = r:spawn(opts)
  if not p then return nil, err, code end
  while not p:done() do r:step() end
  return p:result()
end

-- Send a signal to this process from a child. (os.execute would not do: system() ignores SIGINT
-- in the caller while the child runs, so the signal would be lost.)
local function signal_self(sig)
  local p = assert(io.popen("kill -" .. sig .. " " .. self_pid()))
  p:close()
end

local function tmpfile(content)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

describe("kina.core.runner", function()
  it("reports exit codes", function()
    assert.equal(0, run1{ argv = { "true" } }.code)
    assert.equal(7, run1{ argv = { "sh", "-c", "exit 7" } }.code)
  end)

  it("reports death by signal, with no exit code", function()
    local r = run1{ argv = { "sh", "-c", "kill -TERM $$" } }
    assert.is_nil(r.code)
    assert.equal("TERM", r.signal)
    assert.is_false(r.timed_out)
  end)

  it("captures stdout and stderr separately", function()
    local r = run1{ argv = { "sh", "-c", "echo out; echo err >&2" } }
    assert.equal("out\n", r.stdout)
    assert.equal("err\n", r.stderr)
  end)

  it("can merge stderr into stdout", function()
    local r = run1{ argv = { "sh", "-c", "echo out; echo err >&2" }, stderr = "stdout" }
    assert.equal("out\nerr\n", r.stdout)
  end)

  it("keeps argv elements whole: no shell in between", function()
    local weird = "a b; $(echo no) 'q' \"d\" \n é"
    local r = run1{ argv = { "printf", "%s", weird } }
    assert.equal(weird, r.stdout)
    assert.same({ "printf", "%s", weird }, r.argv)
  end)

  it("passes added environment, can unset and clear it, and honours cwd", function()
    local r = run1{ argv = { "sh", "-c", 'echo "$KINA_T1|${HOME-unset}|$(pwd)"' },
      env = { KINA_T1 = "x y", HOME = false }, cwd = "/tmp" }
    assert.equal("x y|unset|/tmp\n", r.stdout)
    r = run1{ argv = { "/usr/bin/env" }, clear_env = true, env = { ONLY = "1" } }
    assert.equal("ONLY=1\n", r.stdout)
  end)

  describe("stdin", function()
    it("is empty by default", function()
      assert.equal("0\n", run1{ argv = { "sh", "-c", "wc -c | tr -d ' '" } }.stdout)
    end)

    it("can be a Lua string, larger than a pipe buffer", function()
      local data = ("0123456789abcdef"):rep(64 * 1024) -- 1 MiB
      local r = run1{ argv = { "wc", "-c" }, stdin = data }
      assert.equal(tostring(#data), r.stdout:match("%d+"))
    end)

    it("can be a file", function()
      local path = tmpfile("from a file\n")
      finally(function() os.remove(path) end)
      assert.equal("from a file\n", run1{ argv = { "cat" }, stdin_file = path }.stdout)
    end)

    it("reports a missing stdin file as a failure, not an error", function()
      local p, err, code = run1{ argv = { "cat" }, stdin_file = "/nonexistent/kina" }
      assert.is_nil(p)
      assert.equal("ENOENT", code)
      assert.matches("^ENOENT: .*/nonexistent/kina", err)
    end)

    it("can be another process's stdout: a pipe from child to child carrying several MiB", function()
      local r <close> = runner.new()
      local size = 8 * 1024 * 1024
      local producer = assert(r:spawn{ argv = { "sh", "-c", "yes kina-pipe | head -c " .. size }, stdout = "pipe" })
      local consumer = assert(r:spawn{ argv = { "md5sum" }, stdin_from = producer })
      local counter = assert(r:spawn{ argv = { "sh", "-c", "yes kina-pipe | head -c " .. size .. " | md5sum" } })
      while not (producer:done() and consumer:done() and counter:done()) do r:step() end
      assert.equal(0, producer:result().code)
      assert.equal(0, consumer:result().code)
      assert.equal(counter:result().stdout, consumer:result().stdout)
      assert.equal("", producer:result().stdout) -- the bytes went to the consumer, not through us
    end)

    it("refuses stdin_from a process whose stdout is not a pipe, and two stdin sources", function()
      local r <close> = runner.new()
      local p = assert(r:spawn{ argv = { "true" } })
      assert.has_error(function() r:spawn{ argv = { "cat" }, stdin_from = p } end,
        'spawn options: stdin_from needs a process spawned with stdout="pipe" whose pipe is not taken yet')
      assert.has_error(function() r:spawn{ argv = { "cat" }, stdin = "x", stdin_file = "/dev/null" } end,
        "spawn options: give at most one of stdin, stdin_file, stdin_from, stdin_inherit")
    end)
  end)

  it("captures large outputs whole", function()
    local r = run1{ argv = { "head", "-c", tostring(10 * 1024 * 1024), "/dev/zero" } }
    assert.equal(10 * 1024 * 1024, #r.stdout)
    assert.is_false(r.stdout_truncated)
  end)

  it("caps captured output but still drains the child", function()
    local r = run1{ argv = { "head", "-c", tostring(1024 * 1024), "/dev/zero" }, stdout_limit = 1000 }
    assert.equal(0, r.code)
    assert.equal(1000, #r.stdout)
    assert.is_true(r.stdout_truncated)
  end)

  it("times out with SIGTERM to the process group", function()
    local r = run1{ argv = { "sh", "-c", "sleep 30 & wait" }, timeout = 0.2 }
    assert.is_true(r.timed_out)
    assert.equal("TERM", r.signal)
  end)

  it("escalates to SIGKILL when SIGTERM is ignored", function()
    local r = run1{ argv = { "sh", "-c", 'trap "" TERM; while :; do sleep 0.05; done' }, timeout = 0.1, grace = 0.2 }
    assert.is_true(r.timed_out)
    assert.equal("KILL", r.signal)
  end)

  it("kills one process on request", function()
    local r <close> = runner.new()
    local p = assert(r:spawn{ argv = { "sleep", "30" } })
    local q = assert(r:spawn{ argv = { "sh", "-c", "sleep 0.1" } })
    assert.is_true(p:kill("TERM"))
    while not (p:done() and q:done()) do r:step() end
    assert.equal("TERM", p:result().signal)
    assert.is_true(p:result().cancelled)
    assert.equal(0, q:result().code)
  end)

  it("kills everything still running", function()
    local r <close> = runner.new()
    local ps = {}
    for i = 1, 4 do ps[i] = assert(r:spawn{ argv = { "sleep", "30" } }) end
    assert.equal(4, r:kill_all())
    for _, p in ipairs(ps) do
      while not p:done() do r:step() end
      assert.equal("TERM", p:result().signal)
    end
  end)

  it("delivers each finished process once as an event", function()
    local r <close> = runner.new()
    local p = assert(r:spawn{ argv = { "true" } })
    local seen = 0
    while r:active() > 0 do
      for _, ev in ipairs(r:step(1)) do
        if ev[1] == p and ev[2] == "exit" then seen = seen + 1 end
      end
    end
    assert.equal(1, seen)
    assert.same({}, r:step(0))
  end)

  it("streams output as chunks when asked", function()
    local r <close> = runner.new()
    local p = assert(r:spawn{ argv = { "printf", "a\nb\n" }, stdout = "stream" })
    local data = {}
    while not p:done() do
      for _, ev in ipairs(r:step()) do
        if ev[2] == "stdout" then data[#data + 1] = ev[3] end
      end
    end
    assert.equal("a\nb\n", table.concat(data))
    assert.equal("", p:result().stdout)
  end)

  it("returns nil, message, code for a program that cannot be started", function()
    local p, err, code = run1{ argv = { "/nonexistent/kina-no-such-program" } }
    assert.is_nil(p)
    assert.equal("ENOENT", code)
    assert.matches("^ENOENT: ", err)
  end)

  it("raises on misuse, naming the field", function()
    local r <close> = runner.new()
    assert.has_error(function() r:spawn{ argv = { "true" }, colour = "red" } end, "spawn options: unknown field 'colour'")
    assert.has_error(function() r:spawn{ argv = { "echo", 3 } } end, "spawn options: argv[2] must be a string, not number")
    assert.has_error(function() r:spawn{ argv = {} } end, "spawn options: field 'argv' must not be empty")
    assert.has_error(function() r:spawn{ argv = { "true" }, timeout = "soon" } end, "spawn options: field 'timeout' must be a number, not string")
    assert.has_error(function() r:spawn{ argv = { "true" }, stdout = "file" } end)
    assert.has_error(function() r:spawn{ argv = { "true" }, env = { ["A=B"] = "x" } } end, "spawn options: env name 'A=B' is not valid")
  end)

  it("leaves no zombie and no file descriptor behind", function()
    -- files other specs left for the collector would otherwise close during this test
    collectgarbage()
    collectgarbage()
    local fds_before, targets_before = open_fds(), fd_targets()
    local pids = {}
    do
      local r <close> = runner.new()
      for i = 1, 20 do
        local p = assert(r:spawn{ argv = { "sh", "-c", "echo " .. i .. "; echo e >&2" }, stdin = "in" })
        pids[#pids + 1] = p:pid()
      end
      local pending = 20
      while pending > 0 do
        for _, ev in ipairs(r:step()) do
          if ev[2] == "exit" then
            pending = pending - 1
            ev[1]:close()
          end
        end
      end
      -- one left running is killed and reaped by close
      pids[#pids + 1] = assert(r:spawn{ argv = { "sleep", "30" } }):pid()
    end
    collectgarbage()
    collectgarbage()
    -- a zombie would still be listed in /proc: every child was reaped
    for _, pid in ipairs(pids) do assert.is_false(exists(pid), "pid " .. pid .. " is still there") end
    for _, c in ipairs(children()) do
      for _, pid in ipairs(pids) do assert.are_not.equal(pid, c.pid) end
    end
    -- what else lives in this process (the luv loop other spec files left handles on) may open
    -- or close a descriptor meanwhile: look again for a moment, then name what differs
    local now = open_fds()
    for _ = 1, 10 do
      if now == fds_before then break end
      uv.sleep(100)
      collectgarbage()
      now = open_fds()
    end
    if now ~= fds_before then
      local diff, after = {}, fd_targets()
      for fd, t in pairs(after) do if targets_before[fd] ~= t then diff[#diff + 1] = "+" .. fd .. " " .. t end end
      for fd, t in pairs(targets_before) do if after[fd] ~= t then diff[#diff + 1] = "-" .. fd .. " " .. t end end
      assert.equal(fds_before, now, "descriptors differ: " .. table.concat(diff, ", "))
    end
  end)

  it("does not leak descriptors into children", function()
    local keep = assert(io.open("/dev/null")) -- opened without CLOEXEC by Lua's io library
    finally(function() keep:close() end)
    local r = run1{ argv = { "sh", "-c", "ls /proc/self/fd | wc -l" } }
    -- 0, 1, 2 and the fd ls itself opens to read the directory
    assert.equal("4", r.stdout:match("%d+"))
  end)

  it("kills and reaps unfinished processes when the garbage collector takes them", function()
    local pids = {}
    do
      local r = runner.new()
      for i = 1, 3 do pids[i] = assert(r:spawn{ argv = { "sleep", "30" } }):pid() end
      r = nil -- luacheck: ignore
    end
    collectgarbage()
    collectgarbage()
    for _, pid in ipairs(pids) do assert.is_false(exists(pid)) end
  end)

  it("closes idempotently, through close() and <close>", function()
    local pid
    do
      local r <close> = runner.new()
      local p <close> = assert(r:spawn{ argv = { "sleep", "30" } })
      pid = p:pid()
      assert.is_true(alive(pid))
      p:close()
      p:close()
    end
    assert.is_false(exists(pid))
    local r = runner.new()
    r:close()
    r:close()
    assert.has_error(function() r:spawn{ argv = { "true" } } end, "runner is closed")
  end)

  it("reports watched SIGINT as an event instead of dying", function()
    local r <close> = runner.new()
    r:watch_signals(true)
    signal_self("INT")
    local got
    for _ = 1, 50 do
      for _, ev in ipairs(r:step(0.1)) do
        if ev[2] == "signal" then got = ev[3] end
      end
      if got then break end
    end
    r:watch_signals(false)
    assert.equal("INT", got)
  end)

  it("knows how it learns of exits", function()
    local path = runner.exit_path()
    if os.getenv("KINA_BUILD") == "build-portable" then assert.equal("sigchld", path)
    else assert.is_true(path == "pidfd" or path == "sigchld") end
  end)
end)

describe("kina.async", function()
  local max_overlap = dofile("spec/support/world.lua").max_overlap

  it("runs processes concurrently up to the limit, results in the order asked", function()
    local results = async.run(function(k)
      local jobs = {}
      for i = 1, 6 do jobs[i] = k:spawn{ argv = { "sh", "-c", "sleep 0.2; echo " .. i } } end
      return k:await_all(jobs)
    end, { max = 2 })
    for i = 1, 6 do assert.equal(i .. "\n", results[i].stdout) end
    assert.equal(2, max_overlap(results))
    local all = async.run(function(k)
      local jobs = {}
      for i = 1, 6 do jobs[i] = k:spawn{ argv = { "sleep", "0.2" } } end
      return k:await_all(jobs)
    end, { max = 6 })
    assert.equal(6, max_overlap(all))
  end)

  it("lets tasks read top to bottom while running at once", function()
    local order = {}
    async.run(function(k)
      local a = k:go(function()
        local r = k:exec{ argv = { "sh", "-c", "sleep 0.3; echo a" } }
        order[#order + 1] = r.stdout
      end)
      local b = k:go(function()
        local r = k:exec{ argv = { "sh", "-c", "sleep 0.05; echo b" } }
        order[#order + 1] = r.stdout
      end)
      k:join(a)
      k:join(b)
    end)
    assert.same({ "b\n", "a\n" }, order)
  end)

  it("works from the main thread too", function()
    local k <close> = async.new()
    local r = k:exec{ argv = { "echo", "plain" } }
    assert.equal("plain\n", r.stdout)
    local before = async.now()
    k:sleep(0.05)
    assert.is_true(async.now() >= before + 0.05)
  end)

  it("returns nil, message, code when a program cannot start, and records it in await_all", function()
    local k <close> = async.new()
    local r, err, code = k:exec{ argv = { "/nonexistent/kina-x" } }
    assert.is_nil(r)
    assert.equal("ENOENT", code)
    assert.matches("ENOENT", err)
    local all = k:await_all{ k:spawn{ argv = { "true" } }, k:spawn{ argv = { "/nonexistent/kina-y" } } }
    assert.equal(0, all[1].code)
    assert.equal("ENOENT", all[2].code)
  end)

  it("raises a task's error in whoever joins it, and never loses one", function()
    assert.has_error(function()
      async.run(function(k)
        local t = k:go(function() error("boom in task", 0) end)
        k:join(t)
      end)
    end, "boom in task")
    assert.has_error(function()
      async.run(function(k)
        k:go(function() error("orphan failure", 0) end)
        k:exec{ argv = { "true" } }
      end)
    end, "orphan failure")
  end)

  it("delivers output line by line and stops a process when the callback says so", function()
    local lines = {}
    local k <close> = async.new()
    local r = k:exec{ argv = { "printf", "one\ntwo\nthree" }, on_stdout = function(l) lines[#lines + 1] = l end }
    assert.same({ "one", "two", "three" }, lines)
    assert.equal("one\ntwo\nthree", r.stdout)
    local seen = 0
    local y = k:exec{ argv = { "yes" }, on_stdout = function() seen = seen + 1; return seen == 100 end }
    assert.equal("TERM", y.signal)
    assert.is_true(seen >= 100)
  end)

  it("streams stdout of one job into another", function()
    local k <close> = async.new({ max = 1 })
    local producer = k:spawn{ argv = { "sh", "-c", "yes data | head -c 3000000" }, stdout = "pipe" }
    local consumer = k:spawn{ argv = { "wc", "-c" }, stdin_from = producer }
    local all = k:await_all{ producer, consumer }
    assert.equal("3000000", all[2].stdout:match("%d+"))
  end)

  it("cancels queued and running work", function()
    local results = async.run(function(k)
      local jobs = {}
      for i = 1, 4 do jobs[i] = k:spawn{ argv = { "sleep", "30" } } end
      k:go(function() k:sleep(0.1); k:cancel_all() end)
      return k:await_all(jobs)
    end, { max = 2 })
    assert.equal("TERM", results[1].signal)
    assert.equal("TERM", results[2].signal)
    assert.equal("ECANCELED", results[3].code)
    assert.equal("ECANCELED", results[4].code)
  end)

  it("turns SIGINT into an Interrupted error in waiting tasks, after stopping their processes", function()
    local err
    local pid_file = os.tmpname()
    finally(function() os.remove(pid_file) end)
    local k <close> = async.new()
    k:watch_interrupts()
    local ok, e = pcall(k.run, k, function()
      local job = k:spawn{ argv = { "sleep", "30" } }
      k:go(function() k:sleep(0.1); signal_self("INT") end)
      return k:await(job)
    end)
    k.runner:watch_signals(false)
    err = e
    assert.is_false(ok)
    assert.is_true(async.is_interrupted(err))
    assert.equal("INT", err.signal)
  end)

  it("rejects unknown scheduler options", function()
    assert.has_error(function() async.new{ maximum = 3 } end, "scheduler options: unknown field 'maximum'")
  end)
end)
