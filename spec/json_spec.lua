local json = require("kina.json")

describe("kina.json", function()
  describe("decode", function()
    it("normalises integral numbers to integers and keeps fractions as floats", function()
      local v = json.decode('{"port": 8080, "ratio": 0.5, "big": 1234567890123}')
      assert.are.equal("integer", math.type(v.port))
      assert.are.equal(8080, v.port)
      assert.are.equal("float", math.type(v.ratio))
      assert.are.equal(1234567890123, v.big)
      assert.are.equal("integer", math.type(v.big))
    end)

    it("marks arrays, keeps empty arrays distinct from empty objects", function()
      local v = json.decode('{"a": [], "o": {}, "n": [1, [ ], {"x": []}], "s": "[]"}')
      assert.is_true(json.is_array(v.a))
      assert.are.equal(0, #v.a)
      assert.is_false(json.is_array(v.o))
      assert.is_nil(next(v.o))
      assert.is_true(json.is_array(v.n))
      assert.is_true(json.is_array(v.n[2]))
      assert.is_true(json.is_array(v.n[3].x))
      assert.are.equal("[]", v.s)
      assert.are.equal('{"a":[],"n":[1,[],{"x":[]}],"o":{},"s":"[]"}', json.encode(v))
    end)

    it("does not touch brackets inside strings, including escaped quotes", function()
      local v = json.decode('["a\\"[ ]", "[]\\\\", []]')
      assert.are.equal('a"[ ]', v[1])
      assert.are.equal("[]\\", v[2])
      assert.is_true(json.is_array(v[3]))
    end)

    it("decodes null as json.null and reads escaped slashes", function()
      local v = json.decode('{"x": null, "ip": "192.168.64.3\\/24"}')
      assert.are.equal(json.null, v.x)
      assert.are.equal("192.168.64.3/24", v.ip)
    end)

    it("returns nil and a message for invalid input", function()
      local v, err = json.decode("{not json")
      assert.is_nil(v)
      assert.is_string(err)
      assert.has_error(function() json.decode(42) end)
    end)
  end)

  describe("encode", function()
    it("sorts keys and prints integers as integers", function()
      assert.are.equal('{"a":1,"b":{"c":2,"d":[true,false,null]}}',
        json.encode({ b = { d = { true, false, json.null }, c = 2 }, a = 1 }))
    end)

    it("prints integral floats without exponent and other floats round-trip exactly", function()
      assert.are.equal("100000000000000", json.encode(1e14))
      assert.are.equal("0.1", json.encode(0.1))
      assert.are.equal("776278934.123456", json.encode(776278934.123456))
      local x = 1 / 3
      assert.are.equal(x, tonumber(json.encode(x)))
      assert.has_error(function() json.encode(0 / 0) end)
    end)

    it("escapes control characters, quotes and optionally slashes", function()
      assert.are.equal('"a\\"b\\\\c\\n\\u0001/"', json.encode('a"b\\c\n\1/'))
      assert.are.equal('"\\/usr\\/local\\/"', json.encode("/usr/local/", { escape_slash = true }))
    end)

    it("encodes marked empty arrays as [] and empty plain tables as {}", function()
      assert.are.equal('{"a":[],"o":{}}', json.encode({ a = json.array(), o = {} }))
    end)

    it("pretty prints in Foundation's style", function()
      local s = json.encode({ { id = "x", n = json.array({ 1, 2 }), e = json.array(), o = { k = "v" } } },
        { pretty = true })
      assert.are.equal(table.concat({
        "[",
        "  {",
        '    "e" : [],',
        '    "id" : "x",',
        '    "n" : [',
        "      1,",
        "      2",
        "    ],",
        '    "o" : {',
        '      "k" : "v"',
        "    }",
        "  }",
        "]",
      }, "\n"), s)
    end)

    it("rejects mixed tables, non-string keys, cycles and unknown options", function()
      assert.has_error(function() json.encode({ 1, 2, x = 3 }) end)
      local t = {}; t.self = t
      assert.has_error(function() json.encode(t) end)
      assert.has_error(function() json.encode({}, { prety = true }) end, "json.encode options: unknown field 'prety'")
      assert.has_error(function() json.encode({}, { pretty = 1 }) end)
    end)

    it("can skip telling empty arrays from empty objects, for readers", function()
      local v = json.decode('{"a":[],"b":{},"c":[1,2],"d":"[]","n":8080}', { empty_arrays = false })
      assert.same({}, v.a)
      assert.is_false(json.is_array(v.a))
      assert.same({ 1, 2 }, v.c)
      assert.equal("[]", v.d)
      assert.equal(8080, v.n)
      assert.equal("integer", math.type(v.n))
      assert.has_error(function() json.decode("{}", { fast = true }) end, "json.decode: options may only have 'empty_arrays'")
    end)

    it("does not touch the global table", function()
      local before = {}
      for k in pairs(_G) do before[k] = true end
      json.encode(json.decode('{"a":[1,{"b":[]}]}'))
      for k in pairs(_G) do assert.is_true(before[k], "new global " .. tostring(k)) end
    end)
  end)
end)
