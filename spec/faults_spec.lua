-- Faults at every step: a failed create (and every other command) leaves nothing behind.
--
-- The steps of create are not listed here: a recorder script, run by `build/kina run`, runs
-- scripts/create.lua itself with every entry of `c.steps` wrapped, and writes down which
-- simulator calls each step made (KINA_SIM_LOG lines) and which of them the step needed to
-- succeed. For each step a KINA_SIM_FAIL pattern is derived from such a call (one no earlier
-- step makes), and `build/kina create cluster` is run with it: everything runs concurrently on
-- kina's own scheduler, each world with its own simulator state, HOME and kubeconfig.
local async = require "kina.async"
local json = require "kina.json"
local fault = require "kina.sim.fault"
local apple = require "kina.provider.apple"

local World = dofile("spec/support/world.lua")
local ROOT, SIM = World.ROOT, World.SIM
local CLUSTER = "f"
local NETWORK = "fnet"
local TIMEOUT = 120 -- only so a broken build cannot hang the suite
-- KINA_CONTAINER_TIMEOUT for the hang cases: it caps every CLI call, so it must leave room for
-- the calls that do answer on a loaded machine (these specs run many creates at once)
local HANG_CAP = "10"

local CONFIG = ([[
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
network: %s
nodes:
- role: control-plane
- role: worker
- role: worker
]]):format(NETWORK)

-- kind's HA shape (3 control planes behind the load balancer, and a worker): the steps only it
-- has (loadbalancer, join_control_planes) and the other steps with several control planes
local HA_CONFIG = ([[
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
network: %s
nodes:
- role: control-plane
- role: control-plane
- role: control-plane
- role: worker
]]):format(NETWORK)

-- The shapes the faults of create run with: config, and the nodes of the created cluster.
local SHAPES = {
  { title = "1 control plane + 2 workers", config = CONFIG,
    nodes = { CLUSTER .. "-control-plane", CLUSTER .. "-worker", CLUSTER .. "-worker2" } },
  { title = "3 control planes + 1 worker", config = HA_CONFIG,
    nodes = { CLUSTER .. "-control-plane", CLUSTER .. "-control-plane2", CLUSTER .. "-control-plane3",
      CLUSTER .. "-external-load-balancer", CLUSTER .. "-worker" },
    -- the workers' joins begin beside the control planes' (kina.ha): the worker step only
    -- waits for them, and a worker's failure surfaces there
    shared = { join = true } },
}

-- Somebody's kubeconfig, with entries that are not kina's: it must survive byte for byte.
local KUBECONFIG = [[
apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://example.invalid:6443
  name: other
contexts:
- context:
    cluster: other
    user: other
  name: other
current-context: other
preferences: {}
users:
- name: other
  user:
    token: not-a-secret
]]

