-- The `kina` host (build/kina) and its CLI: version, help, run, and how errors are reported.
local build = os.getenv("KINA_BUILD") or "build"
local KINA = "./" .. build .. "/kina"

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Run kina with the given arguments; returns stdout, stderr, exit code.
local function kina(args, env)
  local errf = os.tmpname()
  local cmd = (env or "") .. " " .. KINA
  for _, a in ipairs(args) do cmd = cmd .. " " .. q(a) end
  local p = assert(io.popen(cmd .. " 2>" .. errf))
  local out = p:read("a")
  local _, _, code = p:close()
  local f = assert(io.open(errf))
  local err = f:read("a")
  f:close()
  os.remove(errf)
  return out, err, code
end

local function script(text)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

describe("kina (the host)", function()
  it("prints its version", function()
    local out, err, code = kina{ "version" }
    assert.equal(0, code, err)
    assert.matches("^kina v%d+%.%d+%.%d+ Lua 5%.4 %a+/%w+\n$", out)
  end)

  it("prints help for kina and for a command", function()
    local out, _, code = kina{ "help" }
    assert.equal(0, code)
    assert.matches("Usage:", out)
    assert.matches("version", out)
    assert.matches("run", out)
    out, _, code = kina{ "--help" }
    assert.equal(0, code)
    assert.matches("Commands:", out)
    out, _, code = kina{ "version", "--help" }
    assert.equal(0, code)
    assert.matches("^Usage: kina version", out)
    out, _, code = kina{ "help", "version" }
    assert.equal(0, code)
    assert.matches("^Usage: kina version", out)
  end)

  it("answers --version as `kina version` does, also after -v", function()
    local want = kina{ "version" }
    local out, err, code = kina{ "--version" }
    assert.equal(0, code, err)
    assert.equal(want, out)
    out, err, code = kina{ "-v", "--version" }
    assert.equal(0, code, err)
    assert.equal(want, out)
    assert.matches("%-%-version", (kina{ "--help" }))
  end)

  it("says the same of -v, -q and --name everywhere, and what --name defaults to in create", function()
    local args = require "kina.args"
    local top = kina{ "--help" }
    local create = kina{ "create", "cluster", "--help" }
    local delete = kina{ "delete", "cluster", "--help" }
    for _, text in ipairs{ top, create, delete } do
      assert.truthy(text:find(args.VERBOSE_HELP, 1, true), text)
      assert.truthy(text:find(args.QUIET_HELP, 1, true), text)
    end
    -- kina.cluster.new: --name, then $KINA_CLUSTER_NAME, then the config's name, then kina
    assert.truthy(create:find("default $KINA_CLUSTER_NAME, else the config's name, else kina", 1, true), create)
    -- the other commands have no config: --name, then $KINA_CLUSTER_NAME, then kina
    assert.truthy(delete:find("default $KINA_CLUSTER_NAME, else kina", 1, true), delete)
  end)

  it("answers usage errors with the usage and exit 2", function()
    local out, err, code = kina{}
    assert.equal(2, code)
    assert.matches("Usage:", err)
    out, err, code = kina{ "frobnicate", "cluster" }
    assert.equal(2, code)
    assert.matches('^ERROR: unknown command "frobnicate cluster" for "kina"', err)
    out, err, code = kina{ "create" }
    assert.equal(2, code)
    assert.matches('^ERROR: "kina create" needs a subcommand: one of cluster', err)
    out, err, code = kina{ "get", "pods" }
    assert.equal(2, code)
    assert.matches('^ERROR: unknown subcommand "pods" for "kina get": one of clusters, nodes, kubeconfig', err)
    out, err, code = kina{ "version", "--bogus" }
    assert.equal(2, code)
    assert.matches("ERROR: unknown flag: %-%-bogus", err)
    assert.matches("Usage: kina version", err)
    assert.equal("", out)
  end)

  describe("run", function()
    it("runs a script with arg set, ... passed and require 'kina' available", function()
      local path = script([[
        local kina = require "kina"
        local first = ...
        print(arg[0] ~= nil, arg[1], arg[2], first, type(kina.run))
        return 0
      ]])
      finally(function() os.remove(path) end)
      local out, err, code = kina{ "run", path, "a b", "c" }
      assert.equal(0, code, err)
      assert.equal("true\ta b\tc\ta b\tfunction\n", out)
    end)

    it("exits with the integer the script returns", function()
      local path = script("return 5")
      finally(function() os.remove(path) end)
      local _, _, code = kina{ "run", path }
      assert.equal(5, code)
    end)

    it("reports a Lua error as FILE:LINE: message and exit 1, with a traceback under -v", function()
      local path = script("local x = 1\nerror('it broke')\n")
      finally(function() os.remove(path) end)
      local _, err, code = kina{ "run", path }
      assert.equal(1, code)
      assert.equal("ERROR: " .. path .. ":2: it broke\n", err)
      _, err, code = kina{ "-v", "run", path }
      assert.equal(1, code)
      assert.matches("^ERROR: " .. path:gsub("%p", "%%%0") .. ":2: it broke\nstack traceback:", err)
    end)

    it("reports a syntax error and a missing file without crashing", function()
      local path = script("this is not lua")
      finally(function() os.remove(path) end)
      local _, err, code = kina{ "run", path }
      assert.equal(1, code)
      assert.matches("^ERROR: " .. path:gsub("%p", "%%%0") .. ":1: ", err)
      _, err, code = kina{ "run", "/nonexistent/kina.lua" }
      assert.equal(1, code)
      assert.matches("^ERROR: cannot open /nonexistent/kina.lua", err)
    end)

    it("needs a file", function()
      local _, err, code = kina{ "run" }
      assert.equal(2, code)
      assert.matches("kina run needs a script", err)
    end)
  end)

  it("runs the hello example: three commands at once", function()
    local out, err, code = kina{ "run", "examples/hello.lua" }
    assert.equal(0, code, err)
    assert.matches("%[1%] .*exit 0", out)
    assert.matches("%[3%] .*exit 3", out)
    assert.matches("3 commands in %d+ ms", out)
  end)

  it("finds its Lua tree from its own location, wherever it is run from", function()
    local root = io.popen("pwd"):read("l")
    local out, err, code = kina({ "version" }, "cd / &&")
    KINA = root .. "/" .. build .. "/kina"
    out, err, code = kina({ "version" }, "cd / &&")
    KINA = "./" .. build .. "/kina"
    assert.equal(0, code, err)
    assert.matches("^kina v", out)
  end)
end)
