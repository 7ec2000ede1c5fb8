-- The provider interface's conformance suite (lua/kina/provider/README.md), run by every
-- provider: Apple's against the `container` simulator (spec/provider_spec.lua) and podman's
-- against real podman (spec/podman_provider_spec.lua). It holds a provider to the contract,
-- not to one runtime's command lines: those are each provider's own spec.
--
-- run(env, title, new_world): env is the calling spec file's _ENV (busted's describe, it,
-- assert ... live there, not in _G); new_world() returns a world, or nil and why it cannot run (the suite
-- is then pending with that reason). A world is
--   { provider, sched, runtime = info().runtime, image = a runnable local image whose log
--     prints "Reached target Multi-User System." (already in the local store) and whose userland has sh, cat, cp, mkdir,
--     chmod, missing_image = a reference no pull can find, cluster = a cluster name
--     no other test uses, close = function() removing everything the world made }.
local common = require "kina.provider.common"
local uv = require "luv"

local C = {}

C.CLUSTER_LABEL = "io.kina.cluster"
C.ROLE_LABEL = "io.kina.role"

-- A port nothing listens on now (the kernel's choice for port 0).
local function free_port()
  local tcp = uv.new_tcp()
  assert(tcp:bind("127.0.0.1", 0))
  local port = tcp:getsockname().port
  tcp:close()
  uv.run("nowait")
  return port
end
C.free_port = free_port

function C.run(env, title, new_world)
  local describe, it, before_each, after_each = env.describe, env.it, env.before_each, env.after_each
  local assert = env.assert
  local function raises(fn)
    local ok, err = pcall(fn)
    assert.is_false(ok, "expected an error")
    return err
  end
  describe("provider conformance: " .. title, function()
    local w, p, why
    local scratch = {} -- host directories a test made, removed after it
    local function node(suffix, role, extra)
      local d = { name = w.cluster .. "-" .. suffix, cluster = w.cluster, role = role or "worker", image = w.image }
      for k, v in pairs(extra or {}) do d[k] = v end
      return d
    end
    local function names_of(records)
      local out = {}
      for i, r in ipairs(records) do out[i] = r.name end
      return out
    end

    before_each(function()
      w, why = new_world()
      if w then p = w.provider end
    end)
    after_each(function()
      if w then w.close() end
      for _, dir in ipairs(scratch) do os.execute("rm -rf '" .. dir .. "'") end
      scratch = {}
    end)
    -- every test starts with this: pending, with the reason, where the runtime cannot run
    local function ready()
      -- looked up now: busted gives a running test its own `pending`
      if not w then env.pending(why) return false end
      return true
    end

    it("reports the runtime and is ready to run nodes", function()
      if not ready() then return end
      local info = p:info()
      assert.equal(w.runtime, info.runtime)
      assert.matches("^%d+%.%d+", info.version)
      assert.is_true(info.service_running)
      local again, warnings = p:ensure_ready()
      assert.equal(info.version, again.version)
      assert.is_table(warnings)
    end)

    it("declares a boolean for every capability and nothing else", function()
      if not ready() then return end
      local caps = p:capabilities()
      for _, name in ipairs(common.CAPABILITIES) do
        assert.is_boolean(caps[name], "capability " .. name)
      end
      local known = {}
      for _, name in ipairs(common.CAPABILITIES) do known[name] = true end
      for name in pairs(caps) do assert.is_true(known[name], "undeclared capability " .. tostring(name)) end
    end)

    it("describes itself for people, validates a description without running it", function()
      if not ready() then return end
      assert.is_string(p.display_name)
      assert.is_string(p.image_store)
      -- kina doctor's checks for this runtime
      local checks = require(p.doctor)
      assert.is_function(checks.runtime)
      assert.is_function(checks.machine)
      local cmd = p:user_command({ "exec", "n1", "journalctl", "-u", "kubelet" })
      assert.matches("^%S+ exec n1 journalctl %-u kubelet$", cmd)
      assert.matches("busybox:1%.36", p:pull_command("busybox:1.36"))
      assert.is_string(p:hint("not_running"))
      assert.is_nil(p:hint("no-such-cause"))
      local extra = p:validate(node("control-plane", "control-plane", { api_server = { address = "127.0.0.1", port = 16443 } }))
      assert.is_table(extra)
      local found = false
      for _, hp in ipairs(extra.host_ports or {}) do if hp.port == 16443 then found = true end end
      assert.is_true(found, "the API server's host port is among the ports to check")
      assert.are.same({}, p:list{ labels = { [C.CLUSTER_LABEL] = w.cluster } }, "validate made a node")
      -- NO_PROXY's share: where the nodes' addresses come from
      local subnets = p:node_subnets()
      assert.is_true(#subnets >= 1)
      for _, s in ipairs(subnets) do assert.matches("^%d+%.%d+%.%d+%.%d+/%d+$", s) end
      -- export logs' report of the runtime: a plain file name and what the runtime says
      local file, text = p:runtime_report()
      assert.matches("^[%w.-]+%.txt$", file)
      assert.is_true(#text > 0)
    end)

    it("creates a running node: labels, IPv4 address, published API server port", function()
      if not ready() then return end
      local port = free_port()
      local name = p:create(node("control-plane", "control-plane", { api_server = { address = "127.0.0.1", port = port } }))
      assert.equal(w.cluster .. "-control-plane", name)
      local rec = p:inspect(name)
      assert.equal(name, rec.name)
      assert.equal("running", rec.state)
      assert.equal(w.cluster, rec.cluster)
      assert.equal("control-plane", rec.role)
      assert.equal(w.cluster, rec.labels[C.CLUSTER_LABEL])
      assert.matches("^%d+%.%d+%.%d+%.%d+$", rec.ip)
      assert.equal(rec.ip, p:ip(name))
      local api
      for _, pm in ipairs(p:ports(name)) do
        if pm.container_port == 6443 then api = pm end
      end
      assert.same({ host_address = "127.0.0.1", host_port = port, container_port = 6443, protocol = "tcp", count = 1 }, api)
      assert.is_nil(p:inspect(w.cluster .. "-nothing"))
      assert.is_true(common.is_error(raises(function() p:ip(w.cluster .. "-nothing") end)))
    end)

    it("refuses a second node of the same name, naming the cause", function()
      if not ready() then return end
      p:create(node("worker"))
      local err = raises(function() p:create(node("worker")) end)
      assert.is_true(common.is_error(err))
      assert.equal(w.cluster .. "-worker", err.node)
      assert.equal("name_taken", err.cause)
      assert.matches("hint: a container with that name already exists", tostring(err))
      assert.equal("running", p:inspect(w.cluster .. "-worker").state) -- the first is untouched
    end)

    it("lists kina's nodes by labels, sorted by name", function()
      if not ready() then return end
      p:create(node("worker2"))
      p:create(node("control-plane", "control-plane"))
      p:create(node("worker"))
      local other = w.cluster .. "x"
      p:create{ name = other .. "-worker", cluster = other, role = "worker", image = w.image }
      local mine = p:list{ labels = { [C.CLUSTER_LABEL] = w.cluster } }
      assert.same({ w.cluster .. "-control-plane", w.cluster .. "-worker", w.cluster .. "-worker2" }, names_of(mine))
      for _, rec in ipairs(mine) do assert.equal(w.cluster, rec.cluster) end
      local workers = p:list{ labels = { [C.CLUSTER_LABEL] = w.cluster, [C.ROLE_LABEL] = "worker" } }
      assert.same({ w.cluster .. "-worker", w.cluster .. "-worker2" }, names_of(workers))
      local all = names_of(p:list())
      local seen = {}
      for _, n in ipairs(all) do seen[n] = true end
      assert.is_true(seen[other .. "-worker"] and seen[w.cluster .. "-worker"])
      p:delete({ other .. "-worker" })
    end)

    it("runs commands: output, exit codes, stdin, a missing program", function()
      if not ready() then return end
      local name = p:create(node("worker"))
      assert.equal("hello\n", p:exec(name, { "sh", "-c", "echo hello" }).stdout)
      local r = p:exec(name, { "sh", "-c", "echo out; echo err >&2; exit 3" }, { check = false })
      assert.equal(3, r.code)
      assert.equal("out\n", r.stdout)
      assert.matches("err", r.stderr)
      local err = raises(function() p:exec(name, { "sh", "-c", "exit 3" }) end)
      assert.is_true(common.is_error(err))
      assert.equal("exec", err.op)
      assert.equal(name, err.node)
      assert.equal(3, err.code)
      assert.matches("exit status 3", tostring(err))
      assert.equal("piped in\n", p:exec(name, { "cat" }, { stdin = "piped in\n" }).stdout)
      assert.equal("v\n", p:exec(name, { "sh", "-c", "echo $KINA_TEST" }, { env = { KINA_TEST = "v" } }).stdout)
      err = raises(function() p:exec(name, { "kina-no-such-program" }) end)
      assert.equal("exec_not_found", err.cause)
    end)

    it("streams one exec's output into another node's stdin", function()
      if not ready() then return end
      local a = p:create(node("worker"))
      local b = p:create(node("worker2"))
      local producer = p:exec_job(a, { "sh", "-c", "echo from a" }, { stdout = "pipe" })
      local consumer = p:exec_job(b, { "sh", "-c", "cat > /tmp/piped" }, { stdin_from = producer })
      local results = w.sched:await_all{ producer, consumer }
      assert.equal(0, results[1].code)
      assert.equal(0, results[2].code)
      assert.equal("from a\n", p:exec(b, { "cat", "/tmp/piped" }).stdout)
    end)

    it("copies a string and a host file into a node", function()
      if not ready() then return end
      local name = p:create(node("worker"))
      p:copy_to(name, "kind: Test\n", "/kind/test/kubeadm.conf")
      assert.equal("kind: Test\n", p:exec(name, { "cat", "/kind/test/kubeadm.conf" }).stdout)
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write("from a file\n")
      f:close()
      p:copy_to(name, path, "/etc/kina-copied", { file = true })
      os.remove(path)
      assert.equal("from a file\n", p:exec(name, { "cat", "/etc/kina-copied" }).stdout)
    end)

    it("reads the log and waits for a line in it", function()
      if not ready() then return end
      local name = p:create(node("worker"))
      assert.is_true(p:wait_for_log(name, "Reached target .*Multi%-User System", 20))
      assert.matches("Multi%-User System", p:logs(name))
      local err = raises(function() p:wait_for_log(name, "never printed", 0.5) end)
      assert.is_true(common.is_error(err))
      assert.matches('no line matching "never printed"', tostring(err))
    end)

    it("stops and starts a node: no IP while stopped, an IP again after", function()
      if not ready() then return end
      local name = p:create(node("worker"))
      local before = p:ip(name)
      p:stop(name, { time = 5 })
      assert.equal("stopped", p:inspect(name).state)
      local err = raises(function() p:ip(name) end)
      assert.matches("has no IP address", tostring(err))
      assert.is_true(common.is_error(raises(function() p:exec(name, { "true" }) end)))
      p:start(name)
      assert.equal("running", p:inspect(name).state)
      local after = p:ip(name)
      assert.matches("^%d+%.%d+%.%d+%.%d+$", after)
      if p:capabilities().ip_kept_across_restart then assert.equal(before, after) end
      assert.equal("up\n", p:exec(name, { "sh", "-c", "echo up" }).stdout)
    end)

    it("deletes nodes, and what is gone already is no error", function()
      if not ready() then return end
      p:create(node("control-plane", "control-plane"))
      p:create(node("worker"))
      p:delete({ w.cluster .. "-control-plane", w.cluster .. "-worker" })
      assert.same({}, p:list{ labels = { [C.CLUSTER_LABEL] = w.cluster } })
      assert.is_nil(p:inspect(w.cluster .. "-worker"))
      p:delete(w.cluster .. "-worker")
      p:delete({ w.cluster .. "-gone", w.cluster .. "-also-gone" })
      -- the name is free again
      p:create(node("worker"))
      assert.equal("running", p:inspect(w.cluster .. "-worker").state)
    end)

    it("checks host ports before anything is created", function()
      if not ready() then return end
      local tcp = uv.new_tcp()
      assert(tcp:bind("127.0.0.1", 0))
      assert(tcp:listen(1, function() end))
      local taken = tcp:getsockname().port
      local err = raises(function() p:check_host_ports{ { address = "127.0.0.1", port = taken, protocol = "tcp", field = "nodes[1]" } } end)
      tcp:close()
      uv.run("nowait")
      assert.is_true(common.is_error(err))
      assert.matches("host port 127.0.0.1:" .. taken .. "/tcp is not free", tostring(err))
      p:check_host_ports{ { address = "127.0.0.1", port = free_port(), protocol = "tcp" } }
    end)

    it("manages networks where it declares them", function()
      if not ready() then return end
      if not p:capabilities().networks then
        assert.is_true(common.is_error(raises(function() p:network_list() end)))
        return
      end
      local net = w.cluster .. "-net"
      p:network_create(net, { labels = { [C.CLUSTER_LABEL] = w.cluster } })
      local rec = p:network_inspect(net)
      assert.equal(net, rec.name)
      assert.equal(w.cluster, rec.labels[C.CLUSTER_LABEL])
      local found
      for _, n in ipairs(p:network_list()) do if n.name == net then found = n end end
      assert.equal(net, found and found.name)
      -- a node on it
      local name = p:create(node("worker", "worker", { network = net }))
      assert.equal(net, p:inspect(name).network)
      p:delete(name)
      p:network_delete(net)
      assert.is_nil(p:network_inspect(net))
      p:network_delete(net) -- gone already: fine
    end)

    it("knows its images, saves them to a file and into a node's stdin, loads them", function()
      if not ready() then return end
      assert.is_true(p:image_exists(w.image))
      assert.is_false(p:image_exists(w.missing_image))
      local err = raises(function() p:image_pull(w.missing_image) end)
      assert.is_true(common.is_error(err))
      local dir = assert(uv.fs_mkdtemp("/tmp/kina-conformance-XXXXXX"))
      scratch[#scratch + 1] = dir
      local archive = dir .. "/image.tar"
      p:image_save(w.image, { to = archive })
      assert.is_true(uv.fs_stat(archive).size > 0)
      p:image_load(archive)
      assert.is_true(p:image_exists(w.image))
      local name = p:create(node("worker"))
      local producer = p:image_save(w.image, { pipe = true })
      local consumer = p:exec_job(name, { "sh", "-c", "cat > /tmp/image.tar" }, { stdin_from = producer })
      local results = w.sched:await_all{ producer, consumer }
      assert.equal(0, results[1].code)
      assert.equal(0, results[2].code)
      -- what arrived, like what was saved to the file, is a tar archive (its magic at 257)
      local data = p:exec(name, { "cat", "/tmp/image.tar" }).stdout
      assert.equal("ustar", data:sub(258, 262))
      local f = assert(io.open(archive, "rb"))
      local head = f:read(512)
      f:close()
      assert.equal("ustar", head:sub(258, 262))
    end)
  end)
end

return C
