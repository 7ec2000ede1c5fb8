-- The provider interface, written once and run against the `container` simulator at several
-- Apple CLI versions (a future provider runs the same suite with its own factory).
local async = require "kina.async"
local apple = require "kina.provider.apple"
local json = require "kina.json"
local uv = require "luv"

local SIM = os.getenv("KINA_SIM_BIN")
if not SIM then
  local build = os.getenv("KINA_BUILD") or "build"
  SIM = uv.cwd() .. "/" .. build .. "/sim/container"
end

local function rm_rf(path) os.execute("rm -rf '" .. path .. "'") end

-- A provider on a fresh simulator state. env: extra KINA_SIM_* settings.
local function new_world(version, env)
  local dir = assert(uv.fs_mkdtemp("/tmp/kina-provider-XXXXXX"))
  local log = dir .. "/argv.log"
  local full = { KINA_SIM_STATE = dir .. "/state", KINA_SIM_VERSION = version, KINA_SIM_LOG = log,
    KINA_SIM_BOOT_DELAY = "50", KINA_SIM_READY_DELAY = "50" }
  for k, v in pairs(env or {}) do full[k] = v end
  local sched = async.new({ max = 16 })
  local world = { dir = dir, sched = sched, env = full }
  world.provider = apple.new{ scheduler = sched, binary = SIM, env = full }
  function world.log()
    local out = {}
    local f = io.open(log)
    if not f then return out end
    for line in f:lines() do out[#out + 1] = json.decode(line) end
    f:close()
    return out
  end
  -- the invocations whose first words are `words`
  function world.calls(...)
    local words, out = { ... }, {}
    for _, argv in ipairs(world.log()) do
      local match = true
      for i, w in ipairs(words) do if argv[i] ~= w then match = false end end
      if match then out[#out + 1] = argv end
    end
    return out
  end
  function world.sim(...)
    local args = { SIM, ... }
    local r = sched:exec{ argv = args, env = full }
    return r
  end
  function world.close()
    sched:close()
    rm_rf(dir)
  end
  return world
end

local function node(name, role, extra)
  local d = { name = name, cluster = "prov", role = role or "control-plane", image = "kindest/node:v1.35.5",
    cpus = 2, memory = "2G" }
  for k, v in pairs(extra or {}) do d[k] = v end
  return d
end

local max_overlap = dofile("spec/support/world.lua").max_overlap

local function raises(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  return err
end

-- every shape kina parses, and each release after the mirror (updates-2026-12 §1)
for _, version in ipairs{ "0.7.1", "0.8.0", "1.1.0", "1.2.2", "1.3.0", "1.3.1", "1.4.1", "1.5.0" } do
  describe("apple provider against container " .. version, function()
    local w, p
    before_each(function()
      w = new_world(version)
      p = w.provider
    end)
    after_each(function() w.close() end)

    it("reports the runtime: version, service, macOS generation, features", function()
      local info = p:info()
      assert.equal(version, info.version)
      assert.is_true(info.service_running)
      assert.equal(26, info.macos)
      assert.is_true(info.multi_node)
      assert.equal(apple.compare_versions and nil or nil, nil)
      local ge012 = require("kina.core.apple").compare_versions(version, "0.12.0") >= 0
      assert.equal(ge012, info.features.cap_add)
      assert.is_true(p:ensure_ready() ~= nil)
    end)

    it("creates a node with the exact, version-correct command line", function()
      p:create(node("prov-control-plane", "control-plane", { api_server = { address = "127.0.0.1", port = 16443 } }))
      local runs = w.calls("run")
      assert.equal(1, #runs)
      local argv = runs[1]
      local expected = { "run", "-d", "--name", "prov-control-plane", "--cpus", "2", "--memory", "2G" }
      for i, a in ipairs(expected) do assert.equal(a, argv[i]) end
      local text = table.concat(argv, " ")
      local ge = function(v) return require("kina.core.apple").compare_versions(version, v) >= 0 end
      assert.equal(ge("0.12.0"), text:find("--cap-add ALL", 1, true) ~= nil)
      assert.equal(ge("1.2.1"), text:find("--masked-path NONE --read-only-path NONE", 1, true) ~= nil)
      assert.truthy(text:find("-l io.kina.cluster=prov -l io.kina.role=control-plane", 1, true))
      assert.truthy(text:find("-p 127.0.0.1:16443:6443", 1, true))
      assert.equal("kindest/node:v1.35.5", argv[#argv])
      -- and what the provider would run is what it ran
      local planned = p:run_argv(node("prov-control-plane", "control-plane", { api_server = { address = "127.0.0.1", port = 16443 } }))
      table.remove(planned, 1)
      assert.same(planned, argv)
    end)

    it("creates nodes concurrently", function()
      local lw = new_world(version, { KINA_SIM_LATENCY = "300" })
      finally(lw.close)
      local results = lw.sched:run(function(k)
        local tasks = {}
        for i = 1, 5 do
          tasks[i] = k:go(function() local _, r = lw.provider:create(node("prov-worker" .. i, "worker")); return r end)
        end
        local out = {}
        for i, t in ipairs(tasks) do out[i] = k:join(t) end
        return out
      end)
      assert.equal(5, max_overlap(results))
    end)

    it("lists kina's nodes parsed from every JSON shape, filtered by labels client side", function()
      p:create(node("prov-control-plane"))
      p:create(node("prov-worker", "worker"))
      p:create(node("other-control-plane", "control-plane", { cluster = "other" }))
      w.sim("run", "-d", "--name", "not-kina", "alpine:3.20") -- someone else's container
      local all = p:list()
      local names = {}
      for _, n in ipairs(all) do names[#names + 1] = n.name end
      assert.same({ "other-control-plane", "prov-control-plane", "prov-worker" }, names)
      local mine = p:list{ labels = { ["io.kina.cluster"] = "prov" } }
      assert.equal(2, #mine)
      local cp = mine[1]
      assert.equal("prov-control-plane", cp.name)
      assert.equal("running", cp.state)
      assert.equal("control-plane", cp.role)
      assert.equal("prov", cp.cluster)
      assert.matches("^192%.168%.64%.%d+$", cp.ip)
      assert.equal("worker", mine[2].role)
      -- the provider always asks for --all in JSON
      for _, argv in ipairs(w.calls("list")) do assert.same({ "list", "--all", "--format", "json" }, argv) end
    end)

    it("inspects a node, gives its IP, and answers nil for a missing one", function()
      p:create(node("prov-control-plane"))
      local rec = p:inspect("prov-control-plane")
      assert.equal("prov-control-plane", rec.name)
      assert.equal("control-plane", rec.role)
      assert.equal(rec.ip, p:ip("prov-control-plane"))
      assert.is_nil(p:inspect("prov-nothing"))
    end)

    it("stops with time for systemd, starts again, and has no IP while stopped", function()
      p:create(node("prov-control-plane"))
      p:stop("prov-control-plane")
      assert.same({ "stop", "--time", "30", "prov-control-plane" }, w.calls("stop")[1])
      assert.equal("stopped", p:inspect("prov-control-plane").state)
      local err = raises(function() p:ip("prov-control-plane") end)
      assert.is_true(apple.is_error(err))
      assert.matches("has no IP address", tostring(err))
      -- killing a stopped node: the runtime's text, with the not-running hint
      err = raises(function() p:kill("prov-control-plane") end)
      assert.equal("not_running", err.cause)
      assert.matches("hint: the node is not running", tostring(err))
      p:start("prov-control-plane")
      assert.matches("^192%.168%.64%.%d+$", p:ip("prov-control-plane"))
    end)

    it("deletes idempotently", function()
      p:create(node("prov-control-plane"))
      p:create(node("prov-worker", "worker"))
      p:delete({ "prov-control-plane", "prov-worker" })
      assert.same({}, p:list())
      p:delete({ "prov-control-plane" })
      p:delete({ "prov-gone", "prov-also-gone" })
      assert.same({ "delete", "--force", "prov-control-plane", "prov-worker" }, w.calls("delete")[1])
    end)

    it("runs commands in a node, with stdin, and raises a full error when they fail", function()
      p:create(node("prov-control-plane"))
      assert.equal("hello\n", p:exec("prov-control-plane", { "cat" }, { stdin = "hello\n" }).stdout)
      assert.same({ "exec", "-i", "prov-control-plane", "cat" }, w.calls("exec")[1])
      local err = raises(function() p:exec("prov-control-plane", { "cat", "/no/such/file" }) end)
      assert.is_true(apple.is_error(err))
      local text = tostring(err)
      assert.matches("^exec prov%-control%-plane failed: exit status 1", text)
      assert.matches("command: .*container exec prov%-control%-plane cat /no/such/file", text)
      assert.matches("stderr: .*/no/such/file", text)
      local r = p:exec("prov-control-plane", { "cat", "/no/such/file" }, { check = false })
      assert.equal(1, r.code)
    end)

    it("copies data into a node through exec -i cp /dev/stdin", function()
      p:create(node("prov-control-plane"))
      p:copy_to("prov-control-plane", "kind: Test\n", "/kind/test/kubeadm.conf")
      assert.equal("kind: Test\n", p:exec("prov-control-plane", { "cat", "/kind/test/kubeadm.conf" }).stdout)
      local cps = w.calls("exec", "-i", "prov-control-plane", "cp")
      assert.same({ "exec", "-i", "prov-control-plane", "cp", "/dev/stdin", "/kind/test/kubeadm.conf" }, cps[1])
    end)

    it("reads the log and waits for a line in it", function()
      p:create(node("prov-control-plane"))
      assert.is_true(p:wait_for_log("prov-control-plane", "Reached target .*Multi%-User System", 10))
      assert.matches("Multi%-User System", p:logs("prov-control-plane"))
      local err = raises(function() p:wait_for_log("prov-control-plane", "never printed", 0.5) end)
      assert.matches('no line matching "never printed" appeared in the log within 0.5s', tostring(err), 1, true)
    end)

    it("names the operation, node, command and hint when the runtime refuses", function()
      p:create(node("prov-control-plane"))
      local err = raises(function() p:create(node("prov-control-plane")) end)
      assert.equal("run", err.op)
      assert.equal("prov-control-plane", err.node)
      assert.equal("name_taken", err.cause)
      assert.matches("already exists", err.stderr)
      assert.matches("hint: a container with that name already exists", tostring(err))
    end)

    it("reports injected runtime failures with their real text", function()
      local fw = new_world(version, { KINA_SIM_FAIL = "run:*-worker2" })
      finally(fw.close)
      fw.provider:create(node("prov-worker", "worker"))
      local err = raises(function() fw.provider:create(node("prov-worker2", "worker")) end)
      assert.equal("run", err.op)
      assert.equal("prov-worker2", err.node)
      assert.truthy(err.stderr:find("Error:", 1, true))
    end)

    it("times out a hung CLI call and leaves no process behind", function()
      local hw = new_world(version, { KINA_SIM_HANG = "list" })
      finally(hw.close)
      local hp = apple.new{ scheduler = hw.sched, binary = SIM, env = hw.env, timeouts = { list = 0.5 } }
      local err = raises(function() hp:list() end)
      assert.equal("timeout", err.cause)
      assert.matches("timed out after 0.5s", tostring(err))
      assert.matches("hint: Apple's container CLI did not answer in time", tostring(err))
      assert.equal(0, hw.sched.runner:active())
    end)

    it("manages networks on macOS 26", function()
      p:network_create("kina-prov", { subnet = "10.89.0.0/24", labels = { ["io.kina.cluster"] = "prov" } })
      local net = p:network_inspect("kina-prov")
      assert.equal("kina-prov", net.name)
      local names = {}
      for _, n in ipairs(p:network_list()) do names[n.name] = true end
      assert.is_true(names["default"] and names["kina-prov"])
      p:network_delete("kina-prov")
      assert.is_nil(p:network_inspect("kina-prov"))
      p:network_delete("kina-prov") -- gone already: fine
    end)

    it("is a release kina was checked against: no warning at preflight", function()
      local _, warnings = p:ensure_ready()
      assert.same({}, warnings)
    end)

    it("reads system status in the release's shape", function()
      local ge = function(v) return require("kina.core.apple").compare_versions(version, v) >= 0 end
      local status = p:info().status
      if not ge("0.10.0") then
        assert.is_nil(status) -- text only before --format json
        return
      end
      assert.equal("running", status.status)
      assert.equal(version, status.server_version)
      -- the client's own version is in the JSON from 1.4.1 (nested shape)
      assert.equal(ge("1.4.1") and version or nil, status.client_version)
      assert.matches("com%.apple%.container/$", status.app_root)
    end)

    it("pulls and runs a node image from a plain-HTTP local registry with the scheme it needs", function()
      local ge = function(v) return require("kina.core.apple").compare_versions(version, v) >= 0 end
      local ref = "localhost:5001/kindest/node:v1.35.5"
      p:image_pull(ref)
      assert.is_true(p:image_exists(ref))
      local pull = w.calls("image", "pull")[1]
      assert.same(ge("1.3.0") and { "image", "pull", "--scheme", "http", ref } or { "image", "pull", ref }, pull)
      -- `run` pulls a missing image itself: it gets the same scheme
      p:create(node("prov-control-plane", "control-plane", { image = "127.0.0.1:5001/kindest/node:v1.35.5" }))
      local run = w.calls("run")[1]
      assert.equal("127.0.0.1:5001/kindest/node:v1.35.5", run[#run])
      assert.equal(ge("1.3.0"), run[#run - 2] == "--scheme" and run[#run - 1] == "http")
      assert.equal("running", p:inspect("prov-control-plane").state)
      -- docker.io is https either way: no --scheme
      p:image_pull("kindest/node:v1.35.5")
      assert.same({ "image", "pull", "kindest/node:v1.35.5" }, w.calls("image", "pull")[2])
    end)

    it("pulls, checks, saves and loads images", function()
      assert.is_false(p:image_exists("registry.example/app:1"))
      p:image_pull("registry.example/app:1")
      assert.is_true(p:image_exists("registry.example/app:1"))
      local tar = w.dir .. "/app.tar"
      p:image_save({ "registry.example/app:1" }, { to = tar })
      local f = assert(io.open(tar, "rb"))
      assert.is_true(#f:read("a") > 512)
      f:close()
      p:image_load(tar)
    end)
  end)
end

describe("apple provider preflight", function()
  it("refuses container 1.2.0, which cannot boot kind nodes", function()
    local w = new_world("1.2.0")
    finally(w.close)
    local err = raises(function() w.provider:ensure_ready() end)
    assert.matches("container 1%.2%.0 cannot run kindest/node", tostring(err))
    assert.matches("upgrade to container 1%.2%.1 or later", tostring(err))
  end)

  it("refuses versions older than the oldest supported", function()
    local w = new_world("0.6.0")
    finally(w.close)
    local err = raises(function() w.provider:ensure_ready() end)
    assert.matches("older than " .. apple.MIN_VERSION:gsub("%.", "%%."), tostring(err))
  end)

  it("says how to start the services when they are not running", function()
    local w = new_world("1.2.2", { KINA_SIM_SYSTEM = "stopped" })
    finally(w.close)
    local err = raises(function() w.provider:ensure_ready() end)
    assert.matches("services are not running", tostring(err))
    assert.matches("container system start %-%-enable%-kernel%-install", tostring(err))
  end)

  it("warns about a release newer than tested, and about 1.4.0, which Apple never released", function()
    for version, pattern in pairs{
      ["1.6.0"] = "container 1%.6%.0 is newer than 1%.5%.0, the newest release kina was checked against",
      ["1.4.0"] = "container 1%.4%.0 is not one of Apple's releases kina was checked against",
    } do
      local w = new_world(version)
      finally(w.close)
      local info, warnings = w.provider:ensure_ready()
      assert.equal(version, info.version)
      assert.equal(1, #warnings)
      assert.matches(pattern, warnings[1])
    end
  end)

  it("retries `network list`, which Apple's client gives 1 second, a bounded number of times", function()
    local w = new_world("1.2.2", { KINA_SIM_NETWORK_LIST_TIMEOUTS = tostring(apple.NETWORK_LIST_ATTEMPTS - 1) })
    finally(w.close)
    assert.equal(26, w.provider:info().macos)
    assert.equal(apple.NETWORK_LIST_ATTEMPTS, #w.calls("network", "list"))
    -- one more timeout than attempts: the failure is reported, with the runtime's text
    local fw = new_world("1.2.2", { KINA_SIM_NETWORK_LIST_TIMEOUTS = tostring(apple.NETWORK_LIST_ATTEMPTS) })
    finally(fw.close)
    local err = raises(function() fw.provider:info() end)
    assert.equal("network list", err.op)
    assert.truthy(err.stderr:find("Error: XPC timeout for request to com.apple.container.apiserver/networkList", 1, true), err.stderr)
    assert.equal(apple.NETWORK_LIST_ATTEMPTS, #fw.calls("network", "list"))
  end)

  it("on 1.3.0+ a plain-HTTP registry fails without --scheme http, and auto is refused", function()
    local w = new_world("1.3.0")
    finally(w.close)
    local r = w.sim("image", "pull", "localhost:5001/kindest/node:v1.35.5")
    assert.equal(1, r.code)
    assert.matches("^Error: handshakeFailed%(.*WRONG_VERSION_NUMBER", r.stderr)
    r = w.sim("image", "pull", "--scheme", "auto", "localhost:5001/kindest/node:v1.35.5")
    assert.equal(1, r.code)
    assert.equal("Error: unsupported scheme auto\n", r.stderr)
    -- the provider passes the scheme itself
    w.provider:image_pull("localhost:5001/kindest/node:v1.35.5")
    assert.is_true(w.provider:image_exists("localhost:5001/kindest/node:v1.35.5"))
    -- 1.2.2's auto picked http for it without being told
    local old = new_world("1.2.2")
    finally(old.close)
    assert.equal(0, old.sim("image", "pull", "localhost:5001/kindest/node:v1.35.5").code)
  end)

  it("says how to install the CLI when it is missing", function()
    local sched <close> = async.new()
    local p = apple.new{ scheduler = sched, binary = "/nonexistent/container" }
    local err = raises(function() p:info() end)
    assert.matches("ENOENT", tostring(err))
    assert.matches("KINA_CONTAINER", tostring(err))
    assert.matches("macOS 15", tostring(err))
  end)

  it("on macOS 15: one network only, refused before any network call", function()
    local w = new_world("1.2.2", { KINA_SIM_MACOS = "15" })
    finally(w.close)
    assert.equal(15, w.provider:info().macos)
    assert.is_false(w.provider:info().multi_node)
    local before = #w.log()
    local err = raises(function() w.provider:network_create("kina-x") end)
    assert.matches("need macOS 26", tostring(err))
    assert.equal(before, #w.log())
  end)

  it("finds ports that are taken before anything is created", function()
    local sched <close> = async.new()
    local p = apple.new{ scheduler = sched, binary = SIM }
    local server = uv.new_tcp()
    assert(server:bind("127.0.0.1", 0))
    assert(server:listen(1, function() end))
    local port = server:getsockname().port
    local err = raises(function()
      p:check_host_ports{ { address = "127.0.0.1", port = port, protocol = "tcp", field = "nodes[1].extraPortMappings[1]" } }
    end)
    server:close()
    uv.run("nowait")
    assert.matches("nodes%[1%]%.extraPortMappings%[1%]: host port 127%.0%.0%.1:" .. port .. "/tcp is not free", tostring(err))
  end)

  it("rejects unknown options", function()
    local sched <close> = async.new()
    assert.has_error(function() apple.new{ scheduler = sched, colour = "red" } end, "apple provider options: unknown field 'colour'")
    assert.has_error(function() apple.new{} end, "apple provider options: field 'scheduler' must be a kina.async scheduler")
  end)
end)

-- The interface's shared conformance suite (spec/support/provider_conformance.lua; podman's run
-- is spec/podman_provider_spec.lua), here against the simulator: the oldest release kina
-- supports on macOS 26, and the newest it was checked against.
local conformance = dofile("spec/support/provider_conformance.lua")
for _, version in ipairs{ "0.7.1", "1.5.0" } do
  conformance.run(_ENV, "apple, simulated container " .. version, function()
    -- the registry has the node image only, so a pull of anything else fails as a missing image does
    local w = new_world(version, { KINA_SIM_IMAGES = "kindest/node:v1.35.5" })
    w.runtime = "apple"
    w.image = "kindest/node:v1.35.5"
    w.missing_image = "localhost:5999/kina/none:0"
    w.cluster = "conf"
    w.provider:image_pull(w.image)
    return w
  end)
end
