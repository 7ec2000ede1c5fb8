-- Ctrl-C: real SIGINTs to a real build/kina process, spawned with kina's own runner so its
-- stderr can be read line by line while it runs. Interrupted, kina kills what it runs, cleans up
-- as after a failure and exits 130; a second SIGINT stops the cleanup and says what may be left.
local async = require "kina.async"

local World = dofile("spec/support/world.lua")
local CLUSTER = "ctrlc"
local TIMEOUT = 90 -- only so a kina that ignores signals cannot hang the suite

local CONFIG = [[
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
- role: worker
]]

local read = World.read

local function world(sched, extra)
  return World.new(sched, { prefix = "kina-ctrlc", cluster = CLUSTER, config = CONFIG, timeout = TIMEOUT, env = extra })
end

-- Run a create (or any command) and send SIGINT once `trigger(line)` was true for a stderr line
-- (no trigger: at once) and `ready()` (polled) holds; `second` (optional) is polled after the first signal and gets a
-- second SIGINT when true. Returns the result, the children seen before the first signal, and
-- the processes left afterwards.
local function interrupt(w, sched, args, more, trigger, ready, second)
  local seen_line = trigger == nil
  local job = w.start(args, more, function(line) if trigger and trigger(line) then seen_line = true end end)
  local signalled, children, signalled2 = false, {}, false
  local watcher = sched:go(function()
    if not w.until_(function() return job.done or (seen_line and (not ready or ready())) end) then return end
    if job.done then return end
    children = w.processes(job.proc:pid())
    assert(job.proc:kill("INT"))
    signalled = true
    if second then
      if w.until_(function() return job.done or second() end) and not job.done then
        assert(job.proc:kill("INT"))
        signalled2 = true
      end
    end
  end)
  local r = assert(sched:await(job))
  sched:join(watcher)
  return { r = r, signalled = signalled, signalled2 = signalled2, children = children,
    left = w.processes(), nodes = w.node_names() }
end

local function has(text, s) assert.truthy(text:find(s, 1, true), ("%q not in:\n%s"):format(s, text)) end