-- Runs scripts/create.lua (arg[2]) with its arguments, every step wrapped; writes JSON to arg[1]:
-- [{name, from, to (KINA_SIM_LOG line numbers), checked = [argv the step required to succeed]}]
local RECORDER = [=[
local out_path, script = arg[1], arg[2]
local kina = require "kina"
local json = require "kina.json"
local function log_lines()
  local f = io.open(os.getenv("KINA_SIM_LOG"), "rb")
  if not f then return 0 end
  local n = 0
  for _ in f:lines() do n = n + 1 end
  f:close()
  return n
end
local steps, current = json.array({}), nil
local new_cluster = kina.cluster
kina.cluster = function(opts)
  local c = new_cluster(opts)
  local p = c.provider
  local call, exec = p.call, p.exec
  -- provider:call raises on failure; provider:exec does unless check = false
  p.call = function(self, op, node, args, extra)
    if current then current.checked[#current.checked + 1] = json.array({ table.unpack(args) }) end
    return call(self, op, node, args, extra)
  end
  p.exec = function(self, name, cmd, opts)
    if current and not (opts and opts.check == false) then
      current.checked[#current.checked + 1] = json.array({ "exec", name, table.unpack(cmd) })
    end
    return exec(self, name, cmd, opts)
  end
  -- a batch (kina.batch) must succeed: its exec runs with check = false and is judged by its steps
  local exec_batch = p.exec_batch
  p.exec_batch = function(self, name, b, opts)
    if current then current.checked[#current.checked + 1] = json.array({ "exec", name, table.unpack(b:argv()) }) end
    return exec_batch(self, name, b, opts)
  end
  for _, s in ipairs(c.steps) do
    local run = s.run
    s.run = function(...)
      current = { name = s.name, from = log_lines() + 1, checked = json.array({}) }
      local ok, err = pcall(run, ...)
      current.to = log_lines()
      steps[#steps + 1] = current
      current = nil
      if not ok then error(err, 0) end
    end
  end
  return c
end
local chunk = assert(loadfile(script))
local ok, err = pcall(chunk, table.unpack(arg, 3))
local f = assert(io.open(out_path, "w"))
f:write(json.encode(steps))
f:close()
if not ok then error(err, 0) end
return 0
]=]

---------------------------------------------------------------------------------------------
-- Worlds: a simulator state, HOME, kubeconfig and argv log, driven through a scheduler

local read, write = World.read, World.write

local function world(sched, extra, config)
  local w = World.new(sched, { prefix = "kina-faults", cluster = CLUSTER, config = config or CONFIG, kubeconfig = KUBECONFIG,
    timeout = TIMEOUT, env = extra })
  function w.log_size() return #w.log() end
  return w
end

-- Processes still alive that belong to a world: their environment names its simulator state.
local function leftovers(w) return w.processes() end

---------------------------------------------------------------------------------------------
-- From a logged argv to the fault grammar's op and targets (lua/kina/sim/README.md)

local GROUPS = { image = true, network = true, system = true }
local VALUED = { ["--user"] = true, ["--workdir"] = true, ["-e"] = true, ["--env"] = true, ["--time"] = true,
  ["-t"] = true, ["--signal"] = true, ["-s"] = true, ["--platform"] = true, ["--output"] = true, ["-o"] = true,
  ["--format"] = true, ["--label"] = true, ["--subnet"] = true, ["--input"] = true, ["-i"] = false }

-- op, {targets}: exec's target is its command line; run's the --name; others their positionals
local function op_targets(argv)
  local op, i = argv[1], 2
  if GROUPS[op] then op, i = op .. " " .. argv[2], 3 end
  if op == "run" then
    for j = 2, #argv - 1 do if argv[j] == "--name" then return op, { argv[j + 1] } end end
    return op, {}
  end
  local positional = {}
  while i <= #argv do
    local a = argv[i]
    if a:sub(1, 1) == "-" then
      i = i + (VALUED[a] and 2 or 1)
    elseif op == "exec" then
      return op, { table.concat(argv, " ", i + 1) }, a
    else
      positional[#positional + 1] = a
      i = i + 1
    end
  end
  return op, positional
end

local INJECTABLE = { run = true, create = true, start = true, stop = true, kill = true, delete = true, list = true,
  inspect = true, exec = true, logs = true, copy = true, prune = true }

-- A KINA_SIM_FAIL pattern failing this call (nil when the grammar cannot express it).
local function pattern_for(argv)
  local op, targets = op_targets(argv)
  if not (INJECTABLE[op] or GROUPS[op:match("^%S+")]) then return nil end
  local target = targets[1]
  if op == "exec" then
    -- a prefix of the command line, in whole words, without the grammar's separators; a
    -- kina.batch's arguments (after its "kina" $0) differ from run to run (addresses, a random
    -- separator), so its pattern is its script
    local script = target:match("^(bash %-c .-) kina%s+%-%-kina%-")
    if script then target = script end
    local words = {}
    for word in target:gmatch("%S+") do
      if word:find("[,*]") then break end
      words[#words + 1] = word
    end
    return "exec:" .. table.concat(words, " ")
  end
  if target and not target:find("[,*]") then return op .. ":" .. target end
  return op
end

-- Does the fault pattern hit this logged call? (the simulator's own matcher)
local function hits(pattern, argv)
  local op, targets = op_targets(argv)
  local check = fault.new(pattern, nil)
  if #targets == 0 then return (check.should_fail(op, nil)) end
  for _, t in ipairs(targets) do if check.should_fail(op, t) then return true end end
  return false
end

local function command_line(argv)
  return apple.command_line({ SIM, table.unpack(argv) })
end

-- The log's calls the pattern hit whose command line the message shows.
local function shown_calls(stderr, log, pattern)
  local hit, shown = 0, 0
  for _, argv in ipairs(log) do
    if hits(pattern, argv) then
      hit = hit + 1
      if stderr:find("command: " .. command_line(argv), 1, true) then shown = shown + 1 end
    end
  end
  return hit, shown
end

-- Run `cases` (name -> function(sched) returning data) concurrently on one scheduler.
local function run_all(cases)
  local out = {}
  async.run(function(sched)
    local tasks, names = {}, {}
    for name, fn in pairs(cases) do
      names[#names + 1] = name
      tasks[#tasks + 1] = sched:go(function()
        local ok, res = pcall(fn, sched)
        out[name] = ok and res or { error = res }
      end)
    end
    sched:await_all(tasks)
  end, { max = 12 })
  return out
end

local function create_args(more)
  local args = { "create", "cluster", "--name", CLUSTER, "--wait", "5s" }
  for _, a in ipairs(more or {}) do args[#args + 1] = a end
  return args
end

local function assert_case(r)
  if r.error then error(r.error, 0) end
  return r
end

---------------------------------------------------------------------------------------------
-- create: a fault at every step

-- The steps create runs, with the calls they made, from scripts/create.lua itself.
local function record_steps(config)
  local plan
  async.run(function(sched)
    local w = world(sched, nil, config)
    local recorder = w.dir .. "/recorder.lua"
    write(recorder, RECORDER)
    local r = w.kina{ "run", recorder, w.dir .. "/steps.json", ROOT .. "/scripts/create.lua",
      "--name", CLUSTER, "--config", w.config, "--wait", "5s" }
    local log = w.log()
    local steps = json.decode(read(w.dir .. "/steps.json") or "null")
    w.close()
    assert(r.code == 0 and steps, "the recording create failed:\n" .. r.stderr)
    -- for each step: the last call it needed to succeed that no earlier step made
    local earlier = {}
    plan = {}
    for _, s in ipairs(steps) do
      local calls = {}
      for i = s.from, s.to do calls[#calls + 1] = log[i] end
      local function fresh(pattern)
        for _, argv in ipairs(earlier) do if hits(pattern, argv) then return false end end
        return true
      end
      local chosen
      for i = #s.checked, 1, -1 do
        local p = pattern_for(s.checked[i])
        if p and fresh(p) then chosen = { pattern = p, checked = true }; break end
      end
      if not chosen then
        -- nothing here must succeed (the step tolerates failures): fault what it ran anyway
        for i = #calls, 1, -1 do
          local p = pattern_for(calls[i])
          if p and fresh(p) then chosen = { pattern = p, checked = false }; break end
        end
      end
      plan[#plan + 1] = { name = s.name, calls = calls, pattern = chosen and chosen.pattern,
        tolerant = chosen and not chosen.checked }
      for _, argv in ipairs(calls) do earlier[#earlier + 1] = argv end
    end
  end)
  return plan
end

-- Steps whose runtime calls all come with an earlier step's (fewer round trips, issue 14): no
-- fault can hit them alone. kubeconfig lists the nodes (as every step before it did) and takes
-- admin.conf from the service_lb step's batch.
local SHARED_CALLS = { kubeconfig = true }

local ran_steps = {} -- every step some shape ran
for _, shape in ipairs(SHAPES) do
describe("a fault at each step of create (" .. shape.title .. ")", function()
  local ok_plan, plan = pcall(record_steps, shape.config)
  if not ok_plan then
    it("records the steps of create", function() error(plan, 0) end)
    return
  end

  local results
  local function run_faults()
    if results then return results end
    local cases = {}
    for _, s in ipairs(plan) do
      if s.pattern then
        for _, retain in ipairs{ false, true } do
          cases[s.name .. (retain and "+retain" or "")] = function(sched)
            local w = world(sched, { KINA_SIM_FAIL = s.pattern }, shape.config)
            local before = read(w.kubeconfig)
            local r = w.kina(create_args{ "--config", w.config, retain and "--retain" or nil })
            local res = { r = r, log = w.log(), nodes = w.node_names(), networks = w.networks(),
              kubeconfig_same = read(w.kubeconfig) == before, kubeconfig = read(w.kubeconfig),
              leftovers = leftovers(w) }
            if retain then
              -- what --retain kept goes with the command it suggests
              res.delete = w.kina({ "delete", "cluster", "--name", CLUSTER }, { KINA_SIM_FAIL = false })
              res.nodes_after = w.node_names()
              res.networks_after = w.networks()
            end
            w.close()
            return res
          end
        end
      end
    end
    results = run_all(cases)
    return results
  end

  it("gives every step it runs a fault a call of its own can take", function()
    for _, s in ipairs(plan) do
      ran_steps[s.name] = true
      if not (SHARED_CALLS[s.name] or (shape.shared or {})[s.name]) then
        assert.is_truthy(s.pattern, "no injectable call in step " .. s.name)
        assert.is_truthy(#s.calls > 0, "step " .. s.name .. " made no call")
      end
    end
  end)

  for _, s in ipairs(plan) do
    if not s.pattern and (SHARED_CALLS[s.name] or (shape.shared or {})[s.name]) then
      -- nothing to inject: see SHARED_CALLS
    elseif s.tolerant then
      it(("step %q tolerates a failure of its own call (%s): a warning that shows it, and the cluster"):format(s.name, s.pattern), function()
        local res = assert_case(run_faults()[s.name])
        local r = res.r
        assert.equal(0, r.code, r.stderr)
        assert.truthy(r.stderr:find("WARNING", 1, true), r.stderr)
        assert.truthy(r.stderr:find("simulated failure (KINA_SIM_FAIL=" .. s.pattern .. ")", 1, true), r.stderr)
        assert.same(shape.nodes, res.nodes)
        assert.truthy(res.kubeconfig:find("kina-" .. CLUSTER, 1, true))
      end)
    else
      it(("step %q failing (%s) exits 1, names the step and the command, and leaves nothing behind"):format(s.name, s.pattern), function()
        local res = assert_case(run_faults()[s.name])
        local r = res.r
        assert.equal(1, r.code, r.stderr)
        assert.truthy(r.stderr:find(('step "%s"'):format(s.name), 1, true), r.stderr)
        assert.truthy(r.stderr:find("simulated failure (KINA_SIM_FAIL=" .. s.pattern .. ")", 1, true), r.stderr)
        local hit, shown = shown_calls(r.stderr, res.log, s.pattern)
        assert.is_true(hit > 0, "the fault hit nothing")
        assert.is_true(shown > 0, "the failing command line is not shown:\n" .. r.stderr)
        assert.same({}, res.nodes)
        assert.is_nil(res.networks[NETWORK])
        assert.is_true(res.kubeconfig_same, "the kubeconfig changed:\n" .. tostring(res.kubeconfig))
        assert.same({}, res.leftovers)
      end)

      it(("step %q failing with --retain keeps what was made and says how to delete it"):format(s.name), function()
        local res = assert_case(run_faults()[s.name .. "+retain"])
        local r = res.r
        assert.equal(1, r.code, r.stderr)
        assert.truthy(r.stderr:find(('step "%s"'):format(s.name), 1, true), r.stderr)
        assert.truthy(r.stderr:find("kina delete cluster --name " .. CLUSTER, 1, true), r.stderr)
        -- kept: every node whose `run` succeeded, the network if it was made
        local made, network_made = {}, false
        for _, argv in ipairs(res.log) do
          local op, targets = op_targets(argv)
          if op == "run" and not hits(s.pattern, argv) then made[#made + 1] = targets[1] end
          if op == "network create" and not hits(s.pattern, argv) then network_made = true end
        end
        table.sort(made)
        assert.same(made, res.nodes)
        assert.equal(network_made, res.networks[NETWORK] == true)
        assert.is_true(res.kubeconfig_same)
        -- and the suggested command removes it all
        assert.equal(0, res.delete.code, res.delete.stderr)
        assert.same({}, res.nodes_after)
        assert.is_nil(res.networks_after[NETWORK])
      end)
    end
  end
end)
end

describe("the faults of create", function()
  it("exercise every step kina.create_steps defines, in one shape or another", function()
    local missing = {}
    for _, s in ipairs(require("kina.cluster").create_steps()) do
      if not ran_steps[s.name] then missing[#missing + 1] = s.name end
    end
    assert.same({}, missing)
  end)
end)

---------------------------------------------------------------------------------------------
-- The other commands

describe("a fault in the other commands", function()
  local results

  -- a created cluster in a fresh world
  local function cluster(sched, extra)
    local w = world(sched, extra)
    local r = w.kina(create_args{ "--config", w.config }, { KINA_SIM_FAIL = false, KINA_SIM_HANG = false, KINA_CONTAINER_TIMEOUT = false })
    assert(r.code == 0, "create failed:\n" .. r.stderr)
    return w
  end

  local function image_archive(w, ref)
    assert(w.sim{ "image", "pull", ref }.code == 0)
    local tar = w.dir .. "/image.tar"
    local r = w.sim{ "image", "save", "--output", tar, ref }
    assert(r.code == 0, r.stderr)
    return tar
  end

  local cases = {
    delete_node = function(sched)
      local w = cluster(sched)
      local before_create = KUBECONFIG
      local r = w.kina({ "delete", "cluster", "--name", CLUSTER }, { KINA_SIM_FAIL = "delete:" .. CLUSTER .. "-worker" })
      local res = { r = r, nodes = w.node_names(), kubeconfig = read(w.kubeconfig), original = before_create }
      res.again = w.kina{ "delete", "cluster", "--name", CLUSTER }
      res.nodes_after, res.networks_after = w.node_names(), w.networks()
      res.kubeconfig_after = read(w.kubeconfig)
      w.close()
      return res
    end,
    delete_network = function(sched)
      local w = cluster(sched)
      local r = w.kina({ "delete", "cluster", "--name", CLUSTER }, { KINA_SIM_FAIL = "network delete:" .. NETWORK })
      local res = { r = r, nodes = w.node_names(), networks = w.networks(), kubeconfig = read(w.kubeconfig) }
      res.again = w.kina{ "delete", "cluster", "--name", CLUSTER }
      res.networks_after = w.networks()
      w.close()
      return res
    end,
    load_image = function(sched)
      local w = cluster(sched)
      local ref = "registry.example/web:2"
      assert(w.sim{ "image", "pull", ref }.code == 0)
      local res = {}
      res.save = w.kina({ "load", "docker-image", ref, "--name", CLUSTER }, { KINA_SIM_FAIL = "image save:" .. ref })
      res.import = w.kina({ "load", "docker-image", ref, "--name", CLUSTER, "--nodes", CLUSTER .. "-worker" },
        { KINA_SIM_FAIL = "exec:ctr --namespace=k8s.io images import" })
      res.nodes = w.nodes()
      res.again = w.kina{ "load", "docker-image", ref, "--name", CLUSTER }
      res.images = w.sim{ "exec", CLUSTER .. "-worker", "crictl", "images" }.stdout
      res.kubectl = w.sim{ "exec", CLUSTER .. "-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "get", "nodes" }
      w.close()
      return res
    end,
    load_archive = function(sched)
      local w = cluster(sched)
      local tar = image_archive(w, "registry.example/app:1")
      local res = {}
      res.r = w.kina({ "load", "image-archive", tar, "--name", CLUSTER, "--nodes", CLUSTER .. "-worker2" },
        { KINA_SIM_FAIL = "exec:ctr --namespace=k8s.io images import" })
      res.nodes = w.nodes()
      res.again = w.kina{ "load", "image-archive", tar, "--name", CLUSTER }
      res.images = w.sim{ "exec", CLUSTER .. "-worker2", "crictl", "images" }.stdout
      w.close()
      return res
    end,
    export_logs = function(sched)
      local w = cluster(sched)
      local res = { dir = w.dir .. "/logs" }
      res.journal = w.kina({ "export", "logs", res.dir .. "/1", "--name", CLUSTER }, { KINA_SIM_FAIL = "exec:journalctl" })
      res.serial = read(res.dir .. "/1/" .. CLUSTER .. "-worker/serial.log")
      res.kubelet = read(res.dir .. "/1/" .. CLUSTER .. "-worker/kubelet.log")
      res.logs = w.kina({ "export", "logs", res.dir .. "/2", "--name", CLUSTER }, { KINA_SIM_FAIL = "logs:" .. CLUSTER .. "-worker" })
      res.worker_images = read(res.dir .. "/2/" .. CLUSTER .. "-worker/images.log")
      res.worker_serial = read(res.dir .. "/2/" .. CLUSTER .. "-worker/serial.log")
      res.cp_serial = read(res.dir .. "/2/" .. CLUSTER .. "-control-plane/serial.log")
      w.close()
      return res
    end,
    stop_start = function(sched)
      local w = cluster(sched)
      local res = {}
      res.stop = w.kina({ "stop", "cluster", "--name", CLUSTER, "--time", "1" }, { KINA_SIM_FAIL = "stop:" .. CLUSTER .. "-worker" })
      res.after_stop = w.nodes()
      res.stop_again = w.kina{ "stop", "cluster", "--name", CLUSTER, "--time", "1" }
      res.stopped = w.nodes()
      res.start = w.kina({ "start", "cluster", "--name", CLUSTER }, { KINA_SIM_FAIL = "start:" .. CLUSTER .. "-worker2" })
      res.after_start = w.nodes()
      res.start_again = w.kina{ "start", "cluster", "--name", CLUSTER }
      res.started = w.nodes()
      res.kubeconfig = read(w.kubeconfig)
      w.close()
      return res
    end,
    -- hung CLI calls end in a timeout naming the command, and nothing is left running
    hang_create = function(sched)
      local w = world(sched, { KINA_SIM_HANG = "exec:kubeadm init", KINA_CONTAINER_TIMEOUT = HANG_CAP })
      local r = w.kina(create_args{ "--config", w.config })
      local res = { r = r, nodes = w.node_names(), networks = w.networks(), leftovers = leftovers(w),
        kubeconfig = read(w.kubeconfig) }
      w.close()
      return res
    end,
    hang_delete = function(sched)
      local w = cluster(sched)
      local r = w.kina({ "delete", "cluster", "--name", CLUSTER }, { KINA_SIM_HANG = "delete", KINA_CONTAINER_TIMEOUT = HANG_CAP })
      local res = { r = r, leftovers = leftovers(w) }
      res.again = w.kina{ "delete", "cluster", "--name", CLUSTER }
      res.nodes_after = w.node_names()
      w.close()
      return res
    end,
    hang_load = function(sched)
      local w = cluster(sched)
      local tar = image_archive(w, "registry.example/app:1")
      local r = w.kina({ "load", "image-archive", tar, "--name", CLUSTER },
        { KINA_SIM_HANG = "exec:ctr --namespace=k8s.io images import", KINA_CONTAINER_TIMEOUT = HANG_CAP })
      local res = { r = r, leftovers = leftovers(w), nodes = w.nodes() }
      w.close()
      return res
    end,
  }

  local function result(name)
    results = results or run_all(cases)
    return assert_case(results[name])
  end

  local function has(text, s) assert.truthy(text:find(s, 1, true), ("%q not in:\n%s"):format(s, text)) end

  it("delete: a node that cannot be deleted is named with the runtime's stderr; the kubeconfig is already clean and a re-run finishes", function()
    local res = result("delete_node")
    assert.equal(1, res.r.code, res.r.stderr)
    has(res.r.stderr, "delete " .. CLUSTER .. "-worker failed")
    has(res.r.stderr, "simulated failure (KINA_SIM_FAIL=delete:" .. CLUSTER .. "-worker)")
    assert.same({ CLUSTER .. "-worker" }, res.nodes)
    -- kina's entries went first (as kind); every other entry is untouched
    assert.is_nil(res.kubeconfig:find("kina-" .. CLUSTER, 1, true))
    has(res.kubeconfig, "server: https://example.invalid:6443")
    has(res.kubeconfig, "token: not-a-secret")
    assert.equal(0, res.again.code, res.again.stderr)
    assert.same({}, res.nodes_after)
    assert.is_nil(res.networks_after[NETWORK])
    assert.equal(res.kubeconfig, res.kubeconfig_after)
  end)

  it("delete: a network that cannot be deleted is named; the nodes are gone and a re-run removes the network", function()
    local res = result("delete_network")
    assert.equal(1, res.r.code, res.r.stderr)
    has(res.r.stderr, "network delete " .. NETWORK .. " failed")
    has(res.r.stderr, "simulated failure (KINA_SIM_FAIL=network delete:" .. NETWORK .. ")")
    assert.same({}, res.nodes)
    assert.is_true(res.networks[NETWORK])
    assert.is_nil(res.kubeconfig:find("kina-" .. CLUSTER, 1, true))
    assert.equal(0, res.again.code, res.again.stderr)
    assert.is_nil(res.networks_after[NETWORK])
  end)

  it("load docker-image: a failed save or import names the command and its stderr; the cluster stays usable", function()
    local res = result("load_image")
    assert.equal(1, res.save.code, res.save.stderr)
    has(res.save.stderr, "save failed")
    has(res.save.stderr, "image save --platform")
    has(res.save.stderr, "simulated failure (KINA_SIM_FAIL=image save:registry.example/web:2)")
    assert.equal(1, res.import.code, res.import.stderr)
    has(res.import.stderr, "exec " .. CLUSTER .. "-worker failed")
    has(res.import.stderr, "ctr --namespace=k8s.io images import")
    has(res.import.stderr, "simulated failure")
    for name, state in pairs(res.nodes) do assert.equal("running", state, name) end
    assert.equal(0, res.again.code, res.again.stderr)
    has(res.images, "registry.example/web")
    assert.equal(0, res.kubectl.code, res.kubectl.stderr)
  end)

  it("load image-archive: a failed import names the node, the command and its stderr; a re-run loads it", function()
    local res = result("load_archive")
    assert.equal(1, res.r.code, res.r.stderr)
    has(res.r.stderr, "exec " .. CLUSTER .. "-worker2 failed")
    has(res.r.stderr, "ctr --namespace=k8s.io images import")
    has(res.r.stderr, "simulated failure (KINA_SIM_FAIL=exec:ctr --namespace=k8s.io images import)")
    for name, state in pairs(res.nodes) do assert.equal("running", state, name) end
    assert.equal(0, res.again.code, res.again.stderr)
    has(res.images, "registry.example/app")
  end)

  it("export logs: what fails is named per node with its stderr, everything else is still written", function()
    local res = result("export_logs")
    assert.equal(1, res.journal.code, res.journal.stderr)
    has(res.journal.stderr, CLUSTER .. "-worker/kubelet.log: journalctl --no-pager -u kubelet.service exited 1")
    has(res.journal.stderr, "simulated failure (KINA_SIM_FAIL=exec:journalctl)")
    assert.is_not_nil(res.serial)
    assert.is_nil(res.kubelet)
    assert.equal(1, res.logs.code, res.logs.stderr)
    has(res.logs.stderr, CLUSTER .. "-worker/serial.log: logs " .. CLUSTER .. "-worker failed")
    has(res.logs.stderr, "simulated failure (KINA_SIM_FAIL=logs:" .. CLUSTER .. "-worker)")
    assert.is_nil(res.worker_serial)
    assert.is_not_nil(res.worker_images)
    assert.is_not_nil(res.cp_serial)
  end)

  it("stop and start: the failing node is named with the runtime's stderr, the others proceed, a re-run finishes", function()
    local res = result("stop_start")
    assert.equal(1, res.stop.code, res.stop.stderr)
    has(res.stop.stderr, "stop " .. CLUSTER .. "-worker failed")
    has(res.stop.stderr, "simulated failure (KINA_SIM_FAIL=stop:" .. CLUSTER .. "-worker)")
    assert.same({ [CLUSTER .. "-control-plane"] = "stopped", [CLUSTER .. "-worker"] = "running",
      [CLUSTER .. "-worker2"] = "stopped" }, res.after_stop)
    assert.equal(0, res.stop_again.code, res.stop_again.stderr)
    for name, state in pairs(res.stopped) do assert.equal("stopped", state, name) end
    assert.equal(1, res.start.code, res.start.stderr)
    has(res.start.stderr, "start " .. CLUSTER .. "-worker2 failed")
    has(res.start.stderr, "simulated failure (KINA_SIM_FAIL=start:" .. CLUSTER .. "-worker2)")
    assert.equal("stopped", res.after_start[CLUSTER .. "-worker2"])
    assert.equal(0, res.start_again.code, res.start_again.stderr)
    for name, state in pairs(res.started) do assert.equal("running", state, name) end
    has(res.kubeconfig, "current-context: kina-" .. CLUSTER)
  end)

  it("a hung `kubeadm init` times out naming the command; create cleans up and nothing is left running", function()
    local res = result("hang_create")
    assert.equal(1, res.r.code, res.r.stderr)
    has(res.r.stderr, 'step "kubeadm_init"')
    has(res.r.stderr, "timed out after " .. HANG_CAP .. "s")
    has(res.r.stderr, "exec " .. CLUSTER .. "-control-plane kubeadm init")
    assert.same({}, res.nodes)
    assert.is_nil(res.networks[NETWORK])
    assert.equal(KUBECONFIG, res.kubeconfig)
    assert.same({}, res.leftovers)
  end)

  it("a hung `delete` times out naming the command and nothing is left running; a re-run finishes", function()
    local res = result("hang_delete")
    assert.equal(1, res.r.code, res.r.stderr)
    has(res.r.stderr, "timed out after " .. HANG_CAP .. "s")
    has(res.r.stderr, "command: " .. SIM .. " delete --force")
    assert.same({}, res.leftovers)
    assert.equal(0, res.again.code, res.again.stderr)
    assert.same({}, res.nodes_after)
  end)

  it("a hung image import times out naming the node and command; nothing is left running, the nodes run", function()
    local res = result("hang_load")
    assert.equal(1, res.r.code, res.r.stderr)
    has(res.r.stderr, "timed out after " .. HANG_CAP .. "s")
    has(res.r.stderr, "ctr --namespace=k8s.io images import")
    assert.same({}, res.leftovers)
    for name, state in pairs(res.nodes) do assert.equal("running", state, name) end
  end)
end)
