-- kina.jsonpatch: RFC 7386 merge patches and RFC 6902 JSON patches on Lua tables.
local json = require "kina.json"
local jsonpatch = require "kina.jsonpatch"
local kubeadm = require "kina.kubeadm"
local lyaml = require "lyaml"
local toml = require "kina.toml"

-- JSON text as jsonpatch's data: kina.json marks arrays; its null becomes lyaml's
local function data(text)
  local function fix(v)
    if v == json.null then return lyaml.null end
    if type(v) ~= "table" then return v end
    for k, x in pairs(v) do v[k] = fix(x) end
    return v
  end
  return fix(json.decode(text))
end

-- canonical JSON of jsonpatch data (sorted keys; [] and {} apart), for comparing results
local function canon(v)
  local function plain(x)
    if x == lyaml.null then return json.null end
    if type(x) ~= "table" then return x end
    local out = jsonpatch.is_array(x) and json.array() or {}
    for k, y in pairs(x) do out[k] = plain(y) end
    return out
  end
  return json.encode(plain(v))
end

local function apply(doc, patch, label) return jsonpatch.apply(data(doc), data(patch), label) end

local function fails(pattern, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error matching " .. pattern)
  assert.truthy(tostring(err):find(pattern, 1, true), tostring(err))
  return err
end

describe("kina.jsonpatch.apply: RFC 6902 appendix A", function()
  local cases = {
    { "A.1 adding an object member", '{"foo":"bar"}', '[{"op":"add","path":"/baz","value":"qux"}]',
      '{"baz":"qux","foo":"bar"}' },
    { "A.2 adding an array element", '{"foo":["bar","baz"]}', '[{"op":"add","path":"/foo/1","value":"qux"}]',
      '{"foo":["bar","qux","baz"]}' },
    { "A.3 removing an object member", '{"baz":"qux","foo":"bar"}', '[{"op":"remove","path":"/baz"}]',
      '{"foo":"bar"}' },
    { "A.4 removing an array element", '{"foo":["bar","qux","baz"]}', '[{"op":"remove","path":"/foo/1"}]',
      '{"foo":["bar","baz"]}' },
    { "A.5 replacing a value", '{"baz":"qux","foo":"bar"}', '[{"op":"replace","path":"/baz","value":"boo"}]',
      '{"baz":"boo","foo":"bar"}' },
    { "A.6 moving a value", '{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}',
      '[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]',
      '{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}' },
    { "A.7 moving an array element", '{"foo":["all","grass","cows","eat"]}',
      '[{"op":"move","from":"/foo/1","path":"/foo/3"}]', '{"foo":["all","cows","eat","grass"]}' },
    { "A.8 testing a value: success", '{"baz":"qux","foo":["a",2,"c"]}',
      '[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]',
      '{"baz":"qux","foo":["a",2,"c"]}' },
    { "A.10 adding a nested member object", '{"foo":"bar"}',
      '[{"op":"add","path":"/child","value":{"grandchild":{}}}]', '{"child":{"grandchild":{}},"foo":"bar"}' },
    { "A.11 ignoring unrecognized elements", '{"foo":"bar"}',
      '[{"op":"add","path":"/baz","value":"qux","xyz":123}]', '{"baz":"qux","foo":"bar"}' },
    { "A.14 ~ escape ordering", '{"/":9,"~1":10}', '[{"op":"test","path":"/~01","value":10}]', '{"/":9,"~1":10}' },
    { "A.16 adding an array value", '{"foo":["bar"]}', '[{"op":"add","path":"/foo/-","value":["abc","def"]}]',
      '{"foo":["bar",["abc","def"]]}' },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      assert.equal(c[4], canon(apply(c[2], c[3])))
    end)
  end

  it("A.9 testing a value: error", function()
    fails('patch: operation 1 (test "/baz"): test failed: the value is "qux", not "bar"', function()
      apply('{"baz":"qux"}', '[{"op":"test","path":"/baz","value":"bar"}]')
    end)
  end)

  it("A.12 adding to a nonexistent target", function()
    fails('operation 1 (add "/baz/bat"): "" has no member "baz"', function()
      apply('{"foo":"bar"}', '[{"op":"add","path":"/baz/bat","value":"qux"}]')
    end)
  end)

  it("A.13 an operation with two op members is refused by the reader kina uses for patch text", function()
    fails('mapping key "op" appears twice', function()
      kubeadm.load_yaml('[{"op":"add","path":"/baz","value":"qux","op":"remove"}]')
    end)
  end)

  it("A.15 comparing strings and numbers: \"10\" is not 10", function()
    fails('operation 1 (test "/~01"): test failed: the value is 10, not "10"', function()
      apply('{"/":9,"~1":10}', '[{"op":"test","path":"/~01","value":"10"}]')
    end)
  end)
end)

describe("kina.jsonpatch.apply: pointers, arrays and errors", function()
  it("decodes ~1 before ~0 and reaches members whose names hold / and ~", function()
    assert.equal('{"a/b":1,"m~n":2,"~1":3}',
      canon(apply('{"a/b":0,"m~n":0,"~1":0}', [=[[
        {"op":"replace","path":"/a~1b","value":1},
        {"op":"replace","path":"/m~0n","value":2},
        {"op":"replace","path":"/~01","value":3}]]=])))
    assert.same({ "a/b", "m~n", "~1", "" }, jsonpatch.parse_pointer("/a~1b/m~0n/~01/", "path"))
    assert.same({}, jsonpatch.parse_pointer("", "path"))
    fails('from "x" is not a JSON pointer', function() jsonpatch.parse_pointer("x", "from") end)
  end)

  it("refuses pointers that do not start with / and bad ~ escapes", function()
    fails('operation 1 (add "a"): path "a" is not a JSON pointer', function()
      apply('{}', '[{"op":"add","path":"a","value":1}]')
    end)
    fails('"~" must be followed by 0 or 1', function() apply('{"a":1}', '[{"op":"remove","path":"/~2"}]') end)
    fails('"~" must be followed by 0 or 1', function() apply('{"a":1}', '[{"op":"remove","path":"/a~"}]') end)
  end)

  it("appends with -, inserts at the length, refuses past the end, leading zeros and - outside add", function()
    assert.equal('{"a":[1,2,3]}', canon(apply('{"a":[1,2]}', '[{"op":"add","path":"/a/2","value":3}]')))
    assert.equal('{"a":[0,1,2]}', canon(apply('{"a":[1,2]}', '[{"op":"add","path":"/a/0","value":0}]')))
    assert.equal('{"a":["x"]}', canon(apply('{"a":[]}', '[{"op":"add","path":"/a/-","value":"x"}]')))
    fails('index 3 is past the end of the array at "/a" (2 elements; use 2 or "-" to append)', function()
      apply('{"a":[1,2]}', '[{"op":"add","path":"/a/3","value":3}]')
    end)
    fails('"01" is not an index of the array at "/a"', function()
      apply('{"a":[1,2]}', '[{"op":"replace","path":"/a/01","value":3}]')
    end)
    fails('"-" is not an index of the array at "/a"', function()
      apply('{"a":[1,2]}', '[{"op":"remove","path":"/a/-"}]')
    end)
    fails('index 2 is out of range of the array at "/a" (2 elements)', function()
      apply('{"a":[1,2]}', '[{"op":"remove","path":"/a/2"}]')
    end)
  end)

  it("keeps an emptied array an array and an empty object an object", function()
    assert.equal('{"a":[],"b":{}}', canon(apply('{"a":[1],"b":{"c":1}}',
      '[{"op":"remove","path":"/a/0"},{"op":"remove","path":"/b/c"}]')))
  end)

  it("replaces and adds the whole document with the empty pointer", function()
    assert.equal('[1]', canon(apply('{"a":1}', '[{"op":"replace","path":"","value":[1]}]')))
    assert.equal('{"b":2}', canon(apply('{"a":1}', '[{"op":"add","path":"","value":{"b":2}}]')))
    fails('operation 1 (remove ""): the whole document cannot be removed', function()
      apply('{"a":1}', '[{"op":"remove","path":""}]')
    end)
  end)

  it("replace needs an existing target; remove too", function()
    fails('operation 1 (replace "/b"): "" has no member "b"', function()
      apply('{"a":1}', '[{"op":"replace","path":"/b","value":2}]')
    end)
    fails('operation 1 (remove "/a/b"): "/a" is 1, not an object or array', function()
      apply('{"a":1}', '[{"op":"remove","path":"/a/b"}]')
    end)
    fails('operation 1 (remove "/a/b/c/d"): "/a/b" is "s", not an object or array, so it has no "c"', function()
      apply('{"a":{"b":"s"}}', '[{"op":"remove","path":"/a/b/c/d"}]')
    end)
  end)

  it("move: to the same place is a no-op, into its own child is refused, from must exist", function()
    assert.equal('{"a":{"b":1}}', canon(apply('{"a":{"b":1}}', '[{"op":"move","from":"/a","path":"/a"}]')))
    fails('operation 1 (move "/a/b/c"): cannot move "/a/b" into its own child "/a/b/c"', function()
      apply('{"a":{"b":{}}}', '[{"op":"move","from":"/a/b","path":"/a/b/c"}]')
    end)
    fails('operation 1 (move "/y"): "" has no member "x"', function()
      apply('{"a":1}', '[{"op":"move","from":"/x","path":"/y"}]')
    end)
  end)

  it("copy makes a deep copy: changing the copy leaves the source", function()
    assert.equal('{"a":{"b":[1]},"c":{"b":[1,2]}}', canon(apply('{"a":{"b":[1]}}',
      '[{"op":"copy","from":"/a","path":"/c"},{"op":"add","path":"/c/b/-","value":2}]')))
  end)

  it("test compares deeply: arrays in order, objects by members, [] is not {}", function()
    assert.equal('{"a":{"x":[1,{"y":true}]}}', canon(apply('{"a":{"x":[1,{"y":true}]}}',
      '[{"op":"test","path":"/a","value":{"x":[1,{"y":true}]}}]')))
    fails("test failed", function() apply('{"a":[1,2]}', '[{"op":"test","path":"/a","value":[2,1]}]') end)
    fails("test failed", function() apply('{"a":[]}', '[{"op":"test","path":"/a","value":{}}]') end)
    fails("test failed", function() apply('{"a":{"b":1}}', '[{"op":"test","path":"/a","value":{"b":1,"c":2}}]') end)
    assert.equal('{"a":null}', canon(apply('{"a":null}', '[{"op":"test","path":"/a","value":null}]')))
  end)

  it("null is lyaml.null: a null value is added, not dropped", function()
    local out = apply('{}', '[{"op":"add","path":"/a","value":null}]')
    assert.equal(lyaml.null, out.a)
    assert.equal(lyaml.null, jsonpatch.null)
  end)

  it("names the label, the operation's index, op and path; malformed operations are refused", function()
    fails('kubeadmConfigPatchesJSON6902[2]: operation 3 (replace "/b")', function()
      apply('{"a":1}', '[{"op":"test","path":"/a","value":1},{"op":"add","path":"/c","value":1},{"op":"replace","path":"/b","value":2}]',
        "kubeadmConfigPatchesJSON6902[2]")
    end)
    fails('operation 1: op "frob" is not one of add, remove, replace, move, copy, test', function()
      apply('{}', '[{"op":"frob","path":"/a"}]')
    end)
    fails('operation 1 (add "/a"): needs a value', function() apply('{}', '[{"op":"add","path":"/a"}]') end)
    fails('operation 1 (copy "/a"): from must be a JSON pointer string', function() apply('{}', '[{"op":"copy","path":"/a"}]') end)
    fails('operation 1 (remove without a path)', function() apply('{}', '[{"op":"remove"}]') end)
    fails("patch: a JSON patch must be a list of operations", function() jsonpatch.apply({}, { op = "add" }) end)
    fails("operation 1: must be an object", function() apply('{}', '["add"]') end)
  end)

  it("is pure: the document is unchanged, even when a later operation fails", function()
    local doc = data('{"a":[1,2],"b":{"c":1}}')
    local out = jsonpatch.apply(doc, data('[{"op":"add","path":"/a/-","value":3},{"op":"remove","path":"/b/c"}]'))
    assert.equal('{"a":[1,2],"b":{"c":1}}', canon(doc))
    assert.equal('{"a":[1,2,3],"b":{}}', canon(out))
    assert.is_false(pcall(jsonpatch.apply, doc, data('[{"op":"remove","path":"/a/0"},{"op":"remove","path":"/x"}]')))
    assert.equal('{"a":[1,2],"b":{"c":1}}', canon(doc))
  end)

  it("works on TOML data: arrays keep kina.toml's mark, dates stay dates", function()
    local doc = toml.parse('a = [1]\nd = 1979-05-27T07:32:00Z\n')
    local out = jsonpatch.apply(doc, data('[{"op":"add","path":"/a/-","value":2},{"op":"test","path":"/a/0","value":1}]'))
    assert.equal('a = [1, 2]\nd = 1979-05-27T07:32:00Z\n', toml.encode(out))
  end)
end)

describe("kina.jsonpatch.merge: RFC 7386", function()
  -- RFC 7386 appendix A, in order
  local cases = {
    { '{"a":"b"}', '{"a":"c"}', '{"a":"c"}' },
    { '{"a":"b"}', '{"b":"c"}', '{"a":"b","b":"c"}' },
    { '{"a":"b"}', '{"a":null}', '{}' },
    { '{"a":"b","b":"c"}', '{"a":null}', '{"b":"c"}' },
    { '{"a":["b"]}', '{"a":"c"}', '{"a":"c"}' },
    { '{"a":"c"}', '{"a":["b"]}', '{"a":["b"]}' },
    { '{"a":{"b":"c"}}', '{"a":{"b":"d","c":null}}', '{"a":{"b":"d"}}' },
    { '{"a":[{"b":"c"}]}', '{"a":[1]}', '{"a":[1]}' },
    { '["a","b"]', '["c","d"]', '["c","d"]' },
    { '{"a":"b"}', '["c"]', '["c"]' },
    { '{"a":"foo"}', 'null', 'null' },
    { '{"a":"foo"}', '"bar"', '"bar"' },
    { '{"e":null}', '{"a":1}', '{"a":1,"e":null}' },
    { '[1,2]', '{"a":"b","c":null}', '{"a":"b"}' },
    { '{}', '{"a":{"bb":{"ccc":null}}}', '{"a":{"bb":{}}}' },
  }
  for i, c in ipairs(cases) do
    it(("appendix A example %d: %s + %s"):format(i, c[1], c[2]), function()
      assert.equal(c[3], canon(jsonpatch.merge(data(c[1]), data(c[2]))))
    end)
  end

  it("is pure and shares no table with its inputs", function()
    local target, patch = data('{"a":{"b":[1]},"c":1}'), data('{"a":{"d":2}}')
    local out = jsonpatch.merge(target, patch)
    assert.equal('{"a":{"b":[1],"d":2},"c":1}', canon(out))
    out.a.b[1] = 9
    assert.equal('{"a":{"b":[1]},"c":1}', canon(target))
    assert.equal('{"a":{"d":2}}', canon(patch))
  end)

  it("merges TOML tables keeping arrays arrays: an empty array in the patch replaces", function()
    local out = jsonpatch.merge(toml.parse('a = [1, 2]\n[x]\ny = 1\n'), toml.parse('a = []\n[x]\nz = 2\n'))
    assert.equal('a = []\n\n[x]\n  y = 1\n  z = 2\n', toml.encode(out))
  end)
end)
