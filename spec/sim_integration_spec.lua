-- The simulator as kina drives it: the CLI and the node side together, through the real
-- `container` executable (build/sim/container), in the exact argv forms kina's workflows use.
local S = dofile("spec/sim_support.lua")
local uv = require("luv")
local json = S.json
local cluster = require("kina.cluster")
local containerd = require("kina.containerd")
local kubeadm = require("kina.kubeadm")

local NODE = "kindest/node:v1.35.5"
local ADMIN = "--kubeconfig=/etc/kubernetes/admin.conf"

-- Start the simulator in the background; returns {proc, out = {chunks}, done = bool, code, signal}.
local function spawn(env, argv)
  local envlist = {}
  for k, v in pairs(env) do envlist[#envlist + 1] = k .. "=" .. v end
  envlist[#envlist + 1] = "PATH=" .. (os.getenv("PATH") or "/usr/bin:/bin")
  local out = uv.new_pipe(false)
  local job = { out = {} }
  job.proc = assert(uv.spawn(S.BIN, { args = argv, env = envlist, stdio = { nil, out, nil } }, function(code, signal)
    job.done, job.code, job.signal = true, code, signal
  end))
  out:read_start(function(_, data)
    if data then job.out[#job.out + 1] = data else out:close() end
  end)
  function job.text() return table.concat(job.out) end
  return job
end

-- Run the loop until pred(); the 60 s deadline only keeps a broken simulator from hanging
-- the suite.
local function run_until(pred)
  local expired = false
  local timer = uv.new_timer()
  uv.update_time() -- the loop may not have run for a while: count from now
  timer:start(60000, 0, function() expired = true end)
  while not pred() and not expired do uv.run("once") end
  timer:close()
  uv.run("nowait") -- let the close complete before the state can be closed
  assert(not expired, "gave up waiting after 60 s")
end

-- Poll, as kina does, until the node's containerd socket exists; a deadline, not a timing
-- assertion: it only stops a broken simulator from hanging the suite.
local function wait_for_containerd(sim, name)
  local deadline = uv.hrtime() + 60e9
  while sim.run("exec", name, "test", "-S", "/run/containerd/containerd.sock").code ~= 0 do
    assert(uv.hrtime() < deadline, name .. ": containerd's socket never appeared")
  end
end

-- The members of the same tree as Debian's GNU tar lists them, running kina's export-logs
-- command there: `bytes` (a tar) unpacked, archived again with `argv` (its "-C" operand replaced
-- by the unpacked tree), sorted. Both lists sorted, so readdir order does not count.
local function gnu_tar_members(bytes, argv)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. S.quote(dir)))
  local f = os.tmpname()
  local fh = io.open(f, "wb"); fh:write(bytes); fh:close()
  assert(os.execute("tar -xf " .. S.quote(f) .. " -C " .. S.quote(dir)))
  local cmd = {}
  for i, a in ipairs(argv) do cmd[i] = S.quote(argv[i - 1] == "-C" and dir or a) end
  local p = io.popen(table.concat(cmd, " ") .. " > " .. S.quote(f) .. " && tar tf " .. S.quote(f) .. " | sort")
  local list = p:read("a")
  p:close()
  os.remove(f)
  os.execute("rm -rf " .. S.quote(dir))
  return list
end

local function sorted_lines(text)
  local lines = {}
  for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
  table.sort(lines)
  return table.concat(lines, "\n") .. "\n"
end

local function tar_members(bytes)
  local f = os.tmpname()
  local fh = io.open(f, "wb"); fh:write(bytes); fh:close()
  local p = io.popen("tar tf " .. S.quote(f) .. " 2>&1")
  local list = p:read("a")
  local ok = p:close()
  os.remove(f)
  return ok and list or nil, list
end

describe("container simulator: integration", function()
  local sim
  after_each(function() if sim then sim.cleanup() end end)

  describe("images", function()
    before_each(function() sim = S.sim({ KINA_SIM_BOOT_DELAY = "0" }) end)

    it("save writes the digests inspect reports, and load and ctr import read it back", function()
      assert.are.equal(0, sim.run("image", "pull", "--platform", "linux/arm64", "alpine:3.20").code)
      local inspected = json.decode(sim.run("image", "inspect", "alpine:3.20").out)[1]
      local digest = inspected.configuration.descriptor.digest
      local archive = sim.dir .. "/alpine.tar"
      local r = sim.run("image", "save", "--platform", "linux/arm64", "--output", archive, "alpine:3.20")
      assert.are.equal(0, r.code)
      assert.are.equal("alpine:3.20\n", r.out) -- with --output the references go to stdout
      local f = io.open(archive, "rb"); local bytes = f:read("a"); f:close()
      local members = assert(tar_members(bytes))
      assert.truthy(members:find("blobs/sha256/" .. digest:sub(8), 1, true))
      assert.truthy(members:find("blobs/sha256/" .. inspected.variants[1].digest:sub(8), 1, true))
      assert.truthy(members:find("blobs/sha256/" .. inspected.variants[1].config.rootfs.diff_ids[1]:sub(8), 1, true))
      -- to stdout: the archive alone on stdout, the references on stderr (1.1+)
      r = sim.run("image", "save", "alpine:3.20")
      assert.are.equal(0, r.code)
      assert.are.equal(bytes, r.out)
      assert.are.equal("alpine:3.20\n", r.err)
      -- load after delete restores the same digest
      assert.are.equal("docker.io/library/alpine:3.20\n", sim.run("image", "delete", "alpine:3.20").out)
      r = sim.run("image", "load", "--input", archive)
      assert.are.equal(0, r.code)
      assert.are.equal("docker.io/library/alpine:3.20\n", r.out)
      assert.are.equal(digest, json.decode(sim.run("image", "inspect", "alpine:3.20").out)[1].configuration.descriptor.digest)
      -- into a node: ctr reports the same digest, crictl then finds the image
      assert.are.equal(0, sim.run("run", "-d", "--name", "n1", "--cap-add", "ALL", NODE).code)
      -- kina's import command for this node's containerd and snapshotter
      local argv = containerd.import_argv{ version = containerd.parse_version(sim.run("exec", "n1", "containerd", "--version").out),
        snapshotter = containerd.snapshotter(sim.run("exec", "n1", "containerd", "config", "dump").out), platform = "linux/arm64" }
      r = sim.run_in(bytes, "exec", "-i", "n1", table.unpack(argv))
      assert.are.equal(0, r.code, r.err)
      assert.are.equal("unpacking docker.io/library/alpine:3.20 (" .. digest .. ")...done\n"
        .. "unpacking import-" .. os.date("!%Y-%m-%d") .. "@" .. digest .. " (" .. digest .. ")...done\n", r.out)
      r = sim.run("exec", "n1", "crictl", "inspecti", "docker.io/library/alpine:3.20")
      assert.are.equal(0, r.code)
      local st = json.decode(r.out).status
      assert.matches("^sha256:%x+$", st.id)
      -- the CRI names the digest after the import's --digests name (as real containerd does)
      assert.are.same({ "docker.io/library/import-" .. os.date("!%Y-%m-%d") .. "@" .. digest }, { table.unpack(st.repoDigests) })
    end)

    it("save of a missing image names it and fails; --platform must be present", function()
      local r = sim.run("image", "save", "-o", sim.dir .. "/x.tar", "nope:1")
      assert.are.equal(1, r.code)
      assert.are.equal('failed to get image for reference nope:1: notFound: "image with reference nope:1"\n' ..
        "Error: failed to save image(s)\n", r.err)
      assert.are.equal(0, sim.run("image", "pull", "alpine").code)
      r = sim.run("image", "save", "--platform", "linux/amd64", "alpine")
      assert.are.equal(1, r.code)
      assert.are.equal("Error: image alpine has no content for platform linux/amd64; available platforms: linux/arm64\n", r.err)
    end)

    it("tag prints the target as typed; delete reports what it could not delete", function()
      assert.are.equal(0, sim.run("image", "pull", "alpine").code)
      local r = sim.run("image", "tag", "alpine", "kind-registry:5000/alpine:dev")
      assert.are.equal(0, r.code)
      assert.are.equal("kind-registry:5000/alpine:dev\n", r.out)
      r = sim.run("image", "tag", "missing", "x")
      assert.are.equal(1, r.code)
      assert.are.equal("Error: image with reference missing\n", r.err)
      r = sim.run("image", "delete", "kind-registry:5000/alpine:dev", "ghost")
      assert.are.equal(1, r.code)
      assert.are.equal("kind-registry:5000/alpine:dev\n", r.out)
      assert.are.equal('Error: failed to delete one or more images: ["ghost"]\n', r.err)
      assert.are.equal(0, sim.run("image", "delete", "--force", "ghost").code)
      r = sim.run("image", "inspect", "zz", "ghost", "alpine")
      assert.are.equal(1, r.code)
      assert.are.equal("Error: image not found: ghost, zz\n", r.err)
    end)

    it("load of a missing file or of something that is not an archive fails", function()
      local r = sim.run("image", "load", "--input", sim.dir .. "/none.tar")
      assert.are.equal(1, r.code)
      assert.truthy(r.err:find("file does not exist", 1, true))
      r = sim.run_in("not a tar", "image", "load")
      assert.are.equal(1, r.code)
      assert.matches("^Error: failed to load image%(s%)", r.err)
    end)
  end)

  describe("exec, cp, kill", function()
    before_each(function()
      sim = S.sim()
      assert.are.equal(0, sim.run("run", "-d", "--name", "box", "--cap-add", "ALL", NODE).code)
    end)

    it("passes the process's exit status through", function()
      assert.are.equal(7, sim.run("exec", "box", "sh", "-c", "exit 7").code)
      assert.are.equal(1, sim.run("exec", "box", "false").code)
      assert.are.equal(0, sim.run("exec", "box", "true").code)
      local r = sim.run("exec", "box", "sh", "-c", "nosuchtool")
      assert.are.equal(127, r.code)
      assert.are.equal("sh: 1: nosuchtool: not found\n", r.err)
      assert.are.equal(3, sim.run("exec", "box", "systemctl", "is-active", "nothing").code)
    end)

    it("exec of a missing executable is the runtime's error, exit 1, in every release", function()
      for _, v in ipairs({ "0.9.0", "1.2.2" }) do
        local r = sim.with({ KINA_SIM_VERSION = v })("exec", "box", "nosuchtool", "--flag")
        assert.are.equal(1, r.code)
        assert.matches("^Error: .*failed to start process [%x-]+ in container box", r.err)
        assert.truthy(r.err:find('failed to find target executable nosuchtool"', 1, true))
      end
      assert.matches("^Error: internalError: ", sim.with({ KINA_SIM_VERSION = "0.9.0" })("exec", "box", "nosuchtool").err)
    end)

    it("exec -i feeds stdin; cp copies in and out and prints the destination", function()
      local r = sim.run_in("hello\n", "exec", "-i", "box", "cp", "/dev/stdin", "/tmp/greeting")
      assert.are.equal(0, r.code)
      assert.are.equal("hello\n", sim.run("exec", "box", "cat", "/tmp/greeting").out)
      local host = sim.dir .. "/out.txt"
      r = sim.run("cp", "box:/tmp/greeting", host)
      assert.are.equal(0, r.code)
      assert.are.equal(host .. "\n", r.out)
      local f = io.open(host); assert.are.equal("hello\n", f:read("a")); f:close()
      r = sim.run("cp", host, "box:/root/")
      assert.are.equal(0, r.code)
      assert.are.equal("box:/root/out.txt\n", r.out)
      assert.are.equal("hello\n", sim.run("exec", "box", "cat", "/root/out.txt").out)
      r = sim.run("cp", "box:/a", "box:/b")
      assert.are.equal(1, r.code)
      assert.are.equal("Error: copying between containers is not supported\n", r.err)
      r = sim.run("cp", "a", "b")
      assert.are.equal("Error: one of source or destination must be a container reference (container_id:path)\n", r.err)
      r = sim.run("cp", sim.dir .. "/none", "box:/tmp/")
      assert.are.equal("Error: source path does not exist: " .. sim.dir .. "/none\n", r.err)
      r = sim.run("cp", "ghost:/a", host)
      assert.are.equal(1, r.code)
      assert.are.equal("Error: get failed: container ghost not found\n", r.err)
    end)

    it("kill stops a running container and refuses a stopped one", function()
      local r = sim.run("kill", "box")
      assert.are.equal(0, r.code)
      assert.are.equal("box\n", r.out)
      assert.are.equal("stopped", json.decode(sim.run("inspect", "box").out)[1].status.state)
      r = sim.run("kill", "box")
      assert.are.equal(1, r.code)
      assert.truthy(r.err:find('failed to kill container', 1, true))
      r = sim.run("exec", "box", "true")
      assert.are.equal(1, r.code)
      assert.are.equal("Error: container box is not running\n", r.err)
    end)
  end)

  describe("texts confirmed from Apple's source", function()
    it("network delete: builtin, missing, in use; network inspect names every missing one", function()
      sim = S.sim()
      assert.are.equal("kind\n", sim.run("network", "create", "kind").out)
      assert.are.equal(0, sim.run("run", "-d", "--name", "on-kind", "--network", "kind", "alpine").code)
      local r = sim.run("network", "delete", "default")
      assert.are.equal(1, r.code)
      assert.are.equal("Error: cannot delete a builtin network: default\n", r.err)
      r = sim.run("network", "delete", "nope")
      assert.are.equal('Error: failed to delete one or more networks: ["nope"]\n', r.err)
      r = sim.run("network", "delete", "kind")
      assert.are.equal(1, r.code)
      assert.are.equal('failed to delete network: ["error": invalidState: "cannot delete subnet kind with referring ' ..
        'containers: on-kind", "id": kind]\nError: delete failed for one or more networks: ["kind"]\n', r.err)
      assert.are.equal(0, sim.run("delete", "--force", "on-kind").code)
      assert.are.equal("kind\n", sim.run("network", "delete", "kind").out)
      r = sim.run("network", "inspect", "zz", "default", "aa")
      assert.are.equal("Error: network not found: aa, zz\n", r.err)
    end)

    it("run/create name a missing network as NetworkClient.get does; network create as NetworkConfiguration does", function()
      sim = S.sim()
      local r = sim.run("run", "-d", "--name", "n1", "--network", "nope", "alpine")
      assert.are.equal(1, r.code)
      assert.are.equal("Error: network nope not found\n", r.err)
      r = sim.run("create", "--name", "n2", "--network", "nope", "alpine")
      assert.are.equal("Error: network nope not found\n", r.err)
      r = sim.run("network", "create", "Bad_Name")
      assert.are.equal(1, r.code)
      assert.are.equal("Error: invalid network name: Bad_Name\n", r.err)
      r = sim.with({ KINA_SIM_VERSION = "0.12.3" })("network", "create", "Bad_Name")
      assert.are.equal("Error: invalid network ID: Bad_Name\n", r.err)
    end)

    it("the process: Parser.process's entrypoint rules, and 1.5.0 clearing an image's Entrypoint [\"\"]", function()
      local archives = dofile("spec/support/oracle/archives.lua")
      local bytes = archives.docker_save("blank-entry:v1", "linux/arm64",
        { Entrypoint = json.array{ "" }, Cmd = json.array{ "echo", "from", "cmd" } })
      for _, case in ipairs({ { "1.5.0", 0, "from cmd\n" }, { "1.4.1", 1, "" } }) do
        local version, code, out = case[1], case[2], case[3]
        sim = S.sim({ KINA_SIM_VERSION = version })
        local archive = sim.dir .. "/blank.tar"
        local f = io.open(archive, "wb"); f:write(bytes); f:close()
        assert.are.equal(0, sim.run("image", "load", "--input", archive).code)
        local r = sim.run("run", "--rm", "blank-entry:v1")
        assert.are.equal(code, r.code, version .. ": " .. r.err)
        assert.are.equal(out, r.out)
        if code ~= 0 then
          -- before 1.5.0 "" is the executable, which vmexec cannot find
          assert.matches('failed to find target executable """', r.err, 1, true)
        end
        -- arguments replace Cmd, not the entrypoint
        r = sim.run("run", "--rm", "blank-entry:v1", "echo", "args")
        assert.are.equal(code, r.code)
        -- a non-empty --entrypoint replaces the image's and drops Cmd; an empty one is unset
        r = sim.run("run", "--rm", "--entrypoint", "echo", "blank-entry:v1")
        assert.are.equal(0, r.code, r.err)
        assert.are.equal("\n", r.out)
        r = sim.run("run", "--rm", "--entrypoint", "", "blank-entry:v1")
        assert.are.equal(code, r.code)
        sim.cleanup()
      end
      sim = S.sim()
    end)

    it("an unknown capability is containerization's CapabilityName error", function()
      sim = S.sim()
      local r = sim.run("run", "-d", "--cap-add", "net_admin", "--cap-add", "bogus", "alpine")
      assert.are.equal(1, r.code)
      assert.are.equal("Error: invalid CapabilityName 'BOGUS'\n", r.err)
    end)
  end)

  describe("logs", function()
    it("logs -f follows the boot log to Multi-User System and ends when the container stops", function()
      sim = S.sim({ KINA_SIM_BOOT_DELAY = "400" })
      assert.are.equal(0, sim.run("run", "-d", "--name", "lf", "--cap-add", "ALL", NODE).code)
      local job = spawn(sim.env, { "logs", "--follow", "lf" })
      run_until(function() return job.done or job.text():find("Multi-User System", 1, true) end)
      assert.is_nil(job.code) -- still following
      assert.are.equal(0, sim.run("stop", "lf").code)
      run_until(function() return job.done end)
      assert.are.equal(0, job.code)
      local text = job.text()
      assert.truthy(text:find("INFO: ensuring we can execute mount/umount", 1, true))
      assert.truthy(text:find("[  OK  ] Reached target multi-user.target - Multi-User System.\n", 1, true))
      -- every line printed once, in order
      local plain = sim.run("logs", "lf").out
      assert.are.equal(plain, text)
    end)
  end)

  describe("faults", function()
    before_each(function()
      sim = S.sim()
      assert.are.equal(0, sim.run("run", "-d", "--name", "f1", "alpine").code)
    end)

    local cases = {
      { "list", { "list", "--all", "--format", "json" } },
      { "start", { "start", "f1" } },
      { "stop", { "stop", "f1" } },
      { "kill", { "kill", "f1" } },
      { "delete", { "delete", "--force", "f1" } },
      { "inspect", { "inspect", "f1" } },
      { "exec", { "exec", "f1", "true" } },
      { "logs", { "logs", "f1" } },
      { "run", { "run", "-d", "--name", "f2", "alpine" } },
      { "create", { "create", "--name", "f2", "alpine" } },
      { "network list", { "network", "list", "--format", "json" } },
      { "network create", { "network", "create", "kind" } },
      { "image inspect", { "image", "inspect", "alpine" } },
      { "image pull", { "image", "pull", "alpine" } },
      { "image list", { "image", "list" } },
      { "image save", { "image", "save", "alpine" } },
      { "system status", { "system", "status", "--format", "json" } },
      { "prune", { "prune" } },
    }
    for _, case in ipairs(cases) do
      it("KINA_SIM_FAIL=" .. case[1] .. " fails that operation with exit 1", function()
        if case[1] == "start" then assert.are.equal(0, sim.run("stop", "f1").code) end
        local r = sim.with({ KINA_SIM_FAIL = case[1] })(table.unpack(case[2]))
        assert.are.equal(1, r.code)
        assert.truthy(r.err:find("simulated failure (KINA_SIM_FAIL=" .. case[1] .. ")", 1, true), r.err)
        -- and nothing else
        assert.are.equal(0, sim.with({ KINA_SIM_FAIL = "network delete" })(table.unpack(case[2])).code)
      end)
    end

    it("matches targets: run:*-worker2 fails only that node, exec:kubeadm init only init", function()
      local run = sim.with({ KINA_SIM_FAIL = "run:*-worker2" })
      assert.are.equal(0, run("run", "-d", "--name", "c-worker", "alpine").code)
      local r = run("run", "-d", "--name", "c-worker2", "alpine")
      assert.are.equal(1, r.code)
      assert.matches("^Error: failed to bootstrap container c%-worker2", r.err)
      assert.are.equal(1, sim.run("inspect", "c-worker2").code) -- run deleted what it created
      local exec = sim.with({ KINA_SIM_FAIL = "exec:kubeadm init" })
      assert.are.equal(0, sim.run("run", "-d", "--name", "kk", "--cap-add", "ALL", NODE).code)
      r = exec("exec", "kk", "kubeadm", "init", "--v=6")
      assert.are.equal(1, r.code)
      assert.truthy(r.err:find("KINA_SIM_FAIL=exec:kubeadm init", 1, true))
      r = exec("exec", "kk", "kubeadm", "version", "-o", "short")
      assert.are.equal(0, r.code)
      assert.are.equal("v1.35.5\n", r.out)
    end)

    it("KINA_SIM_HANG hangs until killed, without holding the state lock", function()
      local env = {}
      for k, v in pairs(sim.env) do env[k] = v end
      env.KINA_SIM_HANG = "stop"
      local job = spawn(env, { "stop", "--time", "30", "f1" })
      -- other invocations keep working meanwhile (they would block on a held lock)
      local r = sim.run("list", "--all", "--format", "json")
      assert.are.equal(0, r.code)
      assert.are.equal("running", json.decode(r.out)[1].status.state)
      assert.are.equal(0, sim.run("run", "-d", "--name", "other", "alpine").code)
      assert.is_nil(job.done)
      job.proc:kill("sigterm")
      run_until(function() return job.done end)
      assert.are.equal(15, job.signal)
      assert.are.equal("", job.text())
      -- the hung stop never happened
      assert.are.equal("running", json.decode(sim.run("inspect", "f1").out)[1].status.state)
    end)
  end)

  describe("concurrency", function()
    it("concurrent runs under KINA_SIM_LATENCY boot at the same time and all land", function()
      sim = S.sim({ KINA_SIM_LATENCY = "700" })
      local jobs = {}
      for i = 1, 4 do jobs[i] = spawn(sim.env, { "run", "-d", "--name", "c" .. i, "alpine" }) end
      run_until(function()
        for _, j in ipairs(jobs) do if not j.done then return false end end
        return true
      end)
      for i, j in ipairs(jobs) do
        assert.are.equal(0, j.code)
        assert.are.equal("c" .. i .. "\n", j.text())
      end
      -- each record's creation (before the latency) and start (after it) bound its boot;
      -- run one after another, the boots would not share any instant
      local f = io.open(sim.dir .. "/state.json"); local state = json.decode(f:read("a")); f:close()
      local latest_created, earliest_started = -math.huge, math.huge
      local ips = {}
      for i = 1, 4 do
        local c = state.containers["c" .. i]
        latest_created = math.max(latest_created, c.created)
        earliest_started = math.min(earliest_started, c.started)
        assert.is_nil(ips[c.ip]); ips[c.ip] = true
      end
      assert.is_true(latest_created < earliest_started)
    end)
  end)

  describe("macOS 15", function()
    it("nodes cannot reach each other: a join fails with no route to host", function()
      sim = S.sim({ KINA_SIM_MACOS = "15" })
      for _, n in ipairs({ "m-control-plane", "m-worker" }) do
        assert.are.equal(0, sim.run("run", "-d", "--name", n, "--cap-add", "ALL", "--masked-path", "NONE",
          "--read-only-path", "NONE", NODE).code)
      end
      -- as kina does: wait for containerd's socket, or on a fast machine the join can run
      -- before the worker has booted and fail for that reason instead
      for _, n in ipairs({ "m-control-plane", "m-worker" }) do wait_for_containerd(sim, n) end
      local list = json.decode(sim.run("list", "--all", "--format", "json").out)
      local ip = {}
      for _, c in ipairs(list) do ip[c.id] = c.status.networks[1].ipv4Address:match("^[^/]+") end
      assert.are.equal("allocationOnly", list[1].status.networks[1].variant)
      local function conf(node, role)
        return kubeadm.config({ cluster = "m", node = node, role = role, bootstrap = role == "control-plane",
          k8s_version = "v1.35.5", node_ip = ip[node], endpoint = ip["m-control-plane"],
          pod_subnet = "10.244.0.0/16", service_subnet = "10.96.0.0/16" })
      end
      for node, role in pairs({ ["m-control-plane"] = "control-plane", ["m-worker"] = "worker" }) do
        assert.are.equal(0, sim.run("exec", node, "sysctl", "-w", "net.ipv4.ip_forward=1").code)
        assert.are.equal(0, sim.run_in(conf(node, role), "exec", "-i", node, "cp", "/dev/stdin", "/kind/kubeadm.conf").code)
      end
      local r = sim.run("exec", "m-control-plane", "kubeadm", "init", "--config=/kind/kubeadm.conf", "--skip-token-print",
        "--v=6")
      assert.are.equal(0, r.code, r.err)
      r = sim.run("exec", "m-worker", "kubeadm", "join", "--config", "/kind/kubeadm.conf", "--v=6")
      assert.are.equal(1, r.code)
      assert.truthy(r.err:find("dial tcp " .. ip["m-control-plane"] .. ":6443: connect: no route to host", 1, true), r.err)
    end)
  end)

  describe("end to end, by hand", function()
    it("runs §5.8's node invocation and kind's steps as the real runtime answers them", function()
      sim = S.sim({ KINA_SIM_READY_DELAY = "0" })
      local run = sim.run
      local v = run("--version")
      assert.are.equal("container CLI version 1.2.2 (build: release, commit: 0190097)\n", v.out)
      local status = json.decode(run("system", "status", "--format", "json").out)
      assert.are.equal("running", status.status)
      local nets = json.decode(run("network", "list", "--format", "json").out)
      assert.are.equal("default", nets[1].id)
      assert.are.equal(0, #json.decode(run("list", "--all", "--format", "json").out))
      local ref = "kindest/node:v1.35.5@sha256:ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95"
      assert.are.equal(1, run("image", "inspect", ref).code)
      assert.are.equal(0, run("image", "pull", "--platform", "linux/arm64", ref).code)
      local img = json.decode(run("image", "inspect", ref).out)[1]
      assert.are.equal("sha256:ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95", img.configuration.descriptor.digest)

      local function node(name, role, extra)
        local argv = { "run", "-d", "--name", name, "--cpus", "2", "--memory", "2G", "--cap-add", "ALL",
          "--masked-path", "NONE", "--read-only-path", "NONE", "-l", "io.kina.cluster=e2e", "-l", "io.kina.role=" .. role }
        for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
        argv[#argv + 1] = ref
        local r = run(table.unpack(argv))
        assert.are.equal(0, r.code, r.err)
        assert.are.equal(name .. "\n", r.out)
        wait_for_containerd(sim, name)
      end
      node("e2e-control-plane", "control-plane", { "-p", "127.0.0.1:6443:6443", "-e", "KUBECONFIG=/etc/kubernetes/admin.conf" })
      node("e2e-worker", "worker")
      local list = json.decode(run("list", "--all", "--format", "json").out)
      local ip = {}
      for _, c in ipairs(list) do ip[c.id] = c.status.networks[1].ipv4Address:match("^[^/]+") end
      assert.are.equal("192.168.64.2", ip["e2e-control-plane"])
      local inspect = json.decode(run("inspect", "e2e-control-plane").out)[1]
      assert.are.same({ ["io.kina.cluster"] = "e2e", ["io.kina.role"] = "control-plane" }, inspect.configuration.labels)

      for _, name in ipairs({ "e2e-control-plane", "e2e-worker" }) do
        local function ok(...)
          local r = run(...)
          assert.are.equal(0, r.code, table.concat({ ... }, " ") .. ": " .. r.err)
          return r.out
        end
        -- node preparation, with kina's own commands and config merge
        for _, cmd in ipairs(cluster.sysctl_commands(cluster.DEFAULT_PREPARE)) do
          local r = run("exec", name, table.unpack(cmd.argv))
          if cmd.check then assert.are.equal(0, r.code, r.err) end
        end
        local merged = containerd.patch_config(ok("exec", name, "cat", containerd.CONFIG_PATH),
          { snapshotter = cluster.DEFAULT_PREPARE.snapshotter })
        assert.are.equal(0, sim.run_in(merged, "exec", "-i", name, "cp", "/dev/stdin", containerd.CONFIG_PATH).code)
        ok("exec", name, "systemctl", "restart", "containerd")
        wait_for_containerd(sim, name)
        for _, cmd in ipairs(cluster.mss_clamp_commands(cluster.DEFAULT_PREPARE)) do ok("exec", name, table.unpack(cmd.argv)) end
        assert.are.equal("native", containerd.snapshotter(ok("exec", name, "containerd", "config", "dump")))
        assert.are.equal("v1.35.5", ok("exec", name, "cat", "/kind/version")) -- written without a newline
        local role = name:match("worker") and "worker" or "control-plane"
        local conf = kubeadm.config({ cluster = "e2e", node = name, role = role, bootstrap = role == "control-plane",
          k8s_version = "v1.35.5", node_ip = ip[name], endpoint = ip["e2e-control-plane"],
          cert_sans = { ip["e2e-control-plane"] }, pod_subnet = "10.244.0.0/16", service_subnet = "10.96.0.0/16",
          node_labels = { ["io.kina/role"] = role } })
        ok("exec", name, "mkdir", "-p", "/kind")
        assert.are.equal(0, sim.run_in(conf, "exec", "-i", name, "cp", "/dev/stdin", "/kind/kubeadm.conf").code)
      end

      local cp = "e2e-control-plane"
      local kubectl = function(...) return run("exec", cp, "kubectl", ADMIN, ...) end
      local r = run("exec", cp, "kubeadm", "init", "--config=/kind/kubeadm.conf", "--skip-token-print", "--v=6")
      assert.are.equal(0, r.code, r.err)
      assert.truthy(r.out:find("Your Kubernetes control-plane has initialized successfully!", 1, true))
      assert.is_nil(r.out:find("abcdef.0123456789abcdef", 1, true)) -- --skip-token-print
      local admin = run("exec", cp, "cat", "/etc/kubernetes/admin.conf").out
      assert.truthy(admin:find("server: https://" .. ip[cp] .. ":6443\n", 1, true))
      assert.matches("certificate%-authority%-data: [A-Za-z0-9+/=]+\n", admin)
      assert.are.equal(0, kubectl("taint", "nodes", "--all", "node-role.kubernetes.io/control-plane-").code)
      local cni = run("exec", cp, "cat", "/kind/manifests/default-cni.yaml").out
      -- kubectl refuses the untemplated manifest, accepts the templated one
      r = sim.run_in(cni, "exec", "-i", cp, "kubectl", ADMIN, "create", "-f", "-")
      assert.are.equal(1, r.code)
      r = sim.run_in((cni:gsub("{{ %.PodSubnet }}", "10.244.0.0/16")), "exec", "-i", cp, "kubectl", ADMIN, "create", "-f", "-")
      assert.are.equal(0, r.code, r.err)
      assert.truthy(r.out:find("daemonset.apps/kindnet created", 1, true))
      local storage = run("exec", cp, "cat", "/kind/manifests/default-storage.yaml").out
      assert.are.equal(0, sim.run_in(storage, "exec", "-i", cp, "kubectl", ADMIN, "apply", "-f", "-").code)

      r = run("exec", "e2e-worker", "kubeadm", "join", "--config", "/kind/kubeadm.conf", "--v=6")
      assert.are.equal(0, r.code, r.err)
      assert.truthy(r.out:find("This node has joined the cluster", 1, true))
      local nodes = json.decode(kubectl("get", "nodes", "-o", "json").out)
      assert.are.equal(2, #nodes.items)
      assert.are.equal(0, kubectl("label", "nodes", "--all", "io.kina/cluster=e2e").code)
      local wide = kubectl("get", "nodes", "-o", "wide").out
      assert.matches("INTERNAL%-IP", wide)
      assert.truthy(wide:find(ip["e2e-worker"], 1, true))
      assert.truthy(kubectl("describe", "nodes").out:find("Name:               e2e-worker", 1, true))
      assert.truthy(kubectl("get", "pods", "-A", "-o", "wide").out:find("kindnet", 1, true))
      assert.truthy(kubectl("describe", "pods", "-A").out:find("Namespace:        kube-system", 1, true))
      assert.truthy(run("exec", cp, "journalctl", "--no-pager", "-u", "kubelet.service").out:find("Started kubelet.service", 1, true))
      assert.truthy(run("exec", cp, "cat", "/var/lib/kubelet/config.yaml").out:find("kind: KubeletConfiguration", 1, true))
      assert.truthy(run("exec", cp, "crictl", "images").out:find("registry.k8s.io/pause", 1, true))
      assert.are.equal(0, run("exec", cp, "crictl", "inspecti", "registry.k8s.io/pause:3.10").code) -- containerd's sandbox_image

      -- export logs: kina's tar of /var/log (kind's command), read by the host's tar
      local export_tar = { "tar", "--hard-dereference", "-C", "/var/log", "-chf", "-", "." }
      r = run("exec", cp, table.unpack(export_tar))
      assert.are.equal(0, r.code, r.err)
      local members = assert(tar_members(r.out))
      -- GNU tar, given the same command on the same tree, archives the same members
      assert.are.equal(gnu_tar_members(r.out, export_tar), sorted_lines(members))
      assert.truthy(members:find("./journal/", 1, true))
      assert.truthy(members:find("./containers/", 1, true))
      assert.matches("%./pods/kube%-system_kube%-apiserver%-e2e%-control%-plane_[%x-]+/kube%-apiserver/0%.log", members)
      local worker_logs = run("exec", "e2e-worker", table.unpack(export_tar))
      assert.are.equal(0, worker_logs.code)
      assert.matches("%./pods/kube%-system_kube%-proxy%-%w+_[%x-]+/kube%-proxy/0%.log", assert(tar_members(worker_logs.out)))
      assert.truthy(run("logs", cp).out:find("Reached target multi-user.target", 1, true))

      -- stop/start: networks empty while stopped, the runtime state of the boot is gone after
      assert.are.equal("e2e-worker\n", run("stop", "--time", "30", "e2e-worker").out)
      local w = json.decode(run("inspect", "e2e-worker").out)[1]
      assert.are.equal("stopped", w.status.state)
      assert.are.equal(0, #w.status.networks)
      assert.are.equal("e2e-worker\n", run("start", "e2e-worker").out)
      wait_for_containerd(sim, "e2e-worker")
      assert.are.equal("net.ipv4.ip_forward = 0\n", run("exec", "e2e-worker", "sysctl", "net.ipv4.ip_forward").out)
      -- the control plane restarts with a new IP: this cluster names it by its old IP
      -- (endpoint = IP, what kina did before kina.hosts), and what a real cluster loses is lost
      -- here too: the entrypoint fixes the control plane itself, but the worker's kubelet and
      -- every kube-proxy still dial the old address
      assert.are.equal(0, run("exec", "e2e-worker", "curl", "-sSk", "-m", "1", "https://10.96.0.1/healthz").code)
      run("stop", "e2e-control-plane"); run("run", "-d", "--name", "squatter", "alpine", "sleep", "1000")
      run("start", "e2e-control-plane")
      wait_for_containerd(sim, "e2e-control-plane")
      local moved = json.decode(run("inspect", "e2e-control-plane").out)[1].status.networks[1].ipv4Address:match("^[^/]+")
      assert.are_not.equal(ip[cp], moved)
      assert.truthy(run("logs", cp).out:find("INFO: detected old IPv4 address: " .. ip[cp], 1, true))
      assert.are.equal(0, sim.run_in("apiVersion: v1\nclusters:\n- cluster:\n    server: https://" .. moved .. ":6443\n",
        "exec", "-i", cp, "cp", "/dev/stdin", "/root/moved.conf").code)
      r = run("exec", cp, "kubectl", "--kubeconfig=/root/moved.conf", "get", "nodes", "-o", "json")
      assert.are.equal(0, r.code, r.err)
      local ready = {}
      for _, item in ipairs(json.decode(r.out).items) do
        for _, c in ipairs(item.status.conditions) do if c.type == "Ready" then ready[item.metadata.name] = c end end
      end
      assert.are.equal("True", ready["e2e-control-plane"].status)
      assert.are.equal("Unknown", ready["e2e-worker"].status)
      assert.are.equal("NodeStatusUnknown", ready["e2e-worker"].reason)
      r = run("exec", "e2e-worker", "curl", "-sSk", "-m", "1", "https://10.96.0.1/healthz")
      assert.are.equal(28, r.code)
      assert.are.equal("curl: (28) Connection timed out after 1001 milliseconds\n", r.err)
      run("delete", "--force", "squatter")
      r = run("delete", "--force", "e2e-control-plane", "e2e-worker")
      assert.are.equal("e2e-control-plane\ne2e-worker\n", r.out)
      assert.are.equal("[]\n", run("list", "--all", "--format", "json").out)
    end)

    it("1.2.0 has no opt-out of the read-only /proc/sys: sysctl -w fails as on the real runtime", function()
      sim = S.sim({ KINA_SIM_VERSION = "1.2.0", KINA_SIM_BOOT_DELAY = "0" })
      assert.are.equal(0, sim.run("run", "-d", "--name", "old", "--cap-add", "ALL", NODE).code)
      local r = sim.run("exec", "old", "sysctl", "-w", "net.ipv4.ip_forward=1")
      assert.are.equal(1, r.code) -- procps' sysctl exits 1 (spec/oracle_netfilter_spec.lua)
      assert.are.equal('sysctl: permission denied on key "net.ipv4.ip_forward"\n', r.err)
    end)

    it("with services stopped every command fails with the XPC error and the hint, exit 1", function()
      sim = S.sim({ KINA_SIM_SYSTEM = "stopped" })
      local r = sim.run("list", "--all", "--format", "json")
      assert.are.equal(1, r.code)
      assert.matches("XPC connection error: Connection invalid", r.err)
      assert.matches("\nEnsure container system service has been started with `container system start`%.\n$", r.err)
      r = sim.run("system", "status")
      assert.are.equal(1, r.code)
      assert.are.equal("apiserver is not running and not registered with launchd\n", r.out)
      assert.are.equal(0, sim.run("--version").code)
    end)
  end)
end)
