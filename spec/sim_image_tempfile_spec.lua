-- `image save` to stdout and `image load` from stdin go through a temporary file in
-- $TMPDIR, as Apple's client does (ImageSave.swift, ImageLoad.swift): the archive reaches stdout
-- only when it is complete, stdin is read to its end before anything is parsed, and the file
-- is removed after success and after failure.
local S = dofile("spec/sim_support.lua")
local uv = require("luv")

local function entries(dir)
  local out = {}
  local req = uv.fs_scandir(dir)
  while req do
    local name = uv.fs_scandir_next(req)
    if not name then break end
    out[#out + 1] = name
  end
  table.sort(out)
  return out
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Start the simulator with pipes on stdin, stdout and stderr; returns a job.
local function spawn(env, argv)
  local envlist = { "PATH=" .. (os.getenv("PATH") or "/usr/bin:/bin") }
  for k, v in pairs(env) do envlist[#envlist + 1] = k .. "=" .. v end
  local stdin, stdout, stderr = uv.new_pipe(false), uv.new_pipe(false), uv.new_pipe(false)
  local job = { out = {}, err = {}, stdin = stdin, eof = 0 }
  job.proc = assert(uv.spawn(S.BIN, { args = argv, env = envlist, stdio = { stdin, stdout, stderr } }, function(code, signal)
    job.done, job.code, job.signal = true, code, signal
  end))
  local function reader(pipe, into)
    pipe:read_start(function(_, data)
      if data then into[#into + 1] = data else pipe:close(); job.eof = job.eof + 1 end
    end)
  end
  reader(stdout, job.out)
  reader(stderr, job.err)
  return job
end

-- Run the loop until pred(), looking again every 10 ms (pred may watch files); the deadline
-- only keeps a broken simulator from hanging the suite.
local function run_until(pred, job)
  local expired = false
  local deadline, tick = uv.new_timer(), uv.new_timer()
  uv.update_time() -- the loop may not have run for a while: count from now
  deadline:start(60000, 0, function() expired = true end)
  tick:start(10, 10, function() end)
  while not pred() and not expired do
    uv.run("once")
    -- a child whose exit libuv was not told of (another SIGCHLD handler in this process) is
    -- gone all the same
    local pid = job and job.proc and job.proc:get_pid()
    if pid and not job.done then
      local f = io.open("/proc/" .. pid .. "/stat", "r") -- Linux: a zombie's state is Z
      local zombie = f and (f:read("a") or ""):match("^%d+ %b() (%a)") == "Z"
      if f then f:close() end
      if zombie or not uv.kill(pid, 0) then job.done, job.lost_exit = true, true end
    end
  end
  deadline:close()
  tick:close()
  uv.run("nowait")
  assert(not expired, ("gave up waiting after 60 s (job done: %s, stderr: %s)"):format(
    tostring(job and job.done), job and table.concat(job.err) or "-"))
end

local function finished(job) return function() return job.done and job.eof == 2 end end

describe("container simulator: image save/load through a temporary file", function()
  local sim, tmp, env, archive
  before_each(function()
    sim = S.sim()
    tmp = sim.dir .. "/tmp"
    assert(uv.fs_mkdir(tmp, tonumber("700", 8)))
    env = { KINA_SIM_STATE = sim.dir, TMPDIR = tmp }
    assert.are.equal(0, sim.run("image", "pull", "alpine").code)
    archive = sim.dir .. "/alpine.tar"
    assert.are.equal(0, sim.run("image", "save", "--output", archive, "alpine").code)
  end)
  after_each(function() sim.cleanup() end)

  local function run(extra, ...)
    local e = {}
    for k, v in pairs(env) do e[k] = v end
    for k, v in pairs(extra or {}) do e[k] = v end
    return S.run(e, { ... })
  end

  it("writes the archive to stdout after it is complete and removes the temporary file", function()
    local r = run(nil, "image", "save", "alpine")
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(read(archive), r.out)
    assert.are.equal("alpine\n", r.err)
    assert.are.same({}, entries(tmp))
  end)

  it("has written nothing to stdout while the finished archive waits in $TMPDIR", function()
    -- the fault point between the archive's completion and the copy to stdout; driven with
    -- kina.async (kina's runner), whose exit reporting no other part of this process shares
    local want = #read(archive)
    local res = require("kina.async").run(function(sched)
      local env = { PATH = os.getenv("PATH") or "/usr/bin:/bin", KINA_SIM_STATE = sim.dir, TMPDIR = tmp,
        KINA_SIM_HANG = "image save copy" }
      local job = sched:spawn{ argv = { S.BIN, "image", "save", "alpine" }, env = env, stdin = "", timeout = 60 }
      -- the spool file, once it has stopped growing (a size that differs from `want` is then
      -- reported by the comparison below rather than waited for)
      local spooled, last, still = nil, -1, 0
      for _ = 1, 6000 do
        local names = entries(tmp)
        local st = names[1] and uv.fs_stat(tmp .. "/" .. names[1])
        if st and st.size > 0 and st.size == last then still = still + 1 else still = 0 end
        last = st and st.size or -1
        if st and (st.size == want or still >= 20) then spooled = names[1]; break end
        if job.proc and job.proc:done() then break end
        sched:sleep(0.01)
      end
      local alive = job.proc and not job.proc:done()
      local spool = spooled and read(tmp .. "/" .. spooled)
      if job.proc then job.proc:kill("KILL") end
      local r = sched:await(job)
      return { spooled = spooled, spool = spool, alive = alive, r = r }
    end)
    assert.is_true(res.alive, "the simulator ended early: " .. tostring(res.r.stderr))
    -- "<UUID().uuidString>.tar": Swift's UUID text is upper-case
    assert.matches("^[%dA-F]+%-[%dA-F]+%-[%dA-F]+%-[%dA-F]+%-[%dA-F]+%.tar$", res.spooled)
    assert.are.equal(read(archive), res.spool)
    assert.are.equal("", res.r.stdout)
  end)

  it("writes nothing to stdout and removes the temporary file when the copy fails", function()
    local r = run({ KINA_SIM_FAIL = "image save copy" }, "image", "save", "alpine")
    assert.are.equal(1, r.code)
    assert.are.equal("", r.out)
    assert.are.equal('Error: unable to open temporary file for reading (cause: "internalError: '
      .. '"simulated failure (KINA_SIM_FAIL=image save copy)"")\n', r.err)
    assert.are.same({}, entries(tmp))
  end)

  it("fails with Apple's text when the temporary file cannot be created", function()
    local r = run({ TMPDIR = sim.dir .. "/missing" }, "image", "save", "alpine")
    assert.are.equal(1, r.code)
    assert.are.equal("", r.out)
    assert.are.equal("Error: unable to create temporary file\n", r.err)
    -- --output needs no temporary file
    r = run({ TMPDIR = sim.dir .. "/missing" }, "image", "save", "--output", sim.dir .. "/b.tar", "alpine")
    assert.are.equal(0, r.code, r.err)
  end)

  it("loads from stdin through a temporary file it removes afterwards", function()
    assert.are.equal(0, sim.run("image", "delete", "alpine").code)
    local r = S.run(env, { "image", "load" }, read(archive))
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("docker.io/library/alpine:latest\n", r.out)
    assert.are.same({}, entries(tmp))
  end)

  it("reads all of stdin before it parses, so a bad archive fails only after stdin ends", function()
    -- an invalid first header, then far more than a pipe holds: a reader that parsed as it
    -- read would stop at the first block and the writes would fail (EPIPE)
    local data = string.rep("n", 512) .. string.rep("\0", 1024 * 1024)
    local job = spawn(env, { "image", "load" })
    local pending, failures = 0, {}
    for i = 1, #data, 65536 do
      pending = pending + 1
      job.stdin:write(data:sub(i, i + 65535), function(err)
        pending = pending - 1
        if err then failures[#failures + 1] = err end
      end)
    end
    run_until(function() return pending == 0 end)
    assert.are.same({}, failures)
    uv.run("nowait")
    assert.is_falsy(job.done) -- still reading: stdin is open
    assert.are.equal(1, #entries(tmp)) -- the spool file
    job.stdin:close()
    run_until(finished(job), job)
    assert.are.equal(1, job.code)
    assert.are.equal("Error: failed to load image(s): archive/tar: invalid tar header\n", table.concat(job.err))
    assert.are.same({}, entries(tmp))
  end)

  it("fails a truncated archive from stdin after its end and removes the temporary file", function()
    local bytes = read(archive)
    local r = S.run(env, { "image", "load" }, bytes:sub(1, #bytes // 2))
    assert.are.equal(1, r.code)
    assert.matches("^Error: failed to load image%(s%): .*unexpected EOF\n$", r.err)
    assert.are.same({}, entries(tmp))
  end)
end)

-- kina's side: `kina load docker-image` pipes Apple's `image save` into `ctr import` in the node,
-- and the save is silent until its archive is complete.
describe("kina load docker-image while Apple's save writes its archive", function()
  local async = require "kina.async"
  local World = dofile("spec/support/world.lua")
  local IMAGE = "registry.example/web:2"
  local STEP = "Saving " .. IMAGE .. " from Apple's image store (`container image save` writes the whole archive before it streams into the nodes)"

  -- a world with a one-node cluster "kina" and IMAGE in Apple's image store
  local function cluster_world(sched)
    local w = World.new(sched, { prefix = "kina-load-save", cluster = "kina", timeout = 90 })
    local created = w.kina{ "create", "cluster" }
    assert(created.code == 0, created.stderr)
    assert(w.sim{ "image", "pull", IMAGE }.code == 0)
    return w
  end

  it("says the archive is being written before any byte reaches the import, then loads it", function()
    async.run(function(sched)
      local w = cluster_world(sched)
      local lines = {}
      -- the save hangs once its archive is complete, before it copies it to stdout
      local job = w.start({ "load", "docker-image", IMAGE }, { KINA_SIM_HANG = "image save copy" },
        function(line) lines[#lines + 1] = line end)
      local shown = w.until_(function()
        for _, l in ipairs(lines) do if l == " • " .. STEP .. "  ..." then return true end end
        return job.done
      end)
      assert.is_true(shown)
      assert.is_falsy(job.done, table.concat(lines, "\n"))
      -- kina waits, the import already started and reads nothing yet
      assert.is_true(w.until_(function() return w.calls("exec", "ctr", "images", "import") >= 1 end))
      assert(job.proc:kill("INT"))
      local r = sched:await(job)
      assert.equal(130, r.code, r.stderr)
      -- without the hang: the step ends, then the report
      r = w.kina{ "load", "docker-image", IMAGE }
      assert.equal(0, r.code, r.stderr)
      local started = r.stderr:find(" • " .. STEP .. "  ...\n", 1, true)
      local ended = r.stderr:find(" ✓ " .. STEP .. "\n", 1, true)
      local loaded = r.stderr:find('Loaded ' .. IMAGE .. ' into node "kina-control-plane"', 1, true)
      assert.truthy(started and ended and loaded, r.stderr)
      assert.truthy(started < ended and ended < loaded, r.stderr)
      w.close()
    end)
  end)

  it("lets each import wait as long as its save may take, plus its own time", function()
    async.run(function(sched)
      local w = cluster_world(sched)
      local apple = require "kina.provider.apple"
      local real = apple.new{ scheduler = sched, binary = World.SIM, timeouts = { save = 40, exec = 30 },
        env = { KINA_SIM_STATE = w.state, HOME = w.dir, KINA_SIM_BOOT_DELAY = "20", KINA_SIM_READY_DELAY = "20" } }
      local seen = {}
      local proxy = setmetatable({
        exec_job = function(self, name, cmd, opts)
          seen[#seen + 1] = opts
          return real.exec_job(self, name, cmd, opts)
        end,
      }, { __index = real })
      local c <close> = require("kina.cluster").new{ name = "kina", provider = proxy, scheduler = sched,
        status = require("kina.status").new{ quiet = true } }
      local report = c:load_images({ IMAGE })
      assert.same({ ["kina-control-plane"] = "loaded" }, report)
      assert.equal(1, #seen)
      assert.equal(70, seen[1].timeout)
      w.close()
    end)
  end)
end)
