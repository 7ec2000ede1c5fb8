local S = dofile("spec/sim_support.lua")
local json = S.json

describe("container simulator: JSON per release", function()
  local sim
  after_each(function() sim.cleanup() end)

  it("1.2.2: {id, configuration, status:{state, networks, startedDate}}, escaped slashes, sorted keys", function()
    sim = S.sim()
    assert.are.equal(0, sim.run("run", "-d", "--name", "n1", "--cpus", "2", "--memory", "2G",
      "--cap-add", "ALL", "--masked-path", "NONE", "--read-only-path", "NONE", "-l", "role=cp",
      "-p", "127.0.0.1:6443:6443", "kindest/node:v1.35.5").code)
    local r = sim.run("list", "--all", "--format", "json")
    assert.are.equal(0, r.code)
    assert.is_truthy(r.out:find('"ipv4Address":"192.168.64.2\\/24"', 1, true))
    assert.is_truthy(r.out:find('{"configuration":', 1, true))
    local c = json.decode(r.out)[1]
    assert.are.equal("n1", c.id)
    assert.are.equal("running", c.status.state)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", c.status.startedDate)
    local a = c.status.networks[1]
    assert.are.equal("192.168.64.2/24", a.ipv4Address)
    assert.are.equal("192.168.64.1", a.ipv4Gateway)
    assert.are.equal("default", a.network)
    assert.are.equal("n1", a.hostname)
    assert.are.equal(1280, a.mtu)
    local cfg = c.configuration
    assert.are.equal("docker.io/kindest/node:v1.35.5", cfg.image.reference)
    assert.matches("^sha256:%x+$", cfg.image.descriptor.digest)
    assert.are.equal(71, #cfg.image.descriptor.digest)
    assert.are.same({ cpus = 2, memoryInBytes = 2147483648, cpuOverhead = 1 }, cfg.resources)
    assert.are.same({ role = "cp" }, cfg.labels)
    assert.are.same({ "ALL" }, { table.unpack(cfg.capAdd) })
    assert.is_true(json.is_array(cfg.maskedPaths)); assert.are.equal(0, #cfg.maskedPaths)
    assert.is_true(json.is_array(cfg.readonlyPaths)); assert.are.equal(0, #cfg.readonlyPaths)
    assert.are.same({ containerPort = 6443, count = 1, hostAddress = "127.0.0.1", hostPort = 6443, proto = "tcp" },
      cfg.publishedPorts[1])
    assert.are.equal("/usr/local/bin/entrypoint", cfg.initProcess.executable)
    assert.are.equal("SIGRTMIN+3", cfg.stopSignal)
    assert.are.same({ architecture = "arm64", os = "linux" }, cfg.platform)
    assert.are.equal("default", cfg.networks[1].network)
    assert.is_string(cfg.creationDate)
  end)

  -- releases after the mirror (updates-2026-12 §1): list/inspect keep 1.2.2's shape and keys,
  -- slashes are escaped until 1.4.1, the default kernel is 6.18.35 from 1.3.0
  for _, version in ipairs({ "1.3.0", "1.3.1", "1.4.1", "1.5.0" }) do
    it(version .. ": 1.2.2's list/inspect keys, '/' escaped only before 1.4.1, kernel 6.18.35", function()
      sim = S.sim({ KINA_SIM_VERSION = version, KINA_SIM_BOOT_DELAY = "0" })
      assert.are.equal(0, sim.run("run", "-d", "--name", "n1", "--cap-add", "ALL", "--masked-path", "NONE",
        "--read-only-path", "NONE", "-p", "127.0.0.1:6443:6443", "--mount", "type=tmpfs,target=/scratch,size=64m",
        "kindest/node:v1.35.5").code)
      local r = sim.run("list", "--all", "--format", "json")
      assert.are.equal(0, r.code)
      local escaped = version ~= "1.4.1" and version ~= "1.5.0"
      assert.are.equal(escaped, r.out:find('"192.168.64.2\\/24"', 1, true) ~= nil)
      assert.are.equal(not escaped, r.out:find('"192.168.64.2/24"', 1, true) ~= nil)
      local c = json.decode(r.out)[1]
      assert.are.equal("n1", c.id)
      assert.are.equal("running", c.status.state)
      assert.are.equal("192.168.64.2/24", c.status.networks[1].ipv4Address)
      assert.are.equal(1280, c.status.networks[1].mtu)
      assert.are.same({ containerPort = 6443, count = 1, hostAddress = "127.0.0.1", hostPort = 6443, proto = "tcp" },
        c.configuration.publishedPorts[1])
      assert.are.equal("docker.io/kindest/node:v1.35.5", c.configuration.image.reference)
      -- `--mount type=tmpfs` recorded source "" before 1.3.1 (PR 2138)
      local scratch = c.configuration.mounts[1]
      assert.are.equal("/scratch", scratch.destination)
      assert.are.equal(version == "1.3.0" and "" or "tmpfs", scratch.source)
      assert.are.same(c, json.decode(sim.run("inspect", "n1").out)[1])
      assert.are.equal("6.18.35\n", sim.run("exec", "n1", "uname", "-r").out)
    end)
  end

  it("stop --all stops and prints stopped containers too; kill --all only running ones", function()
    sim = S.sim()
    assert.are.equal(0, sim.run("run", "-d", "--name", "up", "alpine").code)
    assert.are.equal(0, sim.run("create", "--name", "idle", "alpine").code)
    local r = sim.run("kill", "--all")
    assert.are.equal(0, r.code)
    assert.are.equal("up\n", r.out)
    assert.are.equal(0, sim.run("start", "up").code)
    r = sim.run("stop", "--all")
    assert.are.equal(0, r.code)
    assert.are.equal("up\nidle\n", r.out) -- in creation order
    assert.are.equal("stopped", json.decode(sim.run("inspect", "up").out)[1].status.state)
    r = sim.run("kill", "idle")
    assert.are.equal(1, r.code)
    assert.truthy(r.err:find('"failed to kill container" (cause: "invalidState: "no runtime client exists: container is stopped"")', 1, true))
  end)

  it("prints no kernelArgs, attachment variant from 1.1.0, a network's ipv4Subnet only with --subnet", function()
    sim = S.sim()
    assert.are.equal(0, sim.run("run", "-d", "--name", "k1", "--kernel-arg", "quiet", "alpine").code)
    local c = json.decode(sim.run("inspect", "k1").out)[1]
    assert.is_nil(c.configuration.kernelArgs)
    assert.are.equal("reserved", c.status.networks[1].variant)
    local old = sim.with({ KINA_SIM_VERSION = "1.0.0" })
    assert.are.equal(0, old("run", "-d", "--name", "k0", "alpine").code)
    c = json.decode(old("inspect", "k0").out)[1]
    assert.are.equal("192.168.64.3/24", c.status.networks[1].ipv4Address)
    assert.is_nil(c.status.networks[1].variant)
    assert.are.equal(0, sim.run("network", "create", "--subnet", "10.89.0.0/24", "given").code)
    assert.are.equal(0, sim.run("network", "create", "picked").code)
    local nets = {}
    for _, n in ipairs(json.decode(sim.run("network", "list", "--format", "json").out)) do nets[n.id] = n end
    assert.are.equal("10.89.0.0/24", nets.given.configuration.ipv4Subnet)
    assert.is_nil(nets.picked.configuration.ipv4Subnet)
    assert.is_string(nets.picked.status.ipv4Subnet)
    assert.is_nil(nets.default.configuration.ipv4Subnet)
  end)

  it("0.8.0: status string, top-level networks with ipv4Address, startedDate seconds since 2001", function()
    sim = S.sim({ KINA_SIM_VERSION = "0.8.0" })
    assert.are.equal(0, sim.run("run", "-d", "--name", "old", "alpine").code)
    local c = json.decode(sim.run("list", "--format", "json").out)[1]
    assert.are.equal("running", c.status)
    assert.are.equal("192.168.64.2/24", c.networks[1].ipv4Address)
    assert.is_number(c.startedDate)
    assert.is_true(c.startedDate > 7e8 and c.startedDate < 2e9)
    assert.is_nil(c.id)
    assert.is_nil(c.configuration.capAdd)
  end)

  it("0.7.1: address/gateway and no startedDate; list json ignores --all", function()
    sim = S.sim({ KINA_SIM_VERSION = "0.7.1" })
    assert.are.equal(0, sim.run("run", "-d", "--name", "a1", "alpine").code)
    assert.are.equal(0, sim.run("create", "--name", "a2", "alpine").code)
    local list = json.decode(sim.run("list", "--format", "json").out)
    assert.are.equal(2, #list)
    assert.are.equal("192.168.64.2/24", list[1].networks[1].address)
    assert.are.equal("192.168.64.1", list[1].networks[1].gateway)
    assert.is_nil(list[1].startedDate)
    assert.are.equal("stopped", list[2].status)
    assert.are.equal(0, #list[2].networks)
  end)

  it("inspect of a missing container: [] exit 0 before 1.0, error exit 1 after", function()
    sim = S.sim({ KINA_SIM_VERSION = "0.12.3" })
    local r = sim.run("inspect", "nope")
    assert.are.equal(0, r.code)
    assert.are.equal("[]\n", r.out)
    r = sim.with({ KINA_SIM_VERSION = "1.0.0" })("inspect", "nope")
    assert.are.equal(1, r.code)
    assert.are.equal("Error: container not found: nope\n", r.err)
  end)

  it("list --format json honours --all from 0.10", function()
    sim = S.sim({ KINA_SIM_VERSION = "1.1.0" })
    sim.run("create", "--name", "st", "alpine")
    assert.are.equal("[]\n", sim.run("list", "--format", "json").out)
    assert.are.equal(1, #json.decode(sim.run("list", "--all", "--format", "json").out))
  end)
end)

describe("container simulator: errors per release", function()
  local sim
  before_each(function() sim = S.sim() end)
  after_each(function() sim.cleanup() end)

  it("validates names, memory, labels, publish, masked paths", function()
    local cases = {
      { { "run", "--name", "a", "alpine" }, "Error: container ID a is not a valid container ID\n" },
      { { "run", "--name", "-bad", "alpine" }, nil },
      { { "run", "--memory", "4096", "alpine" }, "Error: minimum memory amount allowed is 200 MiB (got 0 bytes)\n" },
      { { "run", "--memory", "4x", "alpine" }, "Error: invalid symbol: x\n" },
      { { "run", "-l", "a=b=c", "alpine" }, "Error: invalid label format a=b=c\n" },
      { { "run", "-p", "1:80", "alpine" }, "Error: invalid publish host port range: 1\n" },
      { { "run", "-p", "80:90/sctp", "alpine" }, "Error: invalid publish protocol: sctp\n" },
      { { "run", "-p", "8000-8001:80", "alpine" }, "Error: publish host and container port counts are not equal: 8000-8001:80\n" },
      { { "run", "-p", "8080:80", "-p", "8080:81", "alpine" }, "Error: host ports for different publish port specs may not overlap\n" },
      { { "run", "--masked-path", "proc", "alpine" }, "Error: invalid path 'proc' for --masked-path: path must be absolute, or the NONE sentinel\n" },
      { { "run", "--network", "default,mtu=100", "alpine" }, "Error: invalid mtu value '100': must be between 1280 and 65535\n" },
    }
    for _, case in ipairs(cases) do
      local r = sim.run(table.unpack(case[1]))
      if case[2] then
        assert.are.equal(1, r.code, table.concat(case[1], " "))
        assert.are.equal(case[2], r.err)
      else
        assert.are_not.equal(0, r.code)
      end
    end
    assert.are.equal("", sim.run("ls", "-a", "-q").out)
  end)

  it("uses the coded form up to 0.9", function()
    local r = sim.with({ KINA_SIM_VERSION = "0.9.0" })("run", "--name", "x", "alpine")
    assert.are.equal('Error: invalidArgument: "container ID x is not a valid container ID"\n', r.err)
  end)

  it("run and create duplicate texts differ", function()
    assert.are.equal(0, sim.run("run", "-d", "--name", "dup", "alpine").code)
    assert.are.equal("Error: container with id dup already exists\n", sim.run("run", "--name", "dup", "alpine").err)
    assert.are.equal("Error: container already exists: dup\n", sim.run("create", "--name", "dup", "alpine").err)
  end)

  it("stop/delete of unknown containers: silent before 0.11, errors after", function()
    local r = sim.run("stop", "ghost")
    assert.are.equal(1, r.code)
    assert.are.equal('Error: internalError: "failed to stop container" (cause: "notFound: "container with ID ghost not found"")\n', r.err)
    r = sim.with({ KINA_SIM_VERSION = "0.10.0" })("stop", "ghost")
    assert.are.equal(0, r.code)
    assert.are.equal("", r.out .. r.err)
    r = sim.with({ KINA_SIM_VERSION = "0.10.0" })("delete", "ghost")
    assert.are.equal('Error: failed to delete one or more containers: ["ghost"]\n', r.err)
    r = sim.with({ KINA_SIM_VERSION = "0.9.0" })("delete", "ghost")
    assert.are.equal('Error: notFound: "failed to delete one or more containers: ["ghost"]"\n', r.err)
    r = sim.run("stop")
    assert.are.equal("Error: no containers specified and --all not supplied\n", r.err)
  end)

  it("refuses to delete a running container without -f; exec needs a running container", function()
    sim.run("run", "-d", "--name", "busy", "alpine")
    local r = sim.run("delete", "busy")
    assert.are.equal(1, r.code)
    assert.are.equal('Error: internalError: "failed to delete container" (cause: "invalidState: "container busy is running and can not be deleted"")\n', r.err)
    assert.are.equal("busy\n", sim.run("stop", "busy").out)
    r = sim.run("exec", "busy", "true")
    assert.are.equal(1, r.code)
    assert.are.equal("Error: container busy is not running\n", r.err)
    r = sim.run("exec", "nobody", "true")
    assert.are.equal("Error: get failed: container nobody not found\n", r.err)
    r = sim.run("logs", "nobody")
    assert.are.equal('Error: failed to get logs for container nobody (cause: "notFound: "container with ID nobody not found"")\n', r.err)
  end)
end)

describe("container simulator: state, IPs, faults, log", function()
  local sim
  after_each(function() sim.cleanup() end)

  it("allocates from .2, releases at stop, rotates on restart, no networks when stopped", function()
    sim = S.sim()
    sim.run("run", "-d", "--name", "c1", "alpine")
    sim.run("run", "-d", "--name", "c2", "alpine")
    local function ip(id)
      local c = json.decode(sim.run("inspect", id).out)[1]
      return c.status.networks[1] and c.status.networks[1].ipv4Address, c
    end
    assert.are.equal("192.168.64.2/24", ip("c1"))
    assert.are.equal("192.168.64.3/24", ip("c2"))
    sim.run("stop", "c1")
    local none, c = ip("c1")
    assert.is_nil(none)
    assert.are.equal("stopped", c.status.state)
    assert.are.equal(0, #c.status.networks)
    assert.are.equal("c1\n", sim.run("start", "c1").out)
    assert.are.equal("192.168.64.4/24", ip("c1"))
  end)

  it("survives 20 concurrent runs without losing a container or sharing an IP", function()
    sim = S.sim({ KINA_SIM_LATENCY = "50" })
    local procs = {}
    for i = 1, 20 do
      local cmd = string.format("env KINA_SIM_STATE=%s KINA_SIM_LATENCY=50 %s run -d --name node-%02d alpine >/dev/null 2>&1; echo $?",
        S.quote(sim.dir), S.quote(S.BIN), i)
      procs[i] = io.popen(cmd)
    end
    for i = 1, 20 do
      assert.are.equal("0", procs[i]:read("l"))
      procs[i]:close()
    end
    local list = json.decode(sim.run("list", "--all", "--format", "json").out)
    assert.are.equal(20, #list)
    local seen = {}
    for _, c in ipairs(list) do
      local a = c.status.networks[1].ipv4Address
      assert.is_nil(seen[a], "duplicate IP " .. a)
      seen[a] = true
    end
  end)

  it("network create gets its own subnet allocator", function()
    sim = S.sim()
    assert.are.equal("kind\n", sim.run("network", "create", "--subnet", "10.89.0.0/24", "kind").out)
    sim.run("run", "-d", "--name", "k1", "--network", "kind", "alpine")
    local c = json.decode(sim.run("inspect", "k1").out)[1]
    assert.are.equal("10.89.0.2/24", c.status.networks[1].ipv4Address)
    assert.are.equal("10.89.0.1", c.status.networks[1].ipv4Gateway)
    local nets = json.decode(sim.run("network", "list", "--format", "json").out)
    assert.are.equal("default", nets[1].id)
    assert.are.equal("kind", nets[2].id)
    assert.are.equal("10.89.0.0/24", nets[2].status.ipv4Subnet)
  end)

  it("KINA_SIM_FAIL fails matching operations with exit 1, and run leaves nothing behind", function()
    sim = S.sim({ KINA_SIM_FAIL = "run:*-worker2,delete:keep" })
    assert.are.equal(0, sim.run("run", "-d", "--name", "kind-worker", "alpine").code)
    local r = sim.run("run", "-d", "--name", "kind-worker2", "alpine")
    assert.are.equal(1, r.code)
    assert.matches("^Error: failed to bootstrap container kind%-worker2", r.err)
    assert.are.equal("kind-worker\n", sim.run("ls", "-q").out)
    sim.run("create", "--name", "keep", "alpine")
    r = sim.run("delete", "keep")
    assert.are.equal(1, r.code)
    assert.matches('failed to delete container', r.err)
  end)

  it("KINA_SIM_SYSTEM=stopped fails commands with the XPC text and hint", function()
    sim = S.sim({ KINA_SIM_SYSTEM = "stopped" })
    local r = sim.run("list")
    assert.are.equal(1, r.code)
    assert.are.equal('Error: internalError: "failed to list containers" (cause: "interrupted: "XPC connection error: Connection invalid"")\n' ..
      "Ensure container system service has been started with `container system start`.\n", r.err)
    r = sim.run("system", "status")
    assert.are.equal(1, r.code)
    assert.are.equal("apiserver is not running and not registered with launchd\n", r.out)
    assert.are.equal(0, sim.run("--version").code)
  end)

  it("appends every invocation's argv to KINA_SIM_LOG as one JSON array per line", function()
    local log = os.tmpname()
    sim = S.sim({ KINA_SIM_LOG = log })
    sim.run("--version")
    sim.run("run", "-d", "--name", "logged", "alpine", "sh", "-c", "echo a/b")
    local lines = {}
    for l in io.lines(log) do lines[#lines + 1] = json.decode(l) end
    os.remove(log)
    assert.are.same({ "--version" }, { table.unpack(lines[1]) })
    assert.are.same({ "run", "-d", "--name", "logged", "alpine", "sh", "-c", "echo a/b" }, { table.unpack(lines[2]) })
  end)

  it("system version and status JSON", function()
    sim = S.sim()
    local v = json.decode(sim.run("system", "version", "--format", "json").out)
    assert.are.equal("container", v[1].appName)
    assert.are.equal("1.2.2", v[1].version)
    assert.are.equal("0190097d06df0b9065f4c2d2c7873c649d81d493", v[1].commit)
    local st = json.decode(sim.run("system", "status", "--format", "json").out)
    assert.are.equal("running", st.status)
    assert.are.equal("container-apiserver version 1.2.2 (build: release, commit: 0190097)", st.apiServerVersion)
    assert.are.equal(64, sim.with({ KINA_SIM_VERSION = "0.9.0" })("system", "status", "--format", "json").code)
  end)

  it("system status JSON: flat up to 1.3.1, nested from 1.4.1, only status when down", function()
    sim = S.sim({ KINA_SIM_VERSION = "1.3.1" })
    local r = sim.run("system", "status", "--format", "json")
    local st = json.decode(r.out)
    assert.are.equal("container-apiserver version 1.3.1 (build: release, commit: unspeci)", st.apiServerVersion)
    assert.is_truthy(r.out:find('"installRoot":"\\/usr\\/local\\/"', 1, true))
    for _, version in ipairs({ "1.4.1", "1.5.0" }) do
      local run = sim.with({ KINA_SIM_VERSION = version })
      assert.are.equal(0, run("run", "-d", "--name", "a" .. version:gsub("%.", ""), "alpine").code)
      r = run("system", "status", "--format", "json")
      assert.are.equal(0, r.code)
      st = json.decode(r.out)
      assert.are.equal("running", st.status)
      assert.is_nil(st.apiServerVersion)
      assert.are.same({ appName = "container", build = "release", version = version,
        commit = st.client.commit }, st.client)
      assert.are.equal(version, st.server.version)
      assert.are.equal("/usr/local/", st.paths.installRoot)
      assert.is_truthy(r.out:find('"installRoot":"/usr/local/"', 1, true))
      assert.are.equal("arm64", st.host.architecture)
      assert.is_number(st.resources.containersTotal)
      assert.are.equal(st.resources.containersTotal, st.resources.containersRunning)
      assert.is_number(st.resources.images)
      local down = sim.with({ KINA_SIM_VERSION = version, KINA_SIM_SYSTEM = "stopped" })("system", "status", "--format", "json")
      assert.are.equal(1, down.code)
      assert.are.equal('{"status":"unregistered"}\n', down.out)
    end
    assert.are.equal("d265d66", json.decode(sim.with({ KINA_SIM_VERSION = "1.5.0" })("system", "version", "--format", "json").out)[2]
      .version:match("commit: (%x+)"))
  end)
end)

describe("container simulator: a kindest/node as the kind release that built it", function()
  local sim
  after_each(function() if sim then sim.cleanup() end end)
  local FLAGS = { "--cap-add", "ALL", "--masked-path", "NONE", "--read-only-path", "NONE" }

  local function run_node(name, ...)
    local args = { "run", "-d", "--name", name }
    for _, f in ipairs(FLAGS) do args[#args + 1] = f end
    for _, a in ipairs({ ... }) do args[#args + 1] = a end
    args[#args + 1] = "kindest/node:v1.35.5"
    return sim.run(table.unpack(args))
  end

  it("boots kind's entrypoint and the base's systemd, with the base's containerd (KINA_SIM_NODE_BASE)", function()
    sim = S.sim({ KINA_SIM_BOOT_DELAY = "0", KINA_SIM_NODE_BASE = "v0.31" })
    assert.are.equal(0, run_node("kind-control-plane").code)
    local v = sim.run("exec", "kind-control-plane", "containerd", "--version")
    assert.are.equal("containerd github.com/containerd/containerd/v2 v2.2.0 1c4457e00facac03ce1d75f7b6777a7a851e5c41\n", v.out)
    local logs = sim.run("logs", "kind-control-plane").out
    assert.is_truthy(logs:find("INFO: detected IPv4 address: 192.168.64.2\n", 1, true))
    assert.is_truthy(logs:find("\nsystemd 252.39-1~deb12u1 running in system mode (", 1, true))
    assert.is_truthy(logs:find("\nWelcome to Debian GNU/Linux 12 (bookworm)!\n", 1, true))
    assert.is_truthy(logs:find("Reached target multi-user.target - Multi-User System.", 1, true))
    -- the default for kina's image (no KINA_SIM_NODE_BASE) is kind v0.32's base
    local v32 = sim.with({ KINA_SIM_NODE_BASE = "" })
    assert.are.equal(0, v32("run", "-d", "--name", "other", "--cap-add", "ALL", "kindest/node:v1.35.5").code)
    assert.is_truthy(v32("exec", "other", "containerd", "--version").out:find(" v2.3.1 ", 1, true))
  end)

  it("refuses an unknown KINA_SIM_NODE_BASE when the node is created", function()
    sim = S.sim({ KINA_SIM_BOOT_DELAY = "0", KINA_SIM_NODE_BASE = "v0.99" })
    local r = run_node("kind-control-plane")
    assert.are.equal(1, r.code)
    assert.is_truthy(r.err:find('KINA_SIM_NODE_BASE must be one of v0.26, v0.30, v0.31, v0.32, main, got "v0.99"', 1, true))
    assert.are.equal("", sim.run("ls", "-a", "-q").out)
  end)

  it("moves the node to the address of its new start, as kind's entrypoint does", function()
    sim = S.sim({ KINA_SIM_BOOT_DELAY = "0" })
    assert.are.equal(0, run_node("kind-control-plane").code)
    assert.are.equal(0, run_node("kind-worker").code) -- takes .3
    assert.are.equal("192.168.64.2", sim.run("exec", "kind-control-plane", "cat", "/kind/old-ipv4").out)
    sim.run("stop", "kind-control-plane")
    assert.are.equal(0, sim.run("start", "kind-control-plane").code)
    local logs = sim.run("logs", "kind-control-plane").out
    assert.is_truthy(logs:find("INFO: detected IPv4 address: 192.168.64.4\nINFO: detected old IPv4 address: 192.168.64.2\n", 1, true), logs)
    assert.are.equal("192.168.64.4", sim.run("exec", "kind-control-plane", "cat", "/kind/old-ipv4").out)
    assert.are.equal("127.0.0.1 localhost\n192.168.64.4 kind-control-plane\n", sim.run("exec", "kind-control-plane", "cat", "/etc/hosts").out)
  end)

  it("takes the snapshotter from KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER in the container's environment", function()
    sim = S.sim({ KINA_SIM_BOOT_DELAY = "0" })
    assert.are.equal(0, run_node("n1", "-e", "KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER=native").code)
    assert.is_truthy(sim.run("logs", "n1").out:find('INFO: changing snapshotter from "overlayfs" to "native"\n', 1, true))
    local dump = sim.run("exec", "n1", "containerd", "config", "dump").out
    assert.is_truthy(dump:find("\n    snapshotter = 'native'\n", 1, true))
  end)
end)
