local S = dofile("spec/sim_support.lua")

describe("container simulator: CLI surface", function()
  local sim
  before_each(function() sim = S.sim() end)
  after_each(function() sim.cleanup() end)

  it("prints --version per release, exit 0", function()
    local r = sim.run("--version")
    assert.are.equal(0, r.code)
    assert.are.equal("container CLI version 1.2.2 (build: release, commit: 0190097)\n", r.out)
    r = sim.with({ KINA_SIM_VERSION = "0.8.0" })("--version")
    assert.are.equal("container CLI version 0.8.0 (build: release, commit: a18df81)\n", r.out)
    r = sim.with({ KINA_SIM_VERSION = "9.9.9" })("--version")
    assert.are.equal("container CLI version 9.9.9 (build: release, commit: unspeci)\n", r.out)
    -- after the mirror only 1.5.0's short commit is known (updates-2026-12 §1)
    r = sim.with({ KINA_SIM_VERSION = "1.5.0" })("--version")
    assert.are.equal("container CLI version 1.5.0 (build: release, commit: d265d66)\n", r.out)
    for _, version in ipairs({ "1.3.0", "1.3.1", "1.4.1" }) do
      r = sim.with({ KINA_SIM_VERSION = version })("--version")
      assert.are.equal("container CLI version " .. version .. " (build: release, commit: unspeci)\n", r.out)
    end
  end)

  it("--scheme: auto until 1.3.0, then http|https with `unsupported scheme auto`, exit 1", function()
    for _, version in ipairs({ "1.2.2", "1.3.0", "1.3.1", "1.4.1", "1.5.0" }) do
      local run = sim.with({ KINA_SIM_VERSION = version })
      local has_auto = version == "1.2.2"
      local n = version:gsub("%.", "")
      for _, argv in ipairs({
        { "image", "pull", "--scheme", "auto", "ghcr.io/a/b:" .. n },
        { "run", "-d", "--name", "r" .. n, "--scheme", "auto", "alpine" },
        { "create", "--name", "c" .. n, "--scheme", "auto", "alpine" },
      }) do
        local r = run(table.unpack(argv))
        if has_auto then
          assert.are.equal(0, r.code, argv[1])
        else
          assert.are.equal(1, r.code, argv[1])
          assert.are.equal("Error: unsupported scheme auto\n", r.err)
        end
      end
      assert.are.equal(0, run("image", "pull", "--scheme", "https", "ghcr.io/a/c:" .. n).code)
      local help = run("run", "--help").out
      assert.are.equal(has_auto, help:find("One of (http, https, auto)", 1, true) ~= nil)
      assert.are.equal(not has_auto, help:find("One of (http, https)", 1, true) ~= nil)
      local bad = run("image", "pull", "--scheme", "ftp", "ghcr.io/a/d:1")
      -- before 1.3.0 the value is one of three choices (a usage error); after, checked when used
      assert.are.equal(has_auto and 64 or 1, bad.code)
    end
  end)

  it("plain-HTTP registries: https fails from 1.3.0 unless --scheme http; KINA_SIM_HTTP_REGISTRIES names them", function()
    local ref = "localhost:5001/kindest/node:v1.35.5"
    local new = sim.with({ KINA_SIM_VERSION = "1.3.0" })
    local r = new("image", "pull", ref)
    assert.are.equal(1, r.code)
    assert.matches("^Error: handshakeFailed%(", r.err)
    r = new("run", "-d", "--name", "n130", "--cap-add", "ALL", "--masked-path", "NONE", "--read-only-path", "NONE", ref)
    assert.are.equal(1, r.code)
    assert.are.equal(0, new("image", "pull", "--scheme", "http", ref).code)
    -- present now: run does not contact the registry
    assert.are.equal(0, new("run", "-d", "--name", "n130", "--cap-add", "ALL", "--masked-path", "NONE",
      "--read-only-path", "NONE", ref).code)
    -- 1.2.2's auto sent localhost to http itself
    assert.are.equal(0, sim.with({ KINA_SIM_VERSION = "1.2.2" })("image", "pull", "127.0.0.1:5001/app:1").code)
    -- the switch: only the listed registries speak plain HTTP
    local listed = sim.with({ KINA_SIM_VERSION = "1.5.0", KINA_SIM_HTTP_REGISTRIES = "registry.lan:5000" })
    assert.are.equal(1, listed("image", "pull", "registry.lan:5000/app:1").code)
    assert.are.equal(0, listed("image", "pull", "--scheme", "http", "registry.lan:5000/app:1").code)
    assert.are.equal(0, listed("image", "pull", "localhost:5001/app:2").code)
  end)

  for _, flag in ipairs({ "--privileged", "--sysctl", "--hostname", "--restart" }) do
    it("rejects " .. flag .. " with the usage, exit 64", function()
      local r = sim.run("run", flag, "x", "alpine")
      assert.are.equal(64, r.code)
      assert.are.equal("", r.out)
      assert.are.equal("Error: Unknown option '" .. flag .. "'\nUsage: container run [<options>] <image> [<arguments> ...]\n" ..
        "  See 'container run --help' for more information.\n", r.err)
    end)
  end

  it("knows --masked-path/--read-only-path only from 1.2.1 and --cap-add only from 0.12", function()
    local r = sim.with({ KINA_SIM_VERSION = "1.2.0" })("run", "-d", "--masked-path", "NONE", "alpine")
    assert.are.equal(64, r.code)
    assert.matches("^Error: Unknown option '%-%-masked%-path'", r.err)
    r = sim.with({ KINA_SIM_VERSION = "1.2.0" })("create", "--read-only-path=NONE", "alpine")
    assert.matches("^Error: Unknown option '%-%-read%-only%-path'", r.err)
    r = sim.with({ KINA_SIM_VERSION = "0.11.0" })("run", "-d", "--cap-add", "ALL", "alpine")
    assert.are.equal(64, r.code)
    assert.matches("^Error: Unknown option '%-%-cap%-add'", r.err)
    r = sim.with({ KINA_SIM_VERSION = "0.12.0" })("run", "-d", "--name", "ok", "--cap-add", "ALL", "alpine")
    assert.are.equal(0, r.code)
  end)

  it("lists version-specific flags in run --help", function()
    local r = sim.run("run", "--help")
    assert.are.equal(0, r.code)
    assert.matches("%-%-cap%-add", r.out)
    assert.matches("%-%-masked%-path", r.out)
    r = sim.with({ KINA_SIM_VERSION = "1.1.0" })("run", "--help")
    assert.matches("%-%-cap%-add", r.out)
    assert.is_nil(r.out:find("--masked-path", 1, true))
  end)

  it("treats everything after the image as the process arguments", function()
    local r = sim.run("create", "--name", "pt", "alpine", "echo", "--name", "-d")
    assert.are.equal(0, r.code)
    local j = S.json.decode(sim.run("inspect", "pt").out)
    assert.are.same({ "--name", "-d" }, { table.unpack(j[1].configuration.initProcess.arguments) })
    assert.are.equal("echo", j[1].configuration.initProcess.executable)
  end)

  it("accepts --flag=value, combined short flags and repeatable options", function()
    local r = sim.run("run", "-d", "--name=combo", "-l", "a=1", "--label=b", "-e", "X=1", "-e", "Y=2", "alpine")
    assert.are.equal(0, r.code)
    local c = S.json.decode(sim.run("inspect", "combo").out)[1].configuration
    assert.are.same({ a = "1", b = "" }, c.labels)
    local env = table.concat(c.initProcess.environment, " ")
    assert.matches("X=1", env); assert.matches("Y=2", env)
  end)

  it("reports missing values and arguments as usage errors", function()
    local r = sim.run("run", "--name")
    assert.are.equal(64, r.code)
    assert.matches("^Error: Missing value for '%-%-name <name>'", r.err)
    r = sim.run("run", "-d")
    assert.are.equal(64, r.code)
    assert.matches("^Error: Missing expected argument '<image>'", r.err)
    r = sim.run("run", "--cpus", "two", "alpine")
    assert.are.equal(64, r.code)
    assert.matches("^Error: The value 'two' is invalid for '%-%-cpus <cpus>'", r.err)
  end)

  it("resolves aliases: ls, rm, i, s, n, cp", function()
    assert.are.equal(0, sim.run("run", "-d", "--name", "al", "alpine").code)
    assert.matches("al", sim.run("ls").out)
    assert.are.equal(0, sim.run("i", "ls").code)
    assert.matches("alpine", sim.run("image", "list").out)
    assert.are.equal(0, sim.run("s", "status").code)
    assert.are.equal(0, sim.run("n", "ls").code)
    assert.are.equal("al\n", sim.run("rm", "-f", "al").out)
    assert.are.equal("", sim.run("ls", "-a", "-q").out)
  end)

  it("has no network command on macOS 15 (plugin lookup, exit 64)", function()
    local r = sim.with({ KINA_SIM_MACOS = "15" })("network", "ls")
    assert.are.equal(64, r.code)
    assert.matches("^Error: Plugin 'container%-network' not found%.", r.err)
    r = sim.with({ KINA_SIM_MACOS = "15" })("run", "-d", "--network", "kind", "alpine")
    assert.are.equal(1, r.code)
    assert.are.equal("Error: non-default network configuration requires macOS 26 or newer\n", r.err)
  end)

  it("has copy only from 1.0 and prune only from 0.9", function()
    local r = sim.with({ KINA_SIM_VERSION = "0.12.3" })("cp", "a:/x", "/tmp/x")
    assert.are.equal(64, r.code)
    assert.matches("Plugin 'container%-cp' not found", r.err)
    assert.are.equal(64, sim.with({ KINA_SIM_VERSION = "0.8.0" })("prune").code)
    assert.are.equal(0, sim.with({ KINA_SIM_VERSION = "0.9.0" })("prune").code)
  end)
end)