describe("Ctrl-C", function()
  local results

  local function create_args(w) return { "create", "cluster", "--name", CLUSTER, "--config", w.config } end

  local cases = {
    -- `run` is slow: the signal arrives while nodes are being made
    provisioning = function(sched)
      local w = world(sched, { KINA_SIM_LATENCY = "3000" })
      local res = interrupt(w, sched, create_args(w), nil,
        function(line) return line:find("Preparing nodes", 1, true) ~= nil end,
        function() return w.calls("run") > 0 end)
      w.close()
      return res
    end,
    -- the nodes never finish booting: kina polls them, sleeping between polls, when the signal comes
    booting = function(sched)
      local w = world(sched, { KINA_SIM_BOOT_DELAY = "600000" })
      local res = interrupt(w, sched, create_args(w), nil,
        function(line) return line:find("Preparing nodes", 1, true) ~= nil end,
        function() return w.calls("exec", "test", "-S") >= 6 end)
      w.close()
      return res
    end,
    kubeadm_init = function(sched)
      local w = world(sched, { KINA_SIM_HANG = "exec:kubeadm init" })
      local res = interrupt(w, sched, create_args(w), nil,
        function(line) return line:find("Starting control-plane", 1, true) ~= nil end,
        function() return w.calls("exec", "kubeadm", "init") > 0 end)
      res.kubeconfig = read(w.kubeconfig)
      w.close()
      return res
    end,
    -- the cleanup itself hangs on `delete`: a second Ctrl-C stops it
    twice = function(sched)
      local w = world(sched, { KINA_SIM_HANG = "exec:kubeadm init,delete" })
      local res = interrupt(w, sched, create_args(w), nil,
        function(line) return line:find("Starting control-plane", 1, true) ~= nil end,
        function() return w.calls("exec", "kubeadm", "init") > 0 end,
        function() return w.calls("delete") > 0 end)
      res.delete = w.kina({ "delete", "cluster", "--name", CLUSTER }, { KINA_SIM_HANG = false })
      res.nodes_after = w.node_names()
      w.close()
      return res
    end,
    image_load = function(sched)
      local w = world(sched)
      local created = w.kina(create_args(w))
      assert(created.code == 0, created.stderr)
      assert(w.sim{ "image", "pull", "registry.example/app:1" }.code == 0)
      local tar = w.dir .. "/app.tar"
      assert(w.sim{ "image", "save", "--output", tar, "registry.example/app:1" }.code == 0)
      local res = interrupt(w, sched, { "load", "image-archive", tar, "--name", CLUSTER },
        { KINA_SIM_HANG = "exec:ctr --namespace=k8s.io images import" }, nil,
        function() return w.calls("exec", "ctr", "images", "import") >= 3 end)
      res.states = w.nodes()
      res.again = w.kina({ "load", "image-archive", tar, "--name", CLUSTER })
      w.close()
      return res
    end,
  }

  local function result(name)
    if not results then
      results = {}
      async.run(function(sched)
        local tasks = {}
        for n, fn in pairs(cases) do
          tasks[#tasks + 1] = sched:go(function()
            local ok, res = pcall(fn, sched)
            results[n] = ok and res or { error = res }
          end)
        end
        sched:await_all(tasks)
      end)
    end
    local res = results[name]
    if res.error then error(res.error, 0) end
    return res
  end

  it("during provisioning: the running `container run`s are killed, the nodes removed, exit 130", function()
    local res = result("provisioning")
    assert.is_true(res.signalled, res.r.stderr)
    assert.is_true(#res.children > 0, "no child was running when the signal was sent")
    assert.equal(130, res.r.code, res.r.stderr)
    has(res.r.stderr, 'step "provision"')
    has(res.r.stderr, "interrupted (SIGINT)")
    has(res.r.stderr, "Deleted nodes:")
    assert.same({}, res.nodes)
    assert.same({}, res.left)
  end)

  it("while waiting for nodes to boot (between polls): every poll stops, the nodes are removed, exit 130", function()
    local res = result("booting")
    assert.is_true(res.signalled, res.r.stderr)
    assert.equal(130, res.r.code, res.r.stderr)
    has(res.r.stderr, 'step "provision"')
    has(res.r.stderr, "interrupted (SIGINT)")
    has(res.r.stderr, ('Deleted nodes: ["%s-control-plane" "%s-worker" "%s-worker2"]'):format(CLUSTER, CLUSTER, CLUSTER))
    assert.same({}, res.nodes)
    assert.same({}, res.left)
  end)

  it("during `kubeadm init`: the hung command is killed, cleanup runs as for a failure, exit 130", function()
    local res = result("kubeadm_init")
    assert.is_true(res.signalled, res.r.stderr)
    local hung = false
    for _, p in ipairs(res.children) do if p:find("kubeadm init", 1, true) then hung = true end end
    assert.is_true(hung, "kubeadm init was not running when the signal was sent")
    assert.equal(130, res.r.code, res.r.stderr)
    has(res.r.stderr, 'step "kubeadm_init"')
    has(res.r.stderr, "interrupted (SIGINT)")
    has(res.r.stderr, ('Deleted nodes: ["%s-control-plane" "%s-worker" "%s-worker2"]'):format(CLUSTER, CLUSTER, CLUSTER))
    assert.same({}, res.nodes)
    assert.same({}, res.left)
    assert.is_nil(res.kubeconfig)
  end)

  it("a second SIGINT stops a hung cleanup and says what may be left", function()
    local res = result("twice")
    assert.is_true(res.signalled2, res.r.stderr)
    assert.equal(130, res.r.code, res.r.stderr)
    has(res.r.stderr, "cleanup was interrupted (SIGINT):")
    assert.is_nil(res.r.stderr:find("interrupted (interrupted", 1, true), res.r.stderr)
    has(res.r.stderr, ('nodes ["%s-control-plane" "%s-worker" "%s-worker2"]'):format(CLUSTER, CLUSTER, CLUSTER))
    has(res.r.stderr, "may be left; `kina delete cluster --name " .. CLUSTER .. "` removes them")
    assert.is_nil(res.r.stderr:find("Deleted nodes:", 1, true))
    -- the hung delete was killed, and what it did not delete is still there to delete
    assert.same({}, res.left)
    assert.same({ CLUSTER .. "-control-plane", CLUSTER .. "-worker", CLUSTER .. "-worker2" }, res.nodes)
    assert.equal(0, res.delete.code, res.delete.stderr)
    assert.same({}, res.nodes_after)
  end)

  it("during an image load: the imports are killed, exit 130, the nodes keep running", function()
    local res = result("image_load")
    assert.is_true(res.signalled, res.r.stderr)
    assert.is_true(#res.children >= 3, "the imports were not running when the signal was sent")
    assert.equal(130, res.r.code, res.r.stderr)
    has(res.r.stderr, "interrupted (SIGINT)")
    assert.same({}, res.left)
    for name, state in pairs(res.states) do assert.equal("running", state, name) end
    assert.equal(0, res.again.code, res.again.stderr)
  end)
end)
