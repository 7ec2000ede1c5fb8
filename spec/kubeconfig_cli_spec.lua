-- The kubeconfig promises through the real CLI (build/kina against the simulator): concurrent
-- `kina export kubeconfig` processes lose no entry, a writer SIGKILLed while it holds the lock
-- or writes leaves a complete file and a lock the next writer recovers, and `kina create
-- cluster` / `kina delete cluster` keep every entry and field kina does not know.
--
-- 200 real clusters would take minutes, so the 200 "clusters" of the concurrency test are bare
-- control-plane containers in the simulator: what `kina export kubeconfig` reads is a node
-- labelled io.kina.cluster=<name> and io.kina.role=control-plane (Cluster:control_plane), its
-- published 6443 port (Cluster:api_server_url) and /etc/kubernetes/admin.conf inside it
-- (Cluster:kubeconfig_doc).
local uv = require "luv"
local lyaml = require "lyaml"
local json = require "kina.json"
local World = dofile("spec/support/world.lua")

local ROOT, KINA, SIM = World.ROOT, World.KINA, World.SIM
local KUBECTL = os.getenv("KUBECTL") or "kubectl"
local FIXTURES = ROOT .. "/spec/fixtures/kubeconfig/"
local NODE_IMAGE = "kindest/node:v1.35.5"
local PORT_BASE = 30000
-- No command here takes more than seconds; this only turns a hang into a failure.
local GUARD_MS = 300000

local slurp = World.read

local spit = World.write

local list_dir = World.list_dir

---------------------------------------------------------------------------------------------
-- Child processes (argv only), several at once on luv's loop

