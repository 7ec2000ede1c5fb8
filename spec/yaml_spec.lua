-- kina.yaml: YAML text to Lua values and back through libyaml's event API, with the rules Go's
-- YAML (sigs.k8s.io/yaml, as client-go and kind read kubeconfigs and kubeadm patches) follows
-- where YAML 1.1 leaves a choice. Expected values that describe Go come from kubectl v1.32
-- (`kubectl config view -o json` of a kubeconfig holding them), the reader kina writes for.
local yaml = require "kina.yaml"
local lyaml = require "lyaml"

local MAP = { __name = "spec.map" }
local SEQ = { __name = "spec.seq" }

local function load1(text, opts) return yaml.load(text, opts)[1] end

local function marked(text, strict)
  return load1(text, { map_mt = MAP, seq_mt = SEQ, strict = strict })
end

local function is_array(t) return getmetatable(t) == SEQ end

local function fails(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error containing: " .. pattern)
  assert.truthy(tostring(err):find(pattern, 1, true), "\n" .. tostring(err) .. "\n  does not contain\n" .. pattern)
end

describe("kina.yaml.load", function()
  it("resolves plain scalars as YAML 1.1 does, base-60 forms excepted, and keeps quoted ones strings", function()
    local d = load1([[
nulls: [~, null, Null, NULL]
empty:
bools: [true, True, FALSE, yes, No, on, OFF]
ints: [0, 42, -7, +12, 0755, 0x1F, -0x10, 0b101, 1_000]
floats: [1.5, -0.25, 1e3, .5, 6.02e+23]
specials: [.inf, -.Inf, +.INF]
nan: .nan
strings: [1:20, 1:20.5, 2024-01-02, hello world, "true", '42', "", v1.2.3, 10.0.0.1]
]])
    for i = 1, 4 do assert.equal(yaml.null, d.nulls[i]) end
    assert.equal(yaml.null, d.empty)
    assert.same({ true, true, false, true, false, true, false }, d.bools)
    assert.same({ 0, 42, -7, 12, 493, 31, -16, 5, 1000 }, d.ints)
    for _, n in ipairs(d.ints) do assert.equal("integer", math.type(n)) end
    assert.same({ 1.5, -0.25, 1000.0, 0.5, 6.02e23 }, d.floats)
    for _, n in ipairs(d.floats) do assert.equal("float", math.type(n)) end
    assert.same({ math.huge, -math.huge, math.huge }, d.specials)
    assert.is_true(d.nan ~= d.nan)
    assert.same({ "1:20", "1:20.5", "2024-01-02", "hello world", "true", "42", "", "v1.2.3", "10.0.0.1" }, d.strings)
  end)

  it("converts explicitly tagged scalars and refuses text the tag cannot hold", function()
    local d = load1("a: !!str 5\nb: !!int 0x10\nc: !!float 1\nd: !!bool y\ne: !!null ''\nf: ! 12\ng: !!str\n")
    assert.equal("5", d.a)
    assert.equal(16, d.b)
    assert.equal(1.0, d.c)
    assert.equal("float", math.type(d.c))
    assert.is_true(d.d)
    assert.equal(yaml.null, d.e)
    assert.equal("12", d.f)
    assert.equal("", d.g)
    fails("conf:2:4: invalid tag:yaml.org,2002:int value 'abc'", yaml.load, "a: 1\nb: !!int abc\n", { source = "conf" })
  end)

  it("marks mappings and sequences with the metatables given, so {} and [] stay apart", function()
    local d = marked("a: {}\nb: []\nc: [{x: 1}]\n")
    assert.equal(MAP, getmetatable(d))
    assert.equal(MAP, getmetatable(d.a))
    assert.equal(SEQ, getmetatable(d.b))
    assert.equal(SEQ, getmetatable(d.c))
    assert.equal(MAP, getmetatable(d.c[1]))
    local plain = load1("a: {}\nb: []\n")
    assert.is_nil(getmetatable(plain.a))
    assert.is_nil(getmetatable(plain.b))
  end)

  it("makes mapping keys the strings Go's YAML makes of them for JSON", function()
    -- kubectl: {"1":…, "true":…, "31":…, "1.5":…, "100000":…, "1e+10":…, "1.234567e+06":…, "1e-05":…, "-0":…}
    local d = load1("{1: a, yes: b, 0x1F: c, 1.5: d, 100000.0: e, 1e10: f, 1234567.0: g, 0.00001: h, -0.0: i, 'x': j}")
    assert.same({ ["1"] = "a", ["true"] = "b", ["31"] = "c", ["1.5"] = "d", ["100000"] = "e",
      ["1e+10"] = "f", ["1.234567e+06"] = "g", ["1e-05"] = "h", ["-0"] = "i", x = "j" }, d)
    -- an alias to a scalar is a key too (kubectl reads `*k : x` as "key1": "x")
    assert.equal("x", load1("a: &k key1\n*k : x\n").key1)
    -- kubectl: "unsupported map key of type: %!s(<nil>)", "invalid map key: []interface {}{1}"
    fails("line 2, column 1: a mapping key may not be null", yaml.load, "a: 1\n~: x\n")
    fails("line 1, column 3: a mapping key must be a scalar, not a list", yaml.load, "? [1]\n: 2\n")
    fails("s:1:2: a mapping key must be a scalar, not a mapping", yaml.load, "{{a: 1}: 2}", { source = "s" })
  end)

  it("keeps the last value of a key set twice, or refuses it when strict", function()
    -- kubectl reads `current-context: a` then `current-context: b` as "b"
    assert.equal(2, load1("a: 1\nb: 0\na: 2\n").a)
    fails('patch:3:1: mapping key "a" appears twice', yaml.load, "a: 1\nb: 0\na: 2\n", { source = "patch", strict = true })
    -- `1` and `"1"` are the same key once keys are strings
    fails('line 1, column 8: mapping key "1" appears twice', yaml.load, "{1: a, '1': b}", { strict = true })
  end)

  it("ignores tags it does not know, or refuses them when strict", function()
    -- kubectl reads `t: !vault secret` as "secret"
    local d = load1("t: !vault secret\nm: !thing {a: 1}\nb: !!binary aGk=\n")
    assert.equal("secret", d.t)
    assert.same({ a = 1 }, d.m)
    assert.equal("aGk=", d.b)
    fails("line 1, column 4: YAML tag !vault is not supported here", yaml.load, "t: !vault secret\n", { strict = true })
    fails("line 1, column 4: YAML tag !thing is not supported here", yaml.load, "m: !thing {a: 1}\n", { strict = true })
    fails("YAML tag tag:yaml.org,2002:binary is not supported here", yaml.load, "b: !!binary aGk=\n", { strict = true })
    local ok = load1("m: !!map {a: !!seq [!!int 1]}\nn: ! x\n", { strict = true })
    assert.same({ m = { a = { 1 } }, n = "x" }, ok)
  end)

  it("copies every alias, keeping its marks, so no two places share a table", function()
    local d = marked("base: &b {list: [1, 2], name: x}\none: *b\ntwo: *b\n")
    assert.same(d.base, d.one)
    assert.are_not.equal(d.one, d.two)
    assert.are_not.equal(d.one.list, d.two.list)
    assert.equal(SEQ, getmetatable(d.one.list))
    assert.equal(MAP, getmetatable(d.two))
    d.one.list[1] = 99
    assert.equal(1, d.two.list[1])
    assert.equal(1, d.base.list[1])
    -- a scalar anchor; the anchor is per document
    assert.same({ a = "v", b = "v" }, load1("a: &s v\nb: *s\n"))
    fails("line 3, column 4: unknown alias *s", yaml.load, "a: &s v\n---\nb: *s\n")
  end)

  it("refuses an alias inside its own anchor, as go-yaml does", function()
    -- kubectl: "anchor 'self' value contains itself"
    fails("line 1, column 14: anchor &self contains itself", yaml.load, "q: &self {r: *self}\n")
    fails("line 2, column 8: unknown alias *nope", yaml.load, "a: 1\nb: [1, *nope]\n")
  end)

  it("merges `<<` mappings under the keys the mapping sets itself, earlier merged mappings first", function()
    local d = marked([[
a: &a {p: 1, q: 1}
b: &b {q: 2, r: 2}
one: {<<: *a, p: 9}
two: {p: 9, <<: *a}
list: {<<: [*a, *b], s: 3}
quoted: {'<<': x}
]])
    assert.same({ p = 9, q = 1 }, d.one)
    assert.same({ p = 9, q = 1 }, d.two)
    assert.same({ p = 1, q = 1, r = 2, s = 3 }, d.list)
    assert.equal(MAP, getmetatable(d.list))
    assert.same({ ["<<"] = "x" }, d.quoted)
    -- merged values are copies too
    d.one.q = 5
    assert.equal(1, d.a.q)
    -- a strict mapping does not count merged keys as set twice
    assert.same({ p = 9, q = 1 }, load1("a: &a {p: 1, q: 1}\nb: {<<: *a, p: 9}\n", { strict = true }).b)
    -- kubectl: "map merge requires map or sequence of maps as the value"
    fails("line 2, column 5: a merge key (<<) takes a mapping or a list of mappings", yaml.load, "a: 1\n<<: 3\n")
    fails("line 1, column 5: a merge key (<<) takes a mapping or a list of mappings", yaml.load, "<<: [{a: 1}, 2]\n")
  end)

  it("returns every document of the stream, empty ones as null", function()
    local docs = yaml.load("a: 1\n---\n--- ~\n---\n- x\n")
    assert.equal(4, #docs)
    assert.same({ a = 1 }, docs[1])
    assert.equal(yaml.null, docs[2])
    assert.equal(yaml.null, docs[3])
    assert.same({ "x" }, docs[4])
    assert.same({}, yaml.load(""))
    assert.same({}, yaml.load("# only a comment\n"))
    assert.same({ "just text" }, yaml.load("just text"))
  end)

  it("words libyaml's errors with the source, line and column, and its context", function()
    fails("conf.yaml:3:1: did not find expected node content (while parsing a flow node at line: 3, column: 1)",
      yaml.load, "apiVersion: v1\nclusters: [\n", { source = "conf.yaml" })
    fails("line 2, column 5: mapping values are not allowed in this context", yaml.load, "a: b\nc: d: e\n")
    fails("found character that cannot start any token", yaml.load, "a:\n\tb: 1\n")
  end)

  it("refuses misuse", function()
    fails("YAML text must be a string, got nil", yaml.load)
    fails("yaml.load options: unknown field 'strcit'", yaml.load, "a: 1", { strcit = true })
    fails("yaml.load options: field 'map_mt' must be a table, got string", yaml.load, "a: 1", { map_mt = "x" })
  end)
end)

describe("kina.yaml.dump", function()
  it("writes one document, keys sorted (strings, numbers, booleans), no document markers", function()
    assert.equal("a: 1\nb:\n- x\n- true\nc:\n  z: null\n  2: two\n  true: t\n",
      yaml.dump({ c = { z = yaml.null, [2] = "two", [true] = "t" }, b = { "x", true }, a = 1 }))
    assert.equal("x\n", yaml.dump("x"))
    assert.equal("- 1\n- 2\n", yaml.dump({ 1, 2 }))
  end)

  it("writes an empty table as {} and a table is_array picks as a sequence", function()
    assert.equal("a: {}\nb: []\nc: []\n", yaml.dump({ a = {}, b = setmetatable({}, SEQ), c = setmetatable({}, SEQ) },
      { is_array = is_array }))
    -- the default takes non-empty sequences 1..n, and nothing else, for sequences
    assert.equal("a:\n  1: x\n  3: z\nb: {}\n", yaml.dump({ a = { [1] = "x", [3] = "z" }, b = {} }))
  end)

  it("quotes strings that a YAML 1.1 reader or Go's YAML would take for something else", function()
    local tricky = { "true", "False", "yes", "off", "null", "~", "", "1", "-7", "0755", "0x1F", "0b11", "1_000",
      "1.5", "1e3", ".5", ".inf", "-.Inf", ".NaN", "1:20", "1:20.5", "2024-01-02", "2001-12-14t21:59:43.10-05:00",
      "<<", "=",
      -- go-yaml v2 (what kubectl and kubeadm read with) takes these for a bool or a number; a
      -- kubeconfig exec env `value: y` written plain makes kubectl fail to decode it
      "y", "Y", "n", "N", "0o17", "0O17", "0X1F", "0B1", "+1", "-.5", "1_0.5" }
    for _, s in ipairs(tricky) do
      local text = yaml.dump({ k = s })
      assert.equal("k: '" .. s .. "'\n", text)
      assert.equal(s, yaml.load(text)[1].k)
      assert.equal(s, lyaml.load(text).k)
    end
    -- as a key too: `<<` written plain would be a merge key
    assert.equal("'1': b\n'<<': a\n", yaml.dump({ ["<<"] = "a", ["1"] = "b" }))
  end)

  it("leaves plain what reads back as itself, and lets libyaml quote what plain cannot hold", function()
    assert.equal("a: hello world\nb: v1.2.3\nc: 10.0.0.1\nd: kina-control-plane\n",
      yaml.dump({ a = "hello world", b = "v1.2.3", c = "10.0.0.1", d = "kina-control-plane" }))
    local odd = { "a: b", "#c", " lead", "trail ", "tab\tx", "- x", "[x]", "{x}", "@x", "`x", "%x", "!x", "*x", "&x", "'q'", '"d"' }
    for _, s in ipairs(odd) do
      local text = yaml.dump({ k = s })
      assert.equal(s, yaml.load(text)[1].k, text)
      assert.equal(s, lyaml.load(text).k, text)
    end
  end)

  it("writes multi-line strings literal, and reads them back exactly", function()
    assert.equal("t: |\n  line1\n  line2\n", yaml.dump({ t = "line1\nline2\n" }))
    assert.equal("t: |-\n  a\n  b\n", yaml.dump({ t = "a\nb" }))
    for _, s in ipairs({ "a\nb\n", "a\n\nb", "\nlead", "  indented\nx\n", "x\n\n\n", "1.5\n2" }) do
      assert.equal(s, yaml.load(yaml.dump({ t = s }))[1].t)
    end
  end)

  it("writes integers as integers and floats with the shortest text that reads back", function()
    local nums = { 0, -12, 12345678901234, math.maxinteger, 0.1, 1 / 3, 1.5, 3.0, -0.0, 1e20, 1e-7, 2 ^ 53 + 0.0,
      123456789.123, math.huge, -math.huge }
    local text = yaml.dump(nums)
    assert.equal("- 0\n- -12\n- 12345678901234\n- 9223372036854775807\n- 0.1\n- 0.3333333333333333\n- 1.5\n"
      .. "- 3.0\n- -0.0\n- 1e+20\n- 1e-07\n- 9007199254740992.0\n- 123456789.123\n- .inf\n- -.inf\n", text)
    local back = yaml.load(text)[1]
    for i, n in ipairs(nums) do
      assert.equal(n, back[i])
      assert.equal(math.type(n), math.type(back[i]))
    end
    assert.is_true(yaml.load(yaml.dump(0 / 0))[1] ~= yaml.load(yaml.dump(0 / 0))[1])
  end)

  it("round-trips a document: load(dump(x)) is x, dump(load(text)) is stable", function()
    local doc = setmetatable({
      s = "true", n = 1, f = 1.5, b = false, e = "", z = yaml.null, t = "a\nb\n",
      l = setmetatable({ 1, "two", setmetatable({}, SEQ), setmetatable({}, MAP) }, SEQ),
      m = setmetatable({ ["k-1"] = setmetatable({ deep = setmetatable({ "x" }, SEQ) }, MAP) }, MAP),
    }, MAP)
    local text = yaml.dump(doc, { is_array = is_array })
    local back = marked(text)
    assert.same(doc, back)
    assert.equal(SEQ, getmetatable(back.l[3]))
    assert.equal(MAP, getmetatable(back.l[4]))
    assert.equal(text, yaml.dump(back, { is_array = is_array }))
  end)

  it("refuses what YAML cannot hold", function()
    fails("cannot write a function as YAML", yaml.dump, { a = print })
    local cycle = {}
    cycle.self = cycle
    fails("cannot write a table that contains itself as YAML", yaml.dump, cycle)
    fails("cannot write a table as a YAML mapping key", yaml.dump, { [{}] = 1 })
    fails("yaml.dump options: unknown field 'sort'", yaml.dump, {}, { sort = true })
    fails("yaml.dump options: field 'is_array' must be a function, got boolean", yaml.dump, {}, { is_array = true })
  end)
end)
