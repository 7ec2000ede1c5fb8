-- The simulator with Apple's services down (KINA_SIM_SYSTEM=stopped): each command's first
-- error line as Apple's code builds it (kina.sim.services_down cites the Swift), the hint
-- line, the exit status, and kina's classification of the text (kina.core.apple.error_cause).
local S = dofile("spec/sim_support.lua")
local apple = require("kina.core.apple")

local XPC = 'interrupted: "XPC connection error: Connection invalid"'
local HINT = "Ensure container system service has been started with `container system start`."

-- ≥0.10: the rewrapped error's message as it is; a nested client error first.
local function bare(first) return "Error: " .. first .. "\n" .. HINT .. "\n" end
local function wrapped(what) return 'internalError: "' .. what .. '" (cause: "' .. XPC .. '")' end

describe("container simulator: services down", function()
  local sim, dir
  before_each(function()
    sim = S.sim({ KINA_SIM_SYSTEM = "stopped" })
    dir = sim.dir
  end)
  after_each(function() sim.cleanup() end)

  -- every command the simulator has on 1.2.2 / macOS 26, with what stderr reads
  local function cases()
    local file = dir .. "/local.txt"
    local f = assert(io.open(file, "w")); f:write("x"); f:close()
    return {
      { { "list" }, bare(wrapped("failed to list containers")) },
      { { "ls", "--all", "--format", "json" }, bare(wrapped("failed to list containers")) },
      { { "inspect", "n1" }, bare(wrapped("failed to list containers")) },
      { { "start", "n1" }, bare(wrapped("failed to list containers")) },
      { { "exec", "n1", "true" }, bare(wrapped("failed to list containers")) },
      { { "prune" }, bare(wrapped("failed to list containers")) },
      { { "stop", "--all" }, bare(wrapped("failed to list containers")) },
      { { "stop", "a", "b" }, bare(wrapped("failed to stop container") .. "\n" .. wrapped("failed to stop container")) },
      { { "kill", "a" }, bare(wrapped("failed to kill container")) },
      { { "kill", "--all" }, bare(wrapped("failed to list containers")) },
      -- ContainerDelete: Array(Set(ids)), one line per distinct ID
      { { "delete", "a", "a", "b" }, bare(wrapped("failed to delete container") .. "\n" .. wrapped("failed to delete container")) },
      { { "rm", "--all" }, bare(wrapped("failed to list containers")) },
      { { "logs", "n1" }, bare(wrapped("failed to get logs for container n1")) },
      { { "copy", "n1:/etc/hosts", dir .. "/out" }, bare(wrapped("failed to copy from container n1")) },
      { { "cp", file, "n1:/tmp/" }, bare(wrapped("failed to copy into container n1")) },
      { { "run", "-d", "--name", "n1", "alpine" }, bare(XPC) },
      { { "create", "alpine" }, bare(XPC) },
      { { "image", "list" }, bare(XPC) },
      { { "image", "list", "--quiet", "--verbose" }, bare(XPC) }, -- 1.0+: the ping before validate
      { { "image", "inspect", "alpine" }, bare(XPC) },
      { { "image", "pull", "alpine" }, bare(XPC) },
      { { "image", "save", "alpine" }, bare(XPC) },
      { { "image", "save", "--output", dir .. "/a.tar", "alpine" }, bare(XPC) },
      { { "image", "load", "--input", file }, bare(XPC) },
      { { "image", "tag", "alpine", "other" }, bare(XPC) },
      { { "image", "delete", "alpine" }, bare(XPC) },
      { { "network", "list" }, bare(XPC) },
      { { "network", "create", "kind" }, bare(XPC) },
      { { "network", "inspect", "default" }, bare(XPC) },
      { { "network", "delete", "kind" }, bare(XPC) },
      { { "system", "kernel", "set", "--recommended" }, bare(XPC) },
      { { "system", "kernel", "set", "--binary", file }, bare(XPC) },
    }
  end

  it("fails each command with its own first line, the hint, exit 1, nothing on stdout", function()
    for _, c in ipairs(cases()) do
      local r = sim.run(table.unpack(c[1]))
      local what = table.concat(c[1], " ")
      assert.are.equal(1, r.code, what)
      assert.are.equal(c[2], r.err, what)
      assert.are.equal("", r.out, what)
      assert.are.equal("service_not_running", apple.error_cause(r.err, r.code), what)
    end
  end)

  it("has a case above for every command the simulator knows", function()
    local covered = {}
    for _, c in ipairs(cases()) do
      local words = {}
      for _, w in ipairs(c[1]) do
        if w:sub(1, 1) == "-" or w:find("/", 1, true) or w:find(":", 1, true) then break end
        words[#words + 1] = w
      end
      covered[table.concat(words, " ")] = true
    end
    local aliases = { ls = "list", rm = "delete", cp = "copy" }
    local canonical = {}
    for k in pairs(covered) do
      local first, rest = k:match("^(%S+)(.*)$")
      canonical[(aliases[first] or first) .. rest] = true
    end
    local own = { ["system status"] = true, ["system start"] = true, ["system stop"] = true, ["system version"] = true }
    for _, path in ipairs(require("kina.sim.services_down").paths()) do
      if not own[path] then
        local found = false
        for k in pairs(canonical) do
          if k == path or k:sub(1, #path + 1) == path .. " " then found = true end
        end
        assert.is_true(found, "no case for `" .. path .. "`")
      end
    end
  end)

  it("reads all of stdin before `image load` reaches the images service", function()
    local r = sim.run_in(string.rep("x", 200000), "image", "load")
    assert.are.equal(1, r.code)
    assert.are.equal(bare(XPC), r.err)
  end)

  it("runs each command's own checks before the service call", function()
    for _, c in ipairs{
      { { "stop" }, "Error: no containers specified and --all not supplied\n" },
      { { "kill", "--all", "a" }, "Error: explicitly supplied container IDs conflict with the --all flag\n" },
      { { "delete", "--all", "a" }, "Error: explicitly supplied container ID(s) conflict with the --all flag\n" },
      { { "image", "delete" }, "Error: no images specified and --all not supplied\n" },
      { { "network", "delete" }, "Error: no networks specified and --all not supplied\n" },
      { { "network", "delete", "--all", "kind" }, "Error: explicitly supplied network name(s) conflict with the --all flag\n" },
      { { "network", "create", "Bad_Name" }, "Error: invalid network name: Bad_Name\n" },
      { { "cp", dir .. "/missing", "n1:/tmp/" }, "Error: source path does not exist: " .. dir .. "/missing\n" },
      { { "cp", "n1:/a", "n2:/b" }, "Error: copying between containers is not supported\n" },
    } do
      local r = sim.run(table.unpack(c[1]))
      assert.are.equal(1, r.code, table.concat(c[1], " "))
      assert.are.equal(c[2], r.err, table.concat(c[1], " "))
    end
    -- ImageLoad: a missing --input fails before anything else, as with the services up
    local r = sim.run("image", "load", "--input", dir .. "/none.tar")
    assert.are.equal(1, r.code)
    assert.are.equal('file does not exist: ["path": ' .. dir .. '/none.tar]\n', r.err)
  end)

  it("answers system status, version and --version by itself", function()
    local r = sim.run("system", "status")
    assert.are.equal(1, r.code)
    assert.are.equal("apiserver is not running and not registered with launchd\n", r.out)
    -- SystemVersion: the server's row needs its ping, so only the CLI's, exit 0
    r = sim.run("system", "version", "--format", "json")
    assert.are.equal(0, r.code, r.err)
    local list = S.json.decode(r.out)
    assert.are.equal(1, #list)
    assert.are.equal("container", list[1].appName)
    r = sim.run("system", "version")
    assert.are.equal(0, r.code)
    assert.are.equal("COMPONENT  VERSION  BUILD    COMMIT\n"
      .. "container  1.2.2    release  0190097d06df0b9065f4c2d2c7873c649d81d493\n", r.out)
    assert.are.equal(0, sim.run("--version").code)
  end)

  describe("older releases", function()
    local function at(version) return sim.with({ KINA_SIM_VERSION = version }) end
    -- ≤0.9: the rewrapped error prints as `interrupted: "<description>\nEnsure …."`
    local function coded(first) return 'Error: interrupted: "' .. first .. "\n" .. HINT .. '"\n' end

    it("≤0.9 prints the rewrapped error in the coded form", function()
      local run = at("0.9.0")
      for _, c in ipairs{
        { { "list" }, coded(wrapped("failed to list containers")) },
        { { "run", "alpine" }, coded(XPC) },
        { { "image", "pull", "alpine" }, coded(XPC) },
        -- ContainerLogs ≤0.9: get first, rewrapped as invalidArgument with the error inline
        { { "logs", "n1" }, coded('invalidArgument: "failed to fetch container logs for n1: ' .. wrapped("failed to list containers") .. '"') },
      } do
        local r = run(table.unpack(c[1]))
        assert.are.equal(1, r.code, table.concat(c[1], " "))
        assert.are.equal(c[2], r.err, table.concat(c[1], " "))
        assert.are.equal("service_not_running", apple.error_cause(r.err, r.code))
      end
    end)

    it("stop, kill and delete list first until they act on IDs directly (0.11, 0.10, 0.11)", function()
      local listed = wrapped("failed to list containers")
      for _, c in ipairs{
        { "0.10.0", "stop", listed }, { "0.11.0", "stop", wrapped("failed to stop container") },
        { "0.9.0", "kill", nil }, { "0.10.0", "kill", wrapped("failed to kill container") },
        { "0.10.0", "delete", listed }, { "0.11.0", "delete", wrapped("failed to delete container") },
      } do
        local r = at(c[1])(c[2], "n1")
        local expected = c[3] and bare(c[3]) or coded(listed)
        assert.are.equal(expected, r.err, c[1] .. " " .. c[2])
      end
    end)

    it("before 1.0 image list validates and run checks --name before any service call", function()
      local r = at("0.12.3")("image", "list", "--quiet", "--format", "json")
      assert.are.equal(1, r.code)
      assert.are.equal("Error: cannot use flag --quiet or --verbose along with --format json\n", r.err)
      r = at("0.12.3")("run", "--name", "x", "alpine")
      assert.are.equal(1, r.code)
      assert.are.equal("Error: container ID x is not a valid container ID\n", r.err)
    end)

    it("before 1.0 image save prints each lookup failure on stdout and fails without the hint", function()
      local r = at("0.12.3")("image", "save", "alpine", "busybox")
      assert.are.equal(1, r.code)
      assert.are.equal("failed to get image for reference alpine: " .. XPC .. "\n"
        .. "failed to get image for reference busybox: " .. XPC .. "\n", r.out)
      assert.are.equal("Error: failed to save image(s)\n", r.err)
      r = at("0.9.0")("image", "load", "--input", dir .. "/none.tar")
      assert.are.equal(1, r.code)
      assert.are.equal("File does not exist " .. dir .. "/none.tar\n", r.out)
    end)
  end)
end)