-- The environment of this process with `changes` applied (false removes a variable). The
-- simulator's fault switches and kina's cluster name are never inherited.
local function environment(changes)
  local env = uv.os_environ()
  for _, k in ipairs{ "KINA_CLUSTER_NAME", "KINA_SIM_FAIL", "KINA_SIM_HANG", "KINA_SIM_LOG", "KINA_SIM_LATENCY",
    "KINA_SIM_SYSTEM", "KINA_SIM_VERSION", "KINA_SIM_MACOS", "KUBECONFIG" } do
    env[k] = nil
  end
  for k, v in pairs(changes or {}) do env[k] = v or nil end
  local list = {}
  for k, v in pairs(env) do list[#list + 1] = k .. "=" .. v end
  return list
end

-- Children still running when a test ends (after a failed assertion) are killed then.
local running = {}

-- Start argv; opts.env (list), opts.cwd, opts.stdin_path (a file for stdin), opts.on_done
-- (called with the record once the child has exited and its pipes are drained). The record
-- then holds code, signal, stdout and stderr.
local function start(argv, opts)
  opts = opts or {}
  local rec = { argv = argv, out = {}, err = {}, pipes = 2 }
  local function check_done()
    if rec.exited and rec.pipes == 0 and not rec.finished then
      rec.finished = true
      if rec.guard then
        rec.guard:stop()
        rec.guard:close()
      end
      running[rec] = nil
      rec.stdout, rec.stderr = table.concat(rec.out), table.concat(rec.err)
      if opts.on_done then opts.on_done(rec) end
    end
  end
  local stdin_fd
  if opts.stdin_path then stdin_fd = assert(uv.fs_open(opts.stdin_path, "r", 0)) end
  local stdout, stderr = uv.new_pipe(false), uv.new_pipe(false)
  local handle, pid = uv.spawn(argv[1], {
    args = { table.unpack(argv, 2) }, env = opts.env, cwd = opts.cwd,
    stdio = { stdin_fd, stdout, stderr },
  }, function(code, signal)
    rec.code, rec.signal, rec.exited = code, signal, true
    rec.handle:close()
    check_done()
  end)
  if stdin_fd then uv.fs_close(stdin_fd) end
  assert(handle, "could not start " .. argv[1] .. ": " .. tostring(pid))
  rec.handle, rec.pid = handle, pid
  running[rec] = true
  -- a bound, so that a hung child fails its test instead of hanging the suite
  local guard = uv.new_timer()
  uv.update_time() -- the loop may not have run for a while: count from now
  guard:start(GUARD_MS, 0, function()
    if not rec.exited then
      rec.timed_out = true
      handle:kill("sigkill")
    end
  end)
  guard:unref()
  rec.guard = guard
  local function drain(pipe, into)
    pipe:read_start(function(err, data)
      assert(not err, err)
      if data then
        into[#into + 1] = data
      else
        pipe:close()
        rec.pipes = rec.pipes - 1
        check_done()
      end
    end)
  end
  drain(stdout, rec.out)
  drain(stderr, rec.err)
  return rec
end

local function finish(rec)
  while not rec.finished do uv.run("once") end
  uv.run("nowait") -- let the handles' closes complete
  return rec
end

local function run(argv, opts) return finish(start(argv, opts)) end

local function describe_failure(rec)
  return ("%s: exit %s signal %s%s\n%s%s"):format(table.concat(rec.argv, " "), tostring(rec.code),
    tostring(rec.signal), rec.timed_out and (" (killed after " .. GUARD_MS .. " ms)") or "", rec.stdout or "", rec.stderr or "")
end

-- Run several chains of commands at once: chains[i] is a list of jobs {argv, opts, check =
-- function(rec)}; each chain runs its jobs one after another. Raises on the first failure.
local function run_chains(chains)
  local pending, failure = #chains, nil
  local function step(chain, i)
    local job = chain[i]
    if not job or failure then
      pending = pending - 1
      return
    end
    local opts = {}
    for k, v in pairs(job[2] or {}) do opts[k] = v end
    opts.on_done = function(rec)
      if rec.code ~= 0 or rec.signal ~= 0 then
        failure = failure or describe_failure(rec)
      elseif job.check then
        local ok, err = pcall(job.check, rec)
        if not ok then failure = failure or tostring(err) end
      end
      step(chain, i + 1)
    end
    start(job[1], opts)
  end
  for _, chain in ipairs(chains) do step(chain, 1) end
  while pending > 0 do uv.run("once") end
  uv.run("nowait")
  assert(not failure, failure)
end

---------------------------------------------------------------------------------------------
-- A world: simulator state, HOME and a kubeconfig path in a fresh directory

local function world()
  local dir = assert(uv.fs_mkdtemp("/tmp/kina-kccli-XXXXXX"))
  local w = { dir = dir, kube = dir .. "/kube" }
  assert(uv.fs_mkdir(w.kube, tonumber("755", 8)))
  w.kubeconfig = w.kube .. "/config"
  w.env = environment{
    KINA_CONTAINER = SIM, KINA_SIM_STATE = dir .. "/state", HOME = dir, KUBECONFIG = w.kubeconfig,
    KINA_SIM_BOOT_DELAY = "0", KINA_SIM_READY_DELAY = "20", NO_COLOR = "1",
  }
  function w.kina(args)
    return run({ KINA, table.unpack(args) }, { env = w.env, cwd = dir })
  end
  function w.sim(args, opts)
    return run({ SIM, table.unpack(args) }, { env = w.env, stdin_path = opts and opts.stdin_path })
  end
  function w.kubectl(args)
    local r = run({ KUBECTL, "--kubeconfig", w.kubeconfig, table.unpack(args) }, { env = w.env })
    assert(r.code == 0, describe_failure(r))
    return r.stdout
  end
  -- kubectl's own reading of the file, as data
  function w.view() return json.decode(w.kubectl{ "config", "view", "--raw", "-o", "json" }) end
  function w.close() os.execute("rm -rf '" .. dir:gsub("'", "'\\''") .. "'") end
  return w
end

-- A bare control plane for cluster `name`, with kubeadm's admin.conf in place: the argv lists.
local function bare_control_plane(name, port)
  local node = name .. "-control-plane"
  return {
    { { SIM, "run", "-d", "--name", node, "--cap-add", "ALL", "-l", "io.kina.cluster=" .. name, "-l", "io.kina.role=control-plane",
      "-p", ("127.0.0.1:%d:6443"):format(port), NODE_IMAGE } },
    { { SIM, "exec", "-i", node, "cp", "/dev/stdin", "/etc/kubernetes/admin.conf" },
      { stdin_path = FIXTURES .. "admin.conf" } },
  }
end

local names = World.names

local function by_name(list)
  local out = {}
  for _, e in ipairs(list or {}) do out[e.name] = e end
  return out
end

-- A copy of a kubectl view (or a YAML document) without kina's entries and current-context.
local function without_kina(doc)
  local copy = {}
  for k, v in pairs(doc) do copy[k] = v end
  for _, field in ipairs{ "clusters", "users", "contexts" } do
    if type(doc[field]) == "table" then
      local kept = {}
      for _, e in ipairs(doc[field]) do
        if not tostring(e.name):match("^kina%-") then kept[#kept + 1] = e end
      end
      copy[field] = kept
    end
  end
  copy["current-context"] = nil
  return copy
end

local function kina_entries(doc, field)
  local out = {}
  for _, e in ipairs(doc[field] or {}) do
    if tostring(e.name):match("^kina%-") then out[#out + 1] = e.name end
  end
  table.sort(out)
  return out
end

local function has_temp_or_lock(dir)
  for _, name in ipairs(list_dir(dir)) do
    if name ~= "config" then return name end
  end
  return nil
end

local POPULATED = assert(slurp(FIXTURES .. "populated.yaml"))

describe("the kubeconfig through the kina CLI", function()
  after_each(function()
    for rec in pairs(running) do
      if not rec.exited then rec.handle:kill("sigkill") end
      finish(rec)
    end
  end)

  describe("with 200 clusters", function()
    local w
    local CLUSTERS = 200

    lazy_setup(function()
      w = world()
      assert.are.equal(0, w.sim{ "image", "pull", NODE_IMAGE }.code)
      -- 4 chains of `container run` + `exec cp`, to use the cores while one holds the state lock
      local chains = {}
      for i = 1, CLUSTERS do
        local chain = chains[(i - 1) % 4 + 1] or {}
        chains[(i - 1) % 4 + 1] = chain
        local jobs = bare_control_plane("c" .. i, PORT_BASE + i)
        for _, job in ipairs(jobs) do
          local opts = { env = w.env }
          for k, v in pairs(job[2] or {}) do opts[k] = v end
          chain[#chain + 1] = { job[1], opts }
        end
      end
      run_chains(chains)
    end)

    lazy_teardown(function() if w then w.close() end end)

    it("8 processes x 25 rounds of `kina export kubeconfig` keep all 200 contexts in one file", function()
      spit(w.kubeconfig, POPULATED)
      local before = w.view()
      local chains = {}
      for p = 1, 8 do
        local chain = {}
        for round = 1, 25 do
          local name = "c" .. ((p - 1) * 25 + round)
          chain[round] = {
            { KINA, "export", "kubeconfig", "--name", name }, { env = w.env, cwd = w.dir },
            check = function(rec)
              assert(rec.stderr:find(('Set kubectl context to "kina-%s"'):format(name), 1, true), rec.stderr)
            end,
          }
        end
        chains[p] = chain
      end
      run_chains(chains)

      -- kubectl reads the file and lists every context
      local listed = {}
      for line in w.kubectl{ "config", "get-contexts", "-o", "name" }:gmatch("[^\n]+") do listed[#listed + 1] = line end
      table.sort(listed)
      local want = { "legacy", "work" }
      for i = 1, CLUSTERS do want[#want + 1] = "kina-c" .. i end
      table.sort(want)
      assert.are.same(want, listed)
      local table_lines = select(2, w.kubectl{ "config", "get-contexts" }:gsub("\n", ""))
      assert.are.equal(CLUSTERS + 3, table_lines) -- a header, the user's two contexts, kina's 200

      -- every entry is complete and points at its own cluster's published port
      local view = w.view()
      assert.are.equal(CLUSTERS + 2, #view.clusters)
      assert.are.equal(CLUSTERS + 2, #view.users)
      local clusters, users, contexts = by_name(view.clusters), by_name(view.users), by_name(view.contexts)
      for i = 1, CLUSTERS do
        local key = "kina-c" .. i
        assert.are.equal(("https://127.0.0.1:%d"):format(PORT_BASE + i), clusters[key].cluster.server)
        assert.are.equal(key, contexts[key].context.cluster)
        assert.are.equal(key, contexts[key].context.user)
        assert.is_string(users[key].user["client-key-data"])
      end
      assert.matches("^kina%-c%d+$", view["current-context"])
      -- the user's own entries are exactly as before; no lock or temporary file is left
      assert.are.same(without_kina(before), without_kina(view))
      assert.is_nil(has_temp_or_lock(w.kube))
      assert.are.equal(tonumber("600", 8), uv.fs_stat(w.kubeconfig).mode & tonumber("777", 8))
    end)

    describe("a writer killed with SIGKILL", function()
      -- A big kubeconfig makes every rewrite long enough to be caught in the middle.
      local TOKEN = 8 * 1024 * 1024

      local function big_kubeconfig()
        local text, n = POPULATED:gsub("\nusers:\n", "\nusers:\n- name: big\n  user:\n    token: "
          .. string.rep("t", TOKEN) .. "\n", 1)
        assert(n == 1)
        spit(w.kubeconfig, text)
        return w.view()
      end

      -- Start `kina export kubeconfig --name <name>` and SIGKILL it as soon as `caught(files)`
      -- is true of the kubeconfig directory's entries. Returns the record when the writer died
      -- holding the lock (the kill came before it finished), else nil after checking that it
      -- completed normally.
      local function kill_when(name, caught)
        local rec = start({ KINA, "export", "kubeconfig", "--name", name }, { env = w.env, cwd = w.dir })
        while not rec.exited do
          if caught(list_dir(w.kube)) then
            rec.handle:kill("sigkill")
            break
          end
          uv.run("nowait")
        end
        finish(rec)
        if rec.signal == 9 and uv.fs_stat(w.kubeconfig .. ".lock") then return rec end
        -- too late: it had finished (or was killed after releasing the lock)
        assert.is_true(rec.code == 0 or rec.signal == 9, describe_failure(rec))
        return nil
      end

      local function any(files, pattern)
        for _, f in ipairs(files) do if f:find(pattern) then return f end end
      end

      local function check_complete(before, extra)
        local view = w.view() -- kubectl parses it: not truncated
        local users = by_name(view.users)
        assert.are.equal(TOKEN, #users.big.user.token)
        local want = { "legacy", "work" }
        for _, n in ipairs(extra) do want[#want + 1] = n end
        table.sort(want)
        -- the killed writer's entry is there or not (old or new file), nothing else changed
        local got = names(view.contexts)
        local without_killed = {}
        for _, n in ipairs(got) do if n ~= "kina-c199" and n ~= "kina-c200" then without_killed[#without_killed + 1] = n end end
        assert.are.same(want, without_killed)
        assert.are.same(without_kina(before), without_kina(view))
      end

      for _, case in ipairs{
        { what = "while it writes the new file", name = "c199",
          caught = function(files) return any(files, "^%.config%.kina%-%d+%-%x+%.tmp$") end },
        { what = "while it holds the lock", name = "c200",
          caught = function(files) return any(files, "^config%.lock$") end },
      } do
        it(case.what .. " leaves a complete file and a lock the next writer recovers", function()
          local before = big_kubeconfig()
          local killed
          for _ = 1, 20 do
            killed = kill_when(case.name, case.caught)
            if killed then break end
          end
          assert.is_not_nil(killed, "never caught a writer " .. case.what .. " in 20 tries")
          assert.are.equal(9, killed.signal)
          -- its lock is still there, recording the dead writer
          local lock = slurp(w.kubeconfig .. ".lock")
          assert.is_not_nil(lock, "the killed writer held no lock")
          assert.are.equal(killed.pid, tonumber(lock:match("pid=(%d+)")))
          check_complete(before, {})

          -- the next writer is not blocked: it recovers the lock, removes the dead writer's
          -- temporary file and merges
          local r = w.kina{ "export", "kubeconfig", "--name", "c1" }
          assert.are.equal(0, r.code, describe_failure(r))
          assert.is_nil(has_temp_or_lock(w.kube))
          check_complete(before, { "kina-c1" })
          assert.are.equal("kina-c1", w.view()["current-context"])
        end)
      end
    end)
  end)

  it("keeps entries and fields kina does not know through `kina create cluster` and `kina delete cluster`", function()
    local w = world()
    finally(w.close)
    spit(w.kubeconfig, POPULATED)
    local before_view = w.view()
    local before_doc = lyaml.load(POPULATED)

    local r = w.kina{ "create", "cluster", "--name", "keep" }
    assert.are.equal(0, r.code, describe_failure(r))
    local view = w.view()
    assert.are.same({ "kina-keep" }, kina_entries(view, "clusters"))
    assert.are.same({ "kina-keep" }, kina_entries(view, "users"))
    assert.are.same({ "kina-keep" }, kina_entries(view, "contexts"))
    assert.are.equal("kina-keep", view["current-context"])
    -- kubectl sees everything else exactly as before (exec plugin, extensions, preferences) ...
    assert.are.same(without_kina(before_view), without_kina(view))
    -- ... and so does a plain YAML reading, which also keeps what kubectl drops on its way in
    -- (the unknown top-level field and its nulls, empty maps and lists, numbers)
    local doc = lyaml.load(slurp(w.kubeconfig))
    assert.are.same(without_kina(before_doc), without_kina(doc))

    r = w.kina{ "delete", "cluster", "--name", "keep" }
    assert.are.equal(0, r.code, describe_failure(r))
    view = w.view()
    assert.are.same({}, kina_entries(view, "clusters"))
    assert.are.same({}, kina_entries(view, "users"))
    assert.are.same({}, kina_entries(view, "contexts"))
    -- current-context pointed at the deleted cluster, so it is cleared (as kind does)
    assert.are.equal("", view["current-context"])
    assert.are.same(without_kina(before_view), without_kina(view))
    doc = lyaml.load(slurp(w.kubeconfig))
    assert.are.same(without_kina(before_doc), without_kina(doc))
    assert.is_nil(has_temp_or_lock(w.kube))
  end)
end)
