-- kina doctor: each check's failure and its hint, through build/kina against the simulator (text
-- and -o json, exit codes), and kina.doctor's pieces that the simulator cannot drive (the Local
-- Network probe, host memory and disk) as units with their inputs injected.
local async = require "kina.async"
local json = require "kina.json"
local uv = require "luv"
local doctor = require "kina.doctor"
local doctor_apple = require "kina.doctor.apple"
local apple = require "kina.provider.apple"

local World = dofile("spec/support/world.lua")

-- Run `kina doctor ARGS` in a fresh world with `env`; `setup(w)` runs first. Returns the text
-- result, the -o json result and its decoded checks by name.
local function doctor_run(env, args, setup)
  return async.run(function(sched)
    local w = World.new(sched, { prefix = "kina-doctor", env = env })
    if setup then setup(w) end
    local argv = { "doctor" }
    if type(args) == "function" then args = args(w) end
    for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
    local text = w.kina(argv)
    local jargv = { table.unpack(argv) }
    jargv[#jargv + 1] = "-o"
    jargv[#jargv + 1] = "json"
    local js = w.kina(jargv)
    w.close()
    local decoded = assert(json.decode(js.stdout), js.stdout .. js.stderr)
    local by_name = {}
    for _, c in ipairs(decoded.checks) do by_name[c.name] = c end
    return text, js, decoded, by_name
  end)
end

local function has(text, s) return text:find(s, 1, true) ~= nil end

-- The line of check `name` in the text output and the hint line after it.
local function line_of(text, name)
  local lines = {}
  for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
  for i, line in ipairs(lines) do
    for _, mark in ipairs{ "✓", "!", "✗" } do
      local prefix = " " .. mark .. " " .. name .. ": "
      if line:sub(1, #prefix) == prefix then return line, lines[i + 1] or "" end
    end
  end
end

local function expect(text, js, by_name, name, status, message, hint)
  local mark = ({ ok = "✓", warn = "!", fail = "✗" })[status]
  local line, next_line = line_of(text.stdout, name)
  assert.truthy(line, "no line for " .. name .. " in:\n" .. text.stdout)
  assert.equal(" " .. mark .. " " .. name .. ": ", line:sub(1, #(" " .. mark .. " " .. name .. ": ")))
  assert.truthy(has(line, message), line)
  local c = by_name[name]
  assert.truthy(c, name .. " missing from the JSON: " .. js.stdout)
  assert.equal(status, c.status)
  assert.truthy(has(c.message, message), c.message)
  if hint then
    assert.truthy(has(next_line, "hint: ") and has(next_line, hint), next_line)
    assert.truthy(c.hint and has(c.hint, hint), tostring(c.hint))
  end
end

describe("kina doctor against the simulator", function()
  it("passes on a supported release: exit 0, every check ok, the same checks as JSON", function()
    local text, js, decoded, by = doctor_run({ KINA_SIM_VERSION = "1.5.0" })
    assert.equal(0, text.code, text.stderr)
    assert.equal(0, js.code, js.stderr)
    assert.is_true(decoded.ok)
    for _, name in ipairs{ "cli", "version", "services", "server_version", "kernel", "macos", "local_network", "known_issues" } do
      expect(text, js, by, name, "ok", "")
    end
    assert.truthy(has(by.version.message, "1.5.0"))
    assert.equal("no running node to probe", by.local_network.message)
    for _, c in ipairs(decoded.checks) do assert.equal("ok", c.status, c.name .. ": " .. c.message) end
  end)

  it("fails when Apple's CLI is not there, saying where to get it", function()
    local text, js, decoded, by = doctor_run({ KINA_CONTAINER = "/nonexistent/container" })
    assert.equal(1, text.code)
    assert.equal(1, js.code)
    assert.is_false(decoded.ok)
    expect(text, js, by, "cli", "fail", "ENOENT", "https://github.com/apple/container/releases")
    assert.truthy(has(by.cli.hint, "KINA_CONTAINER"))
  end)

  it("refuses 1.2.0 with the reason, and names its read-only /proc/sys as a known problem", function()
    local text, js, _, by = doctor_run({ KINA_SIM_VERSION = "1.2.0" })
    assert.equal(1, text.code)
    assert.equal(1, js.code)
    expect(text, js, by, "version", "fail", "/proc/sys read-only", "1.2.1 or later")
    expect(text, js, by, "issue_readonly_proc_sys", "fail", "apple/container#2041", apple.HINTS.readonly_sysctl)
  end)

  it("warns, without failing, about a release newer than tested and about 1.4.0", function()
    local text, js, _, by = doctor_run({ KINA_SIM_VERSION = "1.6.0" })
    assert.equal(0, text.code, text.stdout)
    expect(text, js, by, "version", "warn", "container 1.6.0 is newer than 1.5.0, the newest release kina was checked against")
    text, js, _, by = doctor_run({ KINA_SIM_VERSION = "1.4.0" })
    assert.equal(0, text.code, text.stdout)
    expect(text, js, by, "version", "warn", "container 1.4.0 is not one of Apple's releases kina was checked against")
  end)

  it("fails when the services are not running, with the command that starts them", function()
    local text, js, _, by = doctor_run({ KINA_SIM_SYSTEM = "stopped", KINA_SIM_VERSION = "1.4.1" })
    assert.equal(1, text.code)
    assert.equal(1, js.code)
    expect(text, js, by, "services", "fail", "Apple's container services are not running",
      "container system start --enable-kernel-install")
    expect(text, js, by, "version", "ok", "1.4.1")
  end)

  it("fails on 1.4.1+ when the services still run an older release than the CLI", function()
    local text, js, _, by = doctor_run({ KINA_SIM_VERSION = "1.4.1", KINA_SIM_SERVER_VERSION = "1.3.1" })
    assert.equal(1, text.code)
    assert.equal(1, js.code)
    expect(text, js, by, "server_version", "fail", "the container CLI is 1.4.1 but its running services are 1.3.1",
      "container system stop && container system start")
  end)

  it("create's preflight refuses the same version mismatch, before any node exists", function()
    async.run(function(sched)
      local w = World.new(sched, { prefix = "kina-doctor", cluster = "mismatch",
        env = { KINA_SIM_VERSION = "1.4.1", KINA_SIM_SERVER_VERSION = "1.3.1" } })
      local r = w.kina{ "create", "cluster", "--name", "mismatch" }
      assert.equal(1, r.code, r.stderr)
      assert.truthy(has(r.stderr, "the container CLI is 1.4.1 but its running services are 1.3.1"), r.stderr)
      assert.truthy(has(r.stderr, "container system stop && container system start"), r.stderr)
      assert.same({}, w.node_names())
      w.close()
    end)
  end)

  local function kernel_link(target)
    return function(w)
      local dir = w.dir .. "/Library/Application Support/com.apple.container/kernels"
      assert(os.execute("mkdir -p '" .. dir .. "'"))
      assert(uv.fs_symlink(target, dir .. "/default.kernel-arm64"))
    end
  end

  it("fails when the default kernel is the old 6.12 one an upgraded Mac keeps", function()
    local text, js, _, by = doctor_run({ KINA_SIM_VERSION = "1.3.0" }, nil, kernel_link("vmlinux-6.12.28-153"))
    assert.equal(1, text.code)
    expect(text, js, by, "kernel", "fail", "the default kernel is 6.12.28 (vmlinux-6.12.28-153), which lacks nf_tables",
      "container system kernel set --recommended --force")
  end)

  it("accepts a 6.18 default kernel, and says what it looked for when there is none", function()
    local text, js, _, by = doctor_run({ KINA_SIM_VERSION = "1.3.0" }, nil, kernel_link("vmlinux-6.18.35-197"))
    assert.equal(0, text.code, text.stdout)
    expect(text, js, by, "kernel", "ok", "the default kernel is 6.18.35")
    text, js, _, by = doctor_run({ KINA_SIM_VERSION = "1.3.0" })
    expect(text, js, by, "kernel", "ok", "kernels/default.kernel-arm64 does not exist here")
    assert.truthy(has(by.kernel.message, "6.18.35"))
  end)

  it("warns on macOS 15: single-node clusters only, no networks", function()
    local text, js, _, by = doctor_run({ KINA_SIM_VERSION = "1.5.0", KINA_SIM_MACOS = "15" })
    assert.equal(0, text.code, text.stdout)
    expect(text, js, by, "macos", "warn", "single-node clusters only", apple.HINTS.network_needs_macos26)
  end)

  it("names the known runtime problems of a version with their workaround", function()
    local text, js, _, by = doctor_run({ KINA_SIM_VERSION = "1.3.1" })
    assert.equal(0, text.code, text.stdout)
    expect(text, js, by, "issue_2120", "warn", "apple/container#2120", "container system kernel set --recommended --force")
    expect(text, js, by, "issue_2245", "warn", "apple/container#2245", "tso off")
    expect(text, js, by, "networking_after_upgrade", "warn", "networking dead", "container system stop && container system start")
    text, js, _, by = doctor_run({ KINA_SIM_VERSION = "1.2.2" })
    assert.truthy(by.issue_2120)
    assert.is_nil(by.issue_2245)
    assert.is_nil(by.networking_after_upgrade)
    text, js, _, by = doctor_run({ KINA_SIM_VERSION = "1.4.1" })
    assert.is_nil(by.issue_2120)
    assert.truthy(by.issue_2245)
    assert.is_nil(by.networking_after_upgrade)
  end)

  it("with --config, fails when the nodes ask for more memory than the host has, or for a taken host port", function()
    -- a port taken by this process: the child's bind fails with EADDRINUSE
    local server = uv.new_tcp()
    assert(server:bind("127.0.0.1", 0))
    assert(server:listen(1, function() end))
    local port = server:getsockname().port
    local config = ([[
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
memory: 4096G
nodes:
- role: control-plane
  extraPortMappings:
  - containerPort: 80
    hostPort: %d
    listenAddress: 127.0.0.1
- role: worker
]]):format(port)
    local text, js, decoded, by = doctor_run({ KINA_SIM_VERSION = "1.5.0" }, function(w)
      World.write(w.config, config)
      return { "--config", w.config }
    end)
    server:close()
    uv.run("nowait")
    assert.equal(1, text.code, text.stderr)
    assert.equal(1, js.code, js.stderr)
    assert.is_false(decoded.ok)
    expect(text, js, by, "memory", "fail", "2 node(s) ask for 8192.0 GiB", "lower `memory`")
    expect(text, js, by, "ports", "fail", ("nodes[1].extraPortMappings[1]: host port 127.0.0.1:%d/tcp is not free"):format(port),
      "choose another hostPort")
    assert.truthy(by.disk, js.stdout)
  end)

  it("with --config, passes memory, disk and ports a small config asks for", function()
    local text, js, _, by = doctor_run({ KINA_SIM_VERSION = "1.5.0" }, function(w)
      World.write(w.config, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nmemory: 1G\n")
      return { "--config", w.config }
    end)
    assert.equal("ok", by.memory.status, by.memory.message)
    expect(text, js, by, "ports", "ok", "0 host port(s)")
    assert.truthy(has(by.disk.message, "free at "), by.disk.message)
  end)
end)

describe("kina.doctor", function()
  local info26 = { macos = 26 }
  local nodes = {
    { name = "dev-worker", cluster = "dev", role = "worker", state = "running", ip = "192.168.64.3" },
    { name = "dev-control-plane", cluster = "dev", role = "control-plane", state = "running", ip = "192.168.64.2/24" },
  }

  it("fails the Local Network check when the probe cannot reach the node, with the System Settings path", function()
    local probed
    local c = doctor_apple.local_network(info26, { nodes = nodes, probe = function(ip, port, timeout)
      probed = { ip, port, timeout }
      return nil, "EHOSTUNREACH"
    end })
    assert.same({ "192.168.64.2", 6443, doctor_apple.PROBE_TIMEOUT }, probed)
    assert.equal("fail", c.status)
    assert.equal("this Mac cannot reach node dev-control-plane at 192.168.64.2:6443 (EHOSTUNREACH)", c.message)
    assert.truthy(has(c.hint, apple.HINTS.local_network))
    assert.truthy(has(c.hint, "System Settings → Privacy & Security → Local Network"))
    -- the same symptom as networking dead after an upgrade (1.3.1)
    assert.truthy(has(c.hint, "container system stop && container system start"))
  end)

  it("passes the Local Network check when the probe connects, and skips it without a running node or on macOS 15", function()
    local c = doctor_apple.local_network(info26, { nodes = nodes, probe = function() return true end })
    assert.equal("ok", c.status)
    c = doctor_apple.local_network(info26, { nodes = { { name = "x", role = "control-plane", state = "stopped" } },
      probe = function() error("must not probe") end })
    assert.same({ "ok", "no running node to probe" }, { c.status, c.message })
    c = doctor_apple.local_network(info26, { nodes = nodes, cluster = "other", probe = function() error("must not probe") end })
    assert.same({ "ok", "no running node to probe" }, { c.status, c.message })
    c = doctor_apple.local_network({ macos = 15 }, { nodes = nodes, probe = function() error("must not probe") end })
    assert.equal("ok", c.status)
  end)

  it("probes with a real TCP connect: a listener and a refused port both count as reachable", function()
    local server = uv.new_tcp()
    assert(server:bind("127.0.0.1", 0))
    assert(server:listen(1, function() end))
    local port = server:getsockname().port
    assert.is_true(doctor.tcp_probe("127.0.0.1", port, 5))
    server:close()
    uv.run("nowait")
    assert.is_true(doctor.tcp_probe("127.0.0.1", port, 5))
    local ok, err = doctor.tcp_probe("not-an-ip", port, 5)
    assert.is_nil(ok)
    assert.truthy(err and err ~= "ETIMEDOUT", tostring(err))
  end)

  it("judges memory against the host and disk against kina's estimate", function()
    local model = { nodes = { { memory = "2G" }, { memory = "1536M" } } }
    local c = doctor.memory(model, 16 * 1024 ^ 3)
    assert.same({ "ok", "2 node(s) ask for 3.5 GiB; this host has 16.0 GiB" }, { c.status, c.message })
    assert.equal("warn", doctor.memory(model, 4 * 1024 ^ 3).status)
    c = doctor.memory(model, 2 * 1024 ^ 3)
    assert.equal("fail", c.status)
    assert.truthy(has(c.hint, "memory"))
    -- podman's or Docker's nodes (not of a set size): only the memory the config gave counts
    local defaulted = { nodes = { { memory = "2G", memory_given = false }, { memory = "1536M", memory_given = true } } }
    c = doctor.memory(defaulted, 16 * 1024 ^ 3, false)
    assert.same({ "ok", "1 node(s) ask for 1.5 GiB; this host has 16.0 GiB" }, { c.status, c.message })
    assert.equal("2 node(s) ask for 3.5 GiB; this host has 16.0 GiB", doctor.memory(defaulted, 16 * 1024 ^ 3, true).message)
    defaulted.nodes[2].memory_given = false
    c = doctor.memory(defaulted, 1024 ^ 3, false)
    assert.same({ "ok", "no node has a memory limit: the 2 node(s) share this host's memory, as kind's do" }, { c.status, c.message })
    assert.equal("ok", doctor.disk(model, 100 * 1024 ^ 3, "/Users/me").status)
    c = doctor.disk(model, 1024 ^ 3, "/Users/me")
    assert.equal("warn", c.status)
    assert.truthy(has(c.message, "1.0 GiB free at /Users/me"), c.message)
  end)

  it("reads the host's memory from /proc/meminfo when sysctl has no hw.memsize", function()
    local bytes = async.run(function(sched)
      return doctor.host_memory(sched, function(path)
        assert.equal("/proc/meminfo", path)
        return "MemTotal:       16384000 kB\nMemFree: 1 kB\n"
      end)
    end)
    -- on a Mac sysctl answers first; on Linux the injected /proc/meminfo does
    if uv.os_uname().sysname ~= "Darwin" then assert.equal(16384000 * 1024, bytes) end
  end)

  it("lists the host ports a config claims, leaving 0 (kina picks) out", function()
    local model = { networking = { api_server_address = "127.0.0.1", api_server_port = 6443 }, nodes = {
      { extra_port_mappings = { { host_port = 8080, listen_address = "0.0.0.0", protocol = "TCP" }, { host_port = 0 } } },
    } }
    assert.same({
      { address = "0.0.0.0", port = 8080, protocol = "tcp", field = "nodes[1].extraPortMappings[1]" },
      { address = "127.0.0.1", port = 6443, protocol = "tcp", field = "networking.apiServerPort" },
    }, doctor.host_ports(model))
  end)

  it("parses kernel file names and sizes", function()
    assert.equal("6.18.35", doctor_apple.kernel_release("vmlinux-6.18.35-197"))
    assert.equal("6.12.28", doctor_apple.kernel_release("/x/kernels/vmlinux-6.12.28-153"))
    assert.is_nil(doctor_apple.kernel_release("my-kernel"))
    assert.equal(2 * 1024 ^ 3, doctor.bytes("2G"))
    assert.equal(1536 * 1024 ^ 2, doctor.bytes("1536M"))
  end)
end)
