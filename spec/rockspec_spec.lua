-- The rockspec lists every C module and every workflow script, so `luarocks make` installs
-- what `make` builds.
local function lines(cmd)
  local out = {}
  local p = assert(io.popen(cmd))
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

describe("kina-scm-1.rockspec", function()
  local env = {}
  setup(function()
    local chunk = assert(loadfile("kina-scm-1.rockspec", "t", env))
    chunk()
  end)

  it("builds every core module", function()
    for _, path in ipairs(lines("ls core/*.c")) do
      local name = path:match("^core/(.+)%.c$")
      if name ~= "main" then
        local entry = env.build.modules["kina.core." .. name]
        assert.is_table(entry, "no rockspec entry for " .. path)
        assert.same({ path }, entry.sources)
      end
    end
  end)

  it("installs every workflow script as kina.scripts.<name>", function()
    for _, path in ipairs(lines("ls scripts/*.lua")) do
      local name = path:match("^scripts/(.+)%.lua$")
      assert.equal(path, env.build.modules["kina.scripts." .. name])
    end
  end)

  it("installs the kina launcher and declares what kina depends on", function()
    assert.equal("scripts/kina", env.build.install.bin.kina)
    assert.same({ "lua >= 5.4, < 5.5", "luv", "lua-cjson", "lyaml" }, env.dependencies)
    assert.equal("busted", env.test.type)
    assert.equal("3.0", env.rockspec_format)
  end)
end)
