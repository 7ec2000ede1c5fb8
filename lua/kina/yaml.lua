--- kina.yaml — YAML text to Lua values and back, through libyaml's event parser and emitter
-- (the `yaml` module that ships with lyaml), for the YAML that Go programs read with
-- sigs.k8s.io/yaml: kubeconfigs (client-go) and kubeadm documents and patches (kind, kubeadm).
--
--   local docs = yaml.load(text, { source = path, map_mt = ..., seq_mt = ..., strict = true })
--   local text = yaml.dump(doc, { is_array = function(t) ... end })
--
-- lyaml.load/lyaml.dump are not used because they cannot tell `{}` from `[]` (both become an
-- empty table, written `[]`), dump keys in `pairs` order and frame documents with `---`/`...`.
--
-- Reading:
--   * Plain scalars resolve as YAML 1.1 does (lyaml's resolvers), minus the base-60 forms
--     (`1:20`), which Go's YAML reads as strings. Quoted scalars are strings.
--   * Explicit tags !!str, !!null, !!bool, !!int and !!float convert their text (lyaml's
--     explicit resolvers) or fail; `!` makes a string.
--   * Mapping keys are strings, as sigs.k8s.io/yaml makes them for JSON (yaml.go
--     convertToJSONableObject): a key read as true is "true", 0x1F is "31", 1e10 is "1e+10"
--     (Go's 32-bit shortest float text). A null, list or mapping key is an error, as there.
--   * Merge keys (`<<: *base`, `<<: [*a, *b]`) fill in the keys the mapping does not set
--     itself; of several merged mappings, the earlier wins.
--   * Every alias is a copy of its anchor's value, so no two places share a table (Go
--     decodes each alias into its own value); an alias inside its own anchor is an error, as
--     in go-yaml ("anchor 'x' value contains itself").
--   * Mappings get `opts.map_mt` and sequences `opts.seq_mt` as metatables (neither by
--     default); null is `yaml.null` (lyaml's).
--   * `opts.strict`: a key set twice in one mapping and a tag outside YAML's core schema
--     (str, null, bool, int, float, map, seq) are errors. Without it the last value of a key
--     wins and other tags leave the text a string, as Go's YAML (sigs.k8s.io/yaml's Unmarshal,
--     not UnmarshalStrict) reads them.
--   * Every document of the stream is returned, empty ones as `yaml.null`.
--   * Errors are "<source>:<line>:<col>: <problem>" ("line <l>, column <c>: <problem>"
--     without `opts.source`), libyaml's own included.
--
-- Writing: one document, no `---`/`...` markers, mapping keys sorted (strings, then numbers,
-- then booleans), block style. A table is a sequence when `opts.is_array(t)` says so (by
-- default: a non-empty sequence 1..n), else a mapping. A string is single-quoted when a YAML
-- 1.1 reader (base-60 included) would take it for something else, or Go's YAML for a date,
-- a merge key (`<<`) or the value key (`=`); a multi-line string is written literal (`|`);
-- floats are written with the shortest text that reads back to the same double.
--
-- Known differences from Go's YAML (go-yaml v2 resolve.go, checked with kubectl v1.32): plain
-- `y`, `Y`, `n`, `N` are booleans there and `0o17`, `0O17`, `0X1F`, `0B1` integers, but strings
-- here (and written back plain, so a string "y" or "0o17" written here reads in Go as true or
-- 15); `0x1.8p1` is a float here, a string there; integers past int64 are floats here, uint64
-- there; a key written before `<<` in the same mapping loses to the merged value there, wins
-- here (as YAML's merge spec and go-yaml v3 have it); `!!null x` and `!!int 1:20`, refused
-- there, are null and 80 here; `!!binary` text stays base64 here, is decoded there.
local lyaml = require "lyaml"
local libyaml = require "yaml" -- lyaml's libYAML binding
local explicit = require "lyaml.explicit"
local implicit = require "lyaml.implicit"
local functional = require "lyaml.functional"

local M = {}

--- The null of loaded documents (lyaml's); write it to get `null`.
M.null = lyaml.null

local isnull = functional.isnull

------------------------------------------------------------------------------------------------
-- Scalars

-- What a plain scalar reads as: YAML 1.1 minus base 60 (go-yaml v2 resolve.go has no base-60
-- numbers; it only quotes them when writing).
local resolve_plain = functional.anyof({
  implicit.null, implicit.octal, implicit.decimal, implicit.float, implicit.bool,
  implicit.inf, implicit.nan, implicit.hexadecimal, implicit.binary, functional.id,
})

-- Quoting on output uses every YAML 1.1 resolver: a string that any YAML 1.1 reader could
-- take for something else is quoted.
local resolve_any = functional.anyof({
  implicit.null, implicit.octal, implicit.decimal, implicit.float, implicit.bool,
  implicit.inf, implicit.nan, implicit.hexadecimal, implicit.binary, implicit.sexagesimal,
  implicit.sexfloat, functional.id,
})

-- Every YAML 1.1 null, bool, number, inf or nan either starts with a non-letter or is a word
-- of at most 5 letters (null, true, False, yes, off, ...): longer words are plain strings.
-- The resolvers above are slow pattern matchers; this keeps reading and writing fast.
local function plainly_string(s)
  return #s > 5 and s:find("^[%a/_]") ~= nil
end

local TAG = "tag:yaml.org,2002:"
local EXPLICIT = {
  [TAG .. "bool"] = explicit.bool,
  [TAG .. "float"] = explicit.float,
  [TAG .. "int"] = explicit.int,
  [TAG .. "null"] = explicit.null,
  [TAG .. "str"] = explicit.str,
}
local COLLECTION_TAG = { MAPPING_START = TAG .. "map", SEQUENCE_START = TAG .. "seq" }

-- Shortest decimal text that reads back to the same double, always recognisable as a float.
local function float_text(v)
  if v == math.huge then return ".inf" end
  if v == -math.huge then return "-.inf" end
  if v ~= v then return ".nan" end
  local s
  for digits = 15, 17 do
    s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then break end
  end
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end

local function float32(v) return (string.unpack("f", string.pack("f", v))) end

-- strconv.FormatFloat(v, 'g', -1, 32), the text sigs.k8s.io/yaml gives a float map key: the
-- shortest digits that read back to the same float32, in %e form when the exponent is below
-- -4 or at least 6 (Go's rule for the shortest form), else in %f form.
local function go_float32_text(v)
  if v ~= v then return ".nan" end
  if v == math.huge then return ".inf" end
  if v == -math.huge then return "-.inf" end
  local f = float32(v)
  local sign, digits, exp
  for n = 1, 9 do
    local s = string.format("%." .. (n - 1) .. "e", f)
    if float32(tonumber(s)) == f then
      local int, frac, e = s:match("^-?(%d)%.?(%d*)e([-+]%d+)$")
      sign, digits, exp = s:sub(1, 1) == "-" and "-" or "", int .. frac, tonumber(e)
      break
    end
  end
  if exp < -4 or exp >= 6 then
    local mantissa = #digits > 1 and (digits:sub(1, 1) .. "." .. digits:sub(2)) or digits
    return string.format("%s%se%s%02d", sign, mantissa, exp < 0 and "-" or "+", math.abs(exp))
  end
  local point = exp + 1 -- digits before the decimal point
  if point <= 0 then return sign .. "0." .. string.rep("0", -point) .. digits end
  if point >= #digits then return sign .. digits .. string.rep("0", point - #digits) end
  return sign .. digits:sub(1, point) .. "." .. digits:sub(point + 1)
end

------------------------------------------------------------------------------------------------
-- Reading

local LOAD_FIELDS = { source = "string", map_mt = "table", seq_mt = "table", strict = "boolean" }

local function check_load_options(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error("yaml.load options must be a table, got " .. type(opts), 3) end
  for k, v in pairs(opts) do
    local want = LOAD_FIELDS[k]
    if not want then error("yaml.load options: unknown field '" .. tostring(k) .. "'", 3) end
    if type(v) ~= want then
      error("yaml.load options: field '" .. k .. "' must be a " .. want .. ", got " .. type(v), 3)
    end
  end
  return opts
end

-- A marker for an anchor whose node is still being read: an alias to it would be a cycle.
local UNFINISHED = {}

--- The documents of a YAML stream (see the module comment for the rules and options).
-- @tparam string text
-- @tparam[opt] table opts `source` (names the text in errors), `map_mt`, `seq_mt`, `strict`
-- @treturn table the list of documents (an empty stream gives an empty list)
-- Raises "<source>:<line>:<col>: <problem>" for text it cannot read.
function M.load(text, opts)
  if type(text) ~= "string" then error("YAML text must be a string, got " .. type(text), 2) end
  opts = check_load_options(opts)
  local source, map_mt, seq_mt, strict = opts.source, opts.map_mt, opts.seq_mt, opts.strict == true
  local next_event = libyaml.parser(text)
  local event
  local anchors
  local is_mapping = setmetatable({}, { __mode = "k" }) -- which tables read are mappings
  local resolved = {} -- plain scalar text -> value: keys such as `name` repeat a lot

  local function fail(msg, ev)
    local mark = (ev or event or {}).start_mark
    if not mark then error((source and (source .. ": ") or "") .. msg, 0) end
    local at = source and string.format("%s:%d:%d: ", source, mark.line + 1, mark.column + 1)
      or string.format("line %d, column %d: ", mark.line + 1, mark.column + 1)
    error(at .. msg, 0)
  end

  -- libYAML's errors are raised by next_event; they are reworded once, below.
  local function advance()
    event = next_event()
    return event.type
  end

  -- Strict reading refuses tags beyond the core schema; `!` (non-specific) is always fine.
  local function check_tag(allowed)
    local tag = event.tag
    if strict and tag and tag ~= "!" and tag ~= allowed then
      fail("YAML tag " .. tag .. " is not supported here")
    end
  end

  local function scalar()
    local value, tag = event.value, event.tag
    local convert = tag and EXPLICIT[tag]
    if convert then
      local v = convert(value)
      if v == nil then fail("invalid " .. tag .. " value '" .. value .. "'") end
      return v
    end
    check_tag(nil)
    if tag or event.style ~= "PLAIN" then return value end
    if plainly_string(value) then return value end
    local v = resolved[value]
    if v == nil then
      v = resolve_plain(value)
      resolved[value] = v
    end
    return v
  end

  local function copy(v)
    if type(v) ~= "table" or isnull(v) then return v end
    local out = setmetatable({}, getmetatable(v))
    for k, x in pairs(v) do out[k] = copy(x) end
    is_mapping[out] = is_mapping[v]
    return out
  end

  -- The string sigs.k8s.io/yaml makes of a mapping key for JSON.
  local function key_string(key, ev)
    local t = type(key)
    if t == "string" then return key end
    if t == "boolean" then return tostring(key) end
    if math.type(key) == "integer" then return string.format("%d", key) end
    if t == "number" then return go_float32_text(key) end
    if isnull(key) then fail("a mapping key may not be null", ev) end
    fail("a mapping key must be a scalar, not a " .. (is_mapping[key] and "mapping" or "list"), ev)
  end

  local load_node

  local function mapping()
    check_tag(COLLECTION_TAG.MAPPING_START)
    local m = setmetatable({}, map_mt)
    is_mapping[m] = true
    local merges = {}
    while advance() ~= "MAPPING_END" do
      local key_event = event
      if event.type == "SCALAR" and event.style == "PLAIN" and event.value == "<<" and not event.tag then
        advance()
        local value_event = event
        local value = load_node()
        local sources = (type(value) == "table" and not isnull(value) and not is_mapping[value]) and value
          or { value }
        for _, src in ipairs(sources) do
          if type(src) ~= "table" or not is_mapping[src] then
            fail("a merge key (<<) takes a mapping or a list of mappings", value_event)
          end
          merges[#merges + 1] = src
        end
      else
        local key = key_string(load_node(), key_event)
        advance()
        if strict and m[key] ~= nil then
          fail(string.format("mapping key %q appears twice", key), key_event)
        end
        m[key] = load_node()
      end
    end
    for _, src in ipairs(merges) do
      for k, v in pairs(src) do
        if m[k] == nil then m[k] = v end
      end
    end
    return m
  end

  local function sequence()
    check_tag(COLLECTION_TAG.SEQUENCE_START)
    local s = setmetatable({}, seq_mt)
    while advance() ~= "SEQUENCE_END" do
      s[#s + 1] = load_node()
    end
    return s
  end

  load_node = function()
    local t = event.type
    if t == "ALIAS" then
      local v = anchors[event.anchor]
      if v == nil then fail("unknown alias *" .. tostring(event.anchor)) end
      if v == UNFINISHED then fail("anchor &" .. tostring(event.anchor) .. " contains itself") end
      return copy(v)
    end
    local anchor = event.anchor
    if anchor then anchors[anchor] = UNFINISHED end
    local v
    if t == "SCALAR" then
      v = scalar()
    elseif t == "MAPPING_START" then
      v = mapping()
    elseif t == "SEQUENCE_START" then
      v = sequence()
    else
      fail("unexpected YAML event " .. tostring(t))
    end
    if anchor then anchors[anchor] = v end
    return v
  end

  local docs = {}
  local ok, err = pcall(function()
    if advance() ~= "STREAM_START" then fail("expected the start of a YAML stream") end
    while advance() ~= "STREAM_END" do -- DOCUMENT_START
      anchors = {}
      advance()
      docs[#docs + 1] = load_node()
      if advance() ~= "DOCUMENT_END" then fail("expected the end of the document") end
    end
  end)
  if ok then return docs end
  -- libYAML says "<problem> at document: D, line: L, column: C\n<context>"; make it
  -- "<source>:L:C: <problem> (<context>)". Errors from fail() are already worded.
  local msg = tostring(err)
  local problem, line, column, rest = msg:match("^(.-) at document: %d+, line: (%d+), column: (%d+)(.*)$")
  if not problem then error(msg, 0) end
  local context = rest:match("^%s*\n%s*(.-)%s*$")
  local at = source and string.format("%s:%s:%s: ", source, line, column)
    or string.format("line %s, column %s: ", line, column)
  error(at .. problem .. (context and context ~= "" and (" (" .. context .. ")") or ""), 0)
end

------------------------------------------------------------------------------------------------
-- Writing

-- The words go-yaml v2 (sigs.k8s.io/yaml: kubectl, kubeadm, kind's patches) reads as booleans
-- (gopkg.in/yaml.v2 resolve.go), beyond YAML 1.1's lower/Title/UPPER true/false/yes/no/on/off.
local GO_YAML_V2_BOOLS = { y = true, Y = true, n = true, N = true }

-- Would go-yaml v2 read plain `s` as a number? It tries strconv.ParseInt(s, 0, 64) and
-- ParseFloat on plain scalars that start with a digit, a sign or a dot: Go's prefixes 0x, 0o,
-- 0b (either case) and `_` between digits included, which YAML 1.1 resolvers do not know.
local function go_number(s)
  if not s:find("^[-+.%d]") then return false end
  local bare = s:gsub("_", "")
  return tonumber(bare) ~= nil or bare:find("^[-+]?0[oO][0-7]+$") ~= nil or bare:find("^[-+]?0[bB][01]+$") ~= nil
end

local function needs_quotes(s)
  if plainly_string(s) then return false end
  if resolve_any(s) ~= s then return true end
  if GO_YAML_V2_BOOLS[s] or go_number(s) then return true end
  -- Go's YAML reads plain dates as timestamps and `<<` / `=` as special keys.
  return s:find("^%d%d%d%d%-%d%d?%-%d%d?") ~= nil or s == "<<" or s == "="
end

local KEY_TYPE_ORDER = { string = 1, number = 2, boolean = 3 }

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    return (KEY_TYPE_ORDER[ta] or 4) < (KEY_TYPE_ORDER[tb] or 4)
  end
  if ta == "string" or ta == "number" then return a < b end
  return tostring(a) < tostring(b)
end

--- Whether `t` is a non-empty sequence 1..n with no other keys (dump's default `is_array`).
local function is_sequence(t)
  if next(t) == nil then return false end
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  return n == #t
end
M.is_sequence = is_sequence

--- The YAML text of one document (see the module comment for the rules).
-- @param doc a table, string, number, boolean or `yaml.null`
-- @tparam[opt] table opts `is_array` (function(table) -> boolean: whether to write a sequence)
-- @treturn string
function M.dump(doc, opts)
  if opts ~= nil and type(opts) ~= "table" then error("yaml.dump options must be a table, got " .. type(opts), 2) end
  for k, v in pairs(opts or {}) do
    if k ~= "is_array" then error("yaml.dump options: unknown field '" .. tostring(k) .. "'", 2) end
    if type(v) ~= "function" then error("yaml.dump options: field 'is_array' must be a function, got " .. type(v), 2) end
  end
  local is_array = opts and opts.is_array or is_sequence
  local emitter = libyaml.emitter()
  local function emit(ev)
    local ok, err = emitter.emit(ev)
    if not ok then error("cannot write YAML: " .. tostring(err), 0) end
  end
  local function scalar(value, style)
    emit({ type = "SCALAR", value = value, style = style or "PLAIN",
      plain_implicit = true, quoted_implicit = true })
  end
  local open = {}
  local quote = {} -- needs_quotes results: keys repeat a lot
  local function node(v)
    local tv = type(v)
    if isnull(v) then
      scalar("null")
    elseif tv == "string" then
      local q = quote[v]
      if q == nil then
        q = needs_quotes(v)
        quote[v] = q
      end
      if q then
        scalar(v, "SINGLE_QUOTED")
      elseif v:find("\n", 1, true) then
        scalar(v, "LITERAL") -- libYAML falls back to double quotes when literal cannot hold it
      else
        scalar(v) -- libYAML quotes it itself when plain would not read back
      end
    elseif tv == "boolean" then
      scalar(v and "true" or "false")
    elseif tv == "number" then
      scalar(math.type(v) == "integer" and string.format("%d", v) or float_text(v))
    elseif tv == "table" then
      if open[v] then error("cannot write a table that contains itself as YAML", 0) end
      open[v] = true
      if is_array(v) then
        emit({ type = "SEQUENCE_START", style = "BLOCK", implicit = true })
        for _, item in ipairs(v) do node(item) end
        emit({ type = "SEQUENCE_END" })
      else
        local keys = {}
        for k in pairs(v) do
          if not KEY_TYPE_ORDER[type(k)] then
            error("cannot write a " .. type(k) .. " as a YAML mapping key", 0)
          end
          keys[#keys + 1] = k
        end
        table.sort(keys, key_less)
        emit({ type = "MAPPING_START", style = "BLOCK", implicit = true })
        for _, k in ipairs(keys) do
          node(k)
          node(v[k])
        end
        emit({ type = "MAPPING_END" })
      end
      open[v] = nil
    else
      error("cannot write a " .. tv .. " as YAML", 0)
    end
  end
  emit({ type = "STREAM_START", encoding = "UTF8" })
  emit({ type = "DOCUMENT_START", implicit = true })
  node(doc)
  emit({ type = "DOCUMENT_END", implicit = true })
  local ok, text = emitter.emit({ type = "STREAM_END" })
  if not ok then error("cannot write YAML: " .. tostring(text), 0) end
  return text
end

return M
