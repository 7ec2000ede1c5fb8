-- kina.toml: TOML 1.0 read and written back (containerd's config.toml and the user's patches).
local toml = require "kina.toml"

local function parse(text)
  local t, err = toml.parse(text)
  assert(t, err)
  return t
end

local function parse_error(text)
  local t, err = toml.parse(text)
  assert.is_nil(t)
  return err
end

describe("kina.toml", function()
  describe("parse", function()
    it("reads tables, dotted and quoted keys as containerd's config uses them", function()
      local t = parse([[
# a comment
version = 2

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs" # trailing comment
[plugins.'io.containerd.cri.v1.images'.registry]
  config_path = '/etc/containerd/certs.d'
[a]
b.c = 1
"quoted key" = true
]])
      assert.are.equal(2, t.version)
      assert.are.equal("integer", math.type(t.version))
      assert.are.equal("overlayfs", t.plugins["io.containerd.grpc.v1.cri"].containerd.snapshotter)
      assert.are.equal("/etc/containerd/certs.d", t.plugins["io.containerd.cri.v1.images"].registry.config_path)
      assert.are.equal(1, t.a.b.c)
      assert.is_true(t.a["quoted key"])
    end)

    it("reads every kind of value", function()
      local t = parse([==[
s1 = "tab\tquote\"back\\slash\u00e9\U0001F600"
s2 = 'C:\no\escapes'
s3 = """
line one
line two \
    continued"""
s4 = '''
raw \n ''quoted'' '''
i = [+99, 42, 0, -17, 1_000, 0xDEAD_beef, 0o755, 0b1101]
f = [1.0, 3.1415, -0.01, 5e+22, 1e06, -2E-2, 6.626e-34, 224_617.445_991, inf, -inf]
b = [true, false]
d = [1979-05-27T07:32:00Z, 1979-05-27T00:32:00.999999-07:00, 1979-05-27T07:32:00, 1979-05-27, 07:32:00]
nested = [ [1, 2], ["a", 'b'], ] # trailing comma and comments
inline = { x = 1, y.z = "deep" }
empty = []
empty_inline = {}
]==])
      assert.are.equal("tab\tquote\"back\\slash\195\169\240\159\152\128", t.s1)
      assert.are.equal([[C:\no\escapes]], t.s2)
      assert.are.equal("line one\nline two continued", t.s3)
      assert.are.equal("raw \\n ''quoted'' ", t.s4)
      assert.are.same({ 99, 42, 0, -17, 1000, 0xDEADBEEF, 493, 13 }, { table.unpack(t.i) })
      for _, v in ipairs(t.i) do assert.are.equal("integer", math.type(v)) end
      assert.are.equal(5e22, t.f[4])
      assert.are.equal(224617.445991, t.f[8])
      assert.are.equal(math.huge, t.f[9])
      assert.are.equal(-math.huge, t.f[10])
      for _, v in ipairs(t.f) do assert.are.equal("float", math.type(v)) end
      assert.are.same({ true, false }, { table.unpack(t.b) })
      assert.is_true(toml.is_datetime(t.d[1]))
      assert.are.equal("1979-05-27T00:32:00.999999-07:00", tostring(t.d[2]))
      assert.are.equal("07:32:00", tostring(t.d[5]))
      assert.are.same({ "a", "b" }, { table.unpack(t.nested[2]) })
      assert.are.equal("deep", t.inline.y.z)
      assert.is_true(toml.is_array(t.empty))
      assert.is_false(toml.is_array(t.empty_inline))
    end)

    it("reads arrays of tables", function()
      local t = parse("[[mirror]]\nhost = 'a'\n[mirror.tls]\nskip = true\n[[mirror]]\nhost = 'b'\n")
      assert.are.equal(2, #t.mirror)
      assert.are.equal("a", t.mirror[1].host)
      assert.is_true(t.mirror[1].tls.skip)
      assert.are.equal("b", t.mirror[2].host)
    end)

    it("names the line and the reason of what TOML forbids", function()
      assert.are.equal("line 2: duplicate key a", parse_error("a = 1\na = 2\n"))
      assert.are.equal("line 3: table [a] is defined twice", parse_error("[a]\nb = 1\n[a]\n"))
      assert.matches("^line 1: \"overlayfs\" is not a TOML value %(strings need quotes%)", parse_error("snapshotter = overlayfs\n"))
      assert.are.equal("line 1: newline in a single-line string", parse_error('a = "open\n'))
      assert.are.equal("line 1: unterminated string", parse_error('a = "open'))
      assert.matches("^line 1: expected = after the key a", parse_error("a 1\n"))
      assert.matches("^line 1: unexpected", parse_error("a = 1 b = 2\n"))
      assert.matches("leading zeros", parse_error("a = 012\n"))
      assert.matches("is already a value, not a table", parse_error("a = 1\n[a.b]\n"))
      assert.matches("^line 2: table %[a%] is defined twice", parse_error("a.b = 1\n[a]\n"))
      assert.matches("bad escape", parse_error('a = "\\q"\n'))
      assert.matches("unterminated array", parse_error("a = [1, 2\n"))
    end)

    it("raises on misuse", function()
      assert.has_error(function() toml.parse(nil) end, "toml.parse: text must be a string")
    end)
  end)

  describe("encode", function()
    it("writes plain keys before sub-tables, sorted, and reads back the same", function()
      local doc = {
        version = 2,
        plugins = { ["io.containerd.grpc.v1.cri"] = { containerd = { snapshotter = "native" }, sandbox_image = "pause" } },
        oom_score = 0,
      }
      local text = toml.encode(doc)
      assert.are.equal(table.concat({
        "oom_score = 0",
        "version = 2",
        "",
        "[plugins]",
        "",
        '  [plugins."io.containerd.grpc.v1.cri"]',
        '    sandbox_image = "pause"',
        "",
        '    [plugins."io.containerd.grpc.v1.cri".containerd]',
        '      snapshotter = "native"',
        "",
      }, "\n"), text)
      assert.are.same(doc, parse(text))
    end)

    it("round-trips every value type", function()
      local text = [==[
a = "tab\t\"q\" é \u0001"
b = [1, 2.5, true, "x", [3], {k = "v"}]
c = 1979-05-27T07:32:00Z
e = []
f = 1e+100
g = -0.5
h = inf
[[arr]]
n = 1
[[arr]]
n = 2
[t]
]==]
      local first = parse(text)
      local written = toml.encode(first)
      local second = parse(written)
      assert.are.equal(written, toml.encode(second))
      assert.are.equal("tab\t\"q\" é \1", second.a)
      assert.are.equal(2.5, second.b[2])
      assert.are.equal("v", second.b[6].k)
      assert.are.equal("1979-05-27T07:32:00Z", tostring(second.c))
      assert.is_true(toml.is_array(second.e))
      assert.are.equal(1e100, second.f)
      assert.are.equal(2, second.arr[2].n)
      assert.are.same({}, second.t)
    end)

    it("writes floats as floats and integers as integers", function()
      assert.are.equal("a = 1.0\nb = 1\n", toml.encode{ a = 1.0, b = 1 })
      assert.are.equal("float", math.type(parse(toml.encode{ a = 3.0 }).a))
    end)

    it("writes unmarked Lua sequences (from YAML or JSON) as arrays", function()
      assert.are.equal('a = ["x", "y"]\n', toml.encode{ a = { "x", "y" } })
      assert.are.equal("[[t]]\n  n = 1\n\n[[t]]\n  n = 2\n", toml.encode{ t = { { n = 1 }, { n = 2 } } })
    end)

    it("refuses what TOML cannot hold, naming the key", function()
      local lyaml = require "lyaml"
      assert.has_error(function() toml.encode{ a = { b = lyaml.null } } end, "toml.encode: a.b is null, which TOML cannot hold")
      assert.has_error(function() toml.encode{ f = print } end, "toml.encode: f is a function, which TOML cannot hold")
      assert.has_error(function() toml.encode("x") end, "toml.encode: the document must be a table")
    end)
  end)
end)
