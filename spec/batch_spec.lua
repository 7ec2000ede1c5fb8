-- kina.batch: several commands, reads and writes in one `bash -c`, run by the host's real bash
-- (the oracle) and by a simulated kindest/node's shell; both must give the same results.
local async = require "kina.async"
local batch = require "kina.batch"
local uv = require "luv"

local SIM = os.getenv("KINA_SIM_BIN") or (uv.cwd() .. "/" .. (os.getenv("KINA_BUILD") or "build") .. "/sim/container")
if SIM:sub(1, 1) ~= "/" then SIM = uv.cwd() .. "/" .. SIM end

local HOSTILE = "it's $HOME \"quoted\" `date` $(id) \\n\n; rm -rf / #\n"

-- A batch over files in `dir`: every kind of step, with a failing checked command last.
local function build(dir, failing)
  local b = batch.new()
  local h = {}
  h.ok = b:run{ "true" }
  b:run({ "false" }, { check = false })
  h.ensure = b:ensure({ "test", "-e", dir .. "/flag" }, { "touch", dir .. "/flag" })
  b:write(dir .. "/out.txt", HOSTILE)
  h.out = b:read(dir .. "/out.txt")
  h.absent = b:read(dir .. "/absent.txt", { optional = true })
  h.yes = b:status{ "test", "-e", dir .. "/flag" }
  h.no = b:status{ "test", "-e", dir .. "/absent.txt" }
  if failing then h.fail = b:run{ "sh", "-c", "exit 3" } end
  h.after = b:read(dir .. "/out.txt")
  return b, h
end

local function check(b, h, r, failing)
  local res = b:result(r)
  if failing then
    assert.is_false(res.ok)
    assert.same({ index = h.fail, argv = { "sh", "-c", "exit 3" }, status = 3 }, res.failed)
    assert.is_nil(res.reads[h.after]) -- the batch ended at the failure
  else
    assert.is_true(res.ok, r.stderr)
    assert.is_nil(res.failed)
    assert.equal(HOSTILE, res.reads[h.after])
  end
  assert.equal(HOSTILE, res.reads[h.out])
  assert.is_false(res.reads[h.absent])
  assert.equal(0, res.reads[h.yes])
  assert.equal(1, res.reads[h.no])
  return res
end

describe("kina.batch", function()
  local sched
  before_each(function() sched = async.new() end)
  after_each(function() sched:close() end)

  local function host_run(argv) return assert(sched:exec{ argv = argv, stdin = "", timeout = 30 }) end

  it("runs in the host's real bash: reads, writes of any bytes, idempotent ensure, statuses, the failing command", function()
    local dir = assert(uv.fs_mkdtemp("/tmp/kina-batch-XXXXXX"))
    finally(function() os.execute("rm -rf " .. dir) end)
    for round = 1, 2 do
      for _, failing in ipairs({ false, true }) do
        local b, h = build(dir, failing)
        local r = host_run(b:argv())
        check(b, h, r, failing)
        local _ = round
      end
    end
  end)

  it("gives the same results in a simulated kindest/node (its shell), as the real bash does", function()
    local dir = assert(uv.fs_mkdtemp("/tmp/kina-batch-sim-XXXXXX"))
    finally(function() os.execute("rm -rf " .. dir) end)
    local env = { KINA_SIM_STATE = dir .. "/state", KINA_SIM_BOOT_DELAY = "0", KINA_SIM_LOG = false, KINA_SIM_FAIL = false,
      KINA_SIM_HANG = false, KINA_SIM_LATENCY = false }
    local function sim(args) return assert(sched:exec{ argv = { SIM, table.unpack(args) }, env = env, stdin = "", timeout = 60 }) end
    assert.equal(0, sim{ "run", "-d", "--name", "bn", "--cap-add", "ALL", "kindest/node:v1.35.5" }.code)
    for _, failing in ipairs({ false, true }) do
      local b, h = build("/tmp", failing)
      local real_dir = dir .. "/real"
      uv.fs_mkdir(real_dir, 448)
      local rb, rh = build(real_dir, failing)
      local simulated = sim{ "exec", "bn", table.unpack(b:argv()) }
      local real = host_run(rb:argv())
      check(b, h, simulated, failing)
      check(rb, rh, real, failing)
      assert.equal(real.code, simulated.code)
    end
  end)

  it("names its commands again from its argv (for logs), and refuses what is not a batch", function()
    local b = batch.new()
    b:run{ "sysctl", "-w", "a=1" }
    b:ensure({ "iptables", "-C", "X" }, { "iptables", "-A", "X" })
    b:read("/kind/version")
    b:write("/etc/hosts", "x")
    b:status{ "crictl", "inspecti", "img" }
    assert.same({ { "sysctl", "-w", "a=1" }, { "iptables", "-C", "X" }, { "iptables", "-A", "X" }, { "cat", "/kind/version" },
      { "write", "/etc/hosts" }, { "crictl", "inspecti", "img" } }, batch.commands(b:argv()))
    assert.is_nil(batch.commands({ "cat", "/etc/hosts" }))
  end)

  it("builds its script from references only: no argument text is in it", function()
    local b = batch.new()
    b:run{ "echo", "$(rm -rf /)" }
    b:write("/tmp/x", HOSTILE)
    local argv = b:argv()
    assert.is_nil(argv[3]:find("rm -rf", 1, true))
    assert.is_nil(argv[3]:find("quoted", 1, true))
    assert.has_error(function() b:run{ "x", 1 } end)
  end)
end)
