-- Oracle for node preparation (issue 9): kina's exact in-node sysctl and iptables-nft commands,
-- taken from Cluster:prepare_node itself, run against the REAL programs inside a network
-- namespace this spec makes (so the host is untouched) and against the simulated kindest/node;
-- exit codes, stdout and stderr must be the same, and so must the rule listing afterwards.
-- Needs root and `ip netns`; skips with the reason otherwise. The real programs come from the
-- Debian packages iptables, iproute2 and procps (`make deps`).
local async = require "kina.async"
local cluster = require "kina.cluster"
local batch = require "kina.batch"
local defaults = require "kina.defaults"
local uv = require "luv"
local Netns = dofile("spec/support/netns.lua")

local SIM = os.getenv("KINA_SIM_BIN") or (uv.cwd() .. "/" .. (os.getenv("KINA_BUILD") or "build") .. "/sim/container")
if SIM:sub(1, 1) ~= "/" then SIM = uv.cwd() .. "/" .. SIM end

-- kina's preparation commands, as kina runs them: the steps of the batch (kina.batch) that
-- prepare_node runs in one exec — each command, and whether kina checks its exit code (an
-- `ensure`'s addition is checked; its probe, `iptables -C`, is how it decides). The snapshotter
-- step is off: it belongs to the containerd oracle, not to netfilter.
local function kina_prepare_batch()
  -- a provider whose nodes need kina's preparation (Apple's VMs); nothing else of it is called
  local apple_like = { capabilities = function() return { needs_node_preparation = true } end }
  local c = cluster.new{ name = "oracle", prepare = { snapshotter = false }, provider = apple_like }
  local b = batch.new()
  c:add_boot_preparation(b)
  c:close()
  return b
end

