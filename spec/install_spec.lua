-- Installing kina: `luarocks make` into a tree and `make install PREFIX=...` each give a working
-- `kina` command and Lua modules that plain lua5.4 can require without creating globals.
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local root = sh("pwd"):gsub("\n$", "")
local work = sh("mktemp -d"):gsub("\n$", "")

-- Build from a copy of the sources, so LuaRocks' in-place objects never land in the checkout.
local function copy_sources()
  local src = work .. "/src"
  local out, code = sh(("mkdir -p %s && cd %s && cp -r core lua scripts examples kina-scm-1.rockspec Makefile %s/")
    :format(q(src), q(root), q(src)))
  assert(code == 0, out)
  return src
end

local function no_globals_check(env_setup)
  local probe = [[
    local before = {}
    for k in pairs(_G) do before[k] = true end
    local kina = require "kina"
    assert(type(kina.run) == "function", "kina.run")
    local r = kina.run(function(k) return k:exec{ argv = { "echo", "embedded" } } end)
    assert(r.stdout == "embedded\n", r.stdout)
    local added = {}
    for k in pairs(_G) do if not before[k] then added[#added + 1] = tostring(k) end end
    io.write(#added == 0 and "no globals" or ("globals: " .. table.concat(added, ",")))
  ]]
  return sh(("cd / && %s && lua5.4 -e %s"):format(env_setup, q(probe)))
end

describe("installation", function()
  teardown(function() sh("rm -rf " .. q(work)) end)

  describe("with luarocks make --deps-mode=none", function()
    local tree = os.getenv("KINA_ROCKTREE")
    local env
    setup(function()
      if tree then
        if tree:sub(1, 1) ~= "/" then tree = root .. "/" .. tree end
      else
        local src = copy_sources()
        tree = work .. "/tree"
        local out, code = sh(("cd %s && luarocks --lua-version=5.4 make --deps-mode=none --tree=%s kina-scm-1.rockspec")
          :format(q(src), q(tree)))
        assert(code == 0, out)
      end
      -- what a user of a non-default tree does: eval "$(luarocks path --tree=...)"
      env = ('eval "$(luarocks --lua-version=5.4 path --tree=%s)"'):format(q(tree))
    end)

    it("installs a kina command that runs", function()
      local out, code = sh(env .. " && kina version")
      assert.equal(0, code, out)
      assert.matches("^kina v%d+%.%d+%.%d+ Lua 5%.4 %a+/%w+\n$", out)
      local version = out
      out, code = sh(env .. " && kina --version")
      assert.equal(0, code, out)
      assert.equal(version, out)
      out, code = sh(env .. " && kina run " .. q(root .. "/examples/hello.lua"))
      assert.equal(0, code, out)
      assert.matches("3 commands in %d+ ms", out)
    end)

    it("lets plain lua5.4 require kina without creating globals", function()
      local out, code = no_globals_check(env)
      assert.equal(0, code, out)
      assert.equal("no globals", out)
    end)
  end)

  describe("with make install PREFIX=...", function()
    local prefix = work .. "/prefix"
    setup(function()
      local src = copy_sources()
      local out, code = sh(("make -C %s install PREFIX=%s BUILD=%s"):format(q(src), q(prefix), q(work .. "/build")))
      assert(code == 0, out)
    end)

    it("installs the host program, which finds its Lua tree and scripts", function()
      local out, code = sh("cd / && " .. q(prefix .. "/bin/kina") .. " version")
      assert.equal(0, code, out)
      assert.matches("^kina v", out)
      local version = out
      out, code = sh("cd / && " .. q(prefix .. "/bin/kina") .. " --version")
      assert.equal(0, code, out)
      assert.equal(version, out)
      out, code = sh("cd / && " .. q(prefix .. "/bin/kina") .. " run " .. q(root .. "/examples/hello.lua"))
      assert.equal(0, code, out)
    end)

    it("lets plain lua5.4 require kina without creating globals", function()
      local out, code = no_globals_check(("export LUA_PATH=%s LUA_CPATH=%s"):format(
        q(prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua;;"),
        q(prefix .. "/lib/lua/5.4/?.so;;")))
      assert.equal(0, code, out)
      assert.equal("no globals", out)
    end)
  end)
end)