local function kina_prepare_commands()
  local sysctl, iptables = {}, {}
  for _, step in ipairs(kina_prepare_batch().steps) do
    local call = { argv = step.argv, checked = step.check ~= false, probe = step.probe }
    if call.argv[1] == "sysctl" then sysctl[#sysctl + 1] = call
    elseif call.argv[1]:match("^iptables") then iptables[#iptables + 1] = call end
  end
  return sysctl, iptables
end

local function is_bridge(call)
  for _, a in ipairs(call.argv) do if a:match("^net%.bridge%.") then return true end end
  return false
end

-- "sysctl -w KEY=VALUE" → KEY
local function written_key(call)
  for _, a in ipairs(call.argv) do
    local k = a:match("^([%w%.%-_/]+)=")
    if k then return k end
  end
  error("no KEY=VALUE in " .. table.concat(call.argv, " "))
end

local function with(argv, index, value)
  local out = table.move(argv, 1, #argv, 1, {})
  out[index] = value
  return out
end

local function index_of(argv, value)
  for i, a in ipairs(argv) do if a == value then return i end end
  error(value .. " not in " .. table.concat(argv, " "))
end

-- A simulated kindest/node: a private simulator state, one node started the way kina starts
-- it on CLI `version` (core/spec.c: --cap-add ALL from 0.12.0, --masked-path/--read-only-path
-- NONE from 1.2.1; `flags` says which), commands run with `container exec`.
local function sim_node(sched, version, flags)
  local dir = assert(uv.fs_mkdtemp("/tmp/kina-oracle-sim-XXXXXX"))
  local env = { KINA_SIM_STATE = dir .. "/state", KINA_SIM_VERSION = version or false, KINA_SIM_BOOT_DELAY = "0",
    KINA_SIM_READY_DELAY = "0", KINA_SIM_LOG = false, KINA_SIM_FAIL = false, KINA_SIM_HANG = false,
    KINA_SIM_LATENCY = false }
  local function sim(args)
    local r = assert(sched:exec{ argv = { SIM, table.unpack(args) }, env = env, stdin = "", timeout = 60 })
    assert(not r.timed_out, "container " .. table.concat(args, " ") .. " did not finish")
    return r
  end
  local run = { "run", "-d", "--name", "kina-oracle" }
  for _, f in ipairs(flags) do run[#run + 1] = f end
  run[#run + 1] = defaults.image
  local started = sim(run)
  assert(started.code == 0, "container run: " .. started.stderr)
  return {
    exec = function(argv) return sim{ "exec", "kina-oracle", table.unpack(argv) } end,
    cleanup = function() sched:exec{ argv = { "rm", "-rf", dir }, stdin = "" } end,
  }
end
local CURRENT = { "--cap-add", "ALL", "--masked-path", "NONE", "--read-only-path", "NONE" } -- ≥ 1.2.1

local function outcome(r) return { code = r.code, stdout = r.stdout, stderr = r.stderr } end

-- The simulator's outcome must be the real one; the message names the command.
local function same(real, simulated, argv)
  assert.same(outcome(real), outcome(simulated),
    "simulated node differs from the real program for: " .. table.concat(argv, " "))
end

local sched = async.new()
local session = Netns.session(sched)
local usable, why = session.usable()

describe("node preparation against the real sysctl and iptables-nft in a network namespace", function()
  if not usable then
    pending("skipped: " .. why)
    sched:close()
    return
  end

  local sysctl_calls, iptables_calls = kina_prepare_commands()
  local forward_calls, bridge_calls = {}, {}
  for _, c in ipairs(sysctl_calls) do
    if is_bridge(c) then bridge_calls[#bridge_calls + 1] = c else forward_calls[#forward_calls + 1] = c end
  end

  -- whether this host's kernel gives the namespace br_netfilter's keys (built in or loaded)
  local probe = assert(session.create())
  local bridge_here = probe.exec{ "test", "-e", "/proc/sys/net/bridge/bridge-nf-call-iptables" }.code == 0
  probe.delete()

  local ns, node
  local others = {} -- simulated nodes of other CLI versions, made by a case
  local function other_node(version, flags)
    local n = sim_node(sched, version, flags)
    others[#others + 1] = n
    return n
  end
  before_each(function()
    ns = assert(session.create())
    node = sim_node(sched, nil, CURRENT)
  end)
  after_each(function()
    if ns then ns.delete(); ns = nil end
    if node then node.cleanup(); node = nil end
    for i = #others, 1, -1 do table.remove(others, i).cleanup() end
  end)
  teardown(function()
    session.cleanup()
    sched:close()
  end)

  it("has the real programs installed (Debian packages iptables, procps, iproute2: make deps)", function()
    assert.is_truthy(Netns.which("iptables-nft"), "iptables-nft not found: install the Debian package iptables")
    assert.is_truthy(Netns.which("sysctl"), "sysctl not found: install the Debian package procps")
    assert.is_truthy(Netns.which("unshare"), "unshare not found: install the Debian package util-linux")
  end)

  it("takes kina's commands from prepare_node: ip_forward and bridge sysctls, one MSS rule per chain", function()
    assert.is_true(#forward_calls >= 1)
    assert.is_true(#bridge_calls >= 1)
    assert.is_true(#iptables_calls >= 1)
    for _, c in ipairs(forward_calls) do assert.is_true(c.checked) end
    for _, c in ipairs(iptables_calls) do assert.is_true(c.checked) end
  end)

  it("starts with forwarding off in a fresh namespace, as the simulated node does", function()
    for _, call in ipairs(forward_calls) do
      local key = written_key(call)
      -- a new namespace takes the host's IPv4 settings (net.core.devconf_inherit_init_net = 0,
      -- the default): on a host that forwards (podman or docker set it), put Linux's own
      -- default back first, which is what a freshly booted node VM has
      if ns.exec{ "sysctl", "-n", key }.stdout:match("^1") then
        assert.equal(0, ns.exec{ "sysctl", "-q", "-w", key .. "=0" }.code)
      end
      for _, argv in ipairs{ { "sysctl", "-n", key }, { "sysctl", key } } do
        local real = ns.exec(argv)
        assert.equal(0, real.code, real.stderr)
        assert.equal("0", real.stdout:match("(%S+)\n$")) -- Linux's default for a new namespace
        same(real, node.exec(argv), argv)
      end
    end
  end)

  it("writes ip_forward as the real sysctl does (exit 0, `KEY = VALUE` line), and reads it back", function()
    for _, call in ipairs(forward_calls) do
      local real = ns.exec(call.argv)
      assert.equal(0, real.code, real.stderr) -- kina checks this command
      same(real, node.exec(call.argv), call.argv)
      local read = { "sysctl", "-n", written_key(call) }
      local real_read = ns.exec(read)
      assert.equal(call.argv[#call.argv]:match("=(.*)$") .. "\n", real_read.stdout)
      same(real_read, node.exec(read), read)
    end
  end)

  if bridge_here then
    it("writes the bridge sysctls as the real sysctl does where br_netfilter is present", function()
      for _, call in ipairs(bridge_calls) do
        local real = ns.exec(call.argv)
        assert.equal(0, real.code, real.stderr)
        same(real, node.exec(call.argv), call.argv)
        local read = { "sysctl", "-n", written_key(call) }
        same(ns.exec(read), node.exec(read), read)
      end
    end)
  else
    pending("bridge sysctls with br_netfilter present: unverified, this host's kernel has no br_netfilter")
  end

  it("fails the bridge sysctls as the real sysctl does without br_netfilter, and kina ignores that", function()
    -- Without the module /proc/sys/net/bridge has no files; an empty tmpfs over it gives the
    -- real sysctl the same ENOENT. The simulated node without it: CLI 0.8.0's 6.12.28 kernel.
    local old = other_node("0.8.0", {})
    for _, call in ipairs(bridge_calls) do
      local argv = bridge_here and Netns.hiding("/proc/sys/net/bridge", call.argv) or call.argv
      local real = ns.exec(argv)
      assert.are_not.equal(0, real.code)
      assert.is_false(call.checked) -- a failure here must not fail kina's create
      same(real, old.exec(call.argv), call.argv)
    end
  end)

  it("fails ip_forward as the real sysctl does where /proc/sys is read-only (CLI 1.2.0's default)", function()
    local ro = other_node("1.2.0", { "--cap-add", "ALL" })
    for _, call in ipairs(forward_calls) do
      local real = ns.exec(Netns.read_only("/proc/sys", call.argv))
      assert.are_not.equal(0, real.code)
      same(real, ro.exec(call.argv), call.argv)
    end
  end)

  it("prints iptables-nft --version in the real format", function()
    local argv = { iptables_calls[1].argv[1], "--version" }
    local real, simulated = ns.exec(argv), node.exec(argv)
    local format = "^iptables v%d+%.%d+%.%d+ %(nf_tables%)\n$" -- the version is the node image's own
    assert.equal(0, real.code)
    assert.matches(format, real.stdout)
    assert.equal("", real.stderr)
    assert.equal(0, simulated.code)
    assert.matches(format, simulated.stdout)
    assert.equal("", simulated.stderr)
  end)

  local function listing(prog) return { prog, "-t", "mangle", "-S" } end
  -- the rule lines ("-A CHAIN ...") of a listing, without the "-A "
  local function rules_in(text)
    local out = {}
    for line in text:gmatch("[^\n]+") do out[#out + 1] = line:match("^%-A (.*)$") end
    return out
  end

  it("adds kina's MSS clamp rules as the real iptables-nft does and lists them in its canonical form", function()
    local prog = iptables_calls[1].argv[1]
    same(ns.exec(listing(prog)), node.exec(listing(prog)), listing(prog)) -- empty table
    for _, call in ipairs(iptables_calls) do
      local real = ns.exec(call.argv)
      assert.equal(0, real.code, real.stderr)
      same(real, node.exec(call.argv), call.argv)
    end
    local real = ns.exec(listing(prog))
    assert.equal(0, real.code, real.stderr)
    assert.equal(#iptables_calls, #rules_in(real.stdout))
    same(real, node.exec(listing(prog)), listing(prog))
  end)

  it("checks (-C) each rule as the real iptables-nft does, in kina's spelling and the listed one", function()
    local prog = iptables_calls[1].argv[1]
    for _, call in ipairs(iptables_calls) do
      ns.exec(call.argv); node.exec(call.argv)
    end
    for _, call in ipairs(iptables_calls) do
      local check = with(call.argv, index_of(call.argv, "-A"), "-C")
      local real = ns.exec(check)
      assert.equal(0, real.code, real.stderr)
      same(real, node.exec(check), check)
    end
    -- each line of the real listing, as a -C command
    for _, line in ipairs(rules_in(ns.exec(listing(prog)).stdout)) do
      local check = { prog, "-t", "mangle", "-C" }
      for word in line:gmatch("%S+") do check[#check + 1] = word end
      local real = ns.exec(check)
      assert.equal(0, real.code, real.stderr)
      same(real, node.exec(check), check)
    end
    -- a rule that is not there: kina's rule in a chain it never adds to
    local absent = with(iptables_calls[1].argv, index_of(iptables_calls[1].argv, "-A"), "-C")
    absent[index_of(absent, "-C") + 1] = "PREROUTING"
    local real = ns.exec(absent)
    assert.equal(1, real.code)
    same(real, node.exec(absent), absent)
  end)

  it("runs kina's whole preparation batch with the real bash, sysctl and iptables-nft as the simulated node does, twice: one rule per chain", function()
    local argv = kina_prepare_batch():argv()
    local prog = iptables_calls[1].argv[1]
    for round = 1, 2 do
      local real, simulated = ns.exec(argv), node.exec(argv)
      assert.equal(0, real.code, real.stderr)
      assert.equal(real.code, simulated.code, ("round %d: %s"):format(round, simulated.stderr))
      assert.equal(real.stdout, simulated.stdout)
    end
    local real = ns.exec(listing(prog))
    assert.equal(#iptables_calls, #rules_in(real.stdout)) -- ensure: added once, not again
    same(real, node.exec(listing(prog)), listing(prog))
  end)

  it("appends the rules again when prepared twice, as the real iptables-nft does (no deduplication)", function()
    local prog = iptables_calls[1].argv[1]
    for _ = 1, 2 do
      for _, call in ipairs(iptables_calls) do
        local real = ns.exec(call.argv)
        assert.equal(0, real.code, real.stderr)
        same(real, node.exec(call.argv), call.argv)
      end
    end
    local real = ns.exec(listing(prog))
    assert.equal(2 * #iptables_calls, #rules_in(real.stdout))
    same(real, node.exec(listing(prog)), listing(prog))
  end)
end)
