--- kina.json — JSON with explicit round-trips.
--
-- Decoding uses a private lua-cjson instance (`require("cjson").new()`), then fixes what
-- Debian's mpx build of lua-cjson gets wrong for kina:
--   * every number decodes as a float: integral values are turned back into integers
--     (`math.tointeger`), so `8080` stays `8080`, not `8080.0`;
--   * `[]` and `{}` both decode to an empty table: arrays (empty or not) get the metatable
--     `json.array_mt`, so `[]` re-encodes as `[]`;
--   * `null` is `json.null` (= cjson.null, a lightuserdata). Compare with it, never rely on
--     truthiness.
--
-- Encoding is written in Lua so the output is under kina's control: keys sorted (as Swift's
-- `JSONEncoder` with `.sortedKeys`), integers printed as integers, floats with the shortest
-- text that reads back to the same double, optional pretty printing in Foundation's style
-- (2-space indent, `"key" : value`) and optional `\/` escaping of `/` (Apple's CLI up to
-- 1.2.2 escapes slashes).
--
-- A table encodes as an array when it carries `json.array_mt` (see `json.array`) or when it
-- is a non-empty sequence 1..n with no other keys; any other table is an object, whose keys
-- must be strings. An empty unmarked table encodes as `{}`.
local cjson = require("cjson")

local json = {}

local decoder = cjson.new()
decoder.decode_invalid_numbers(false)
decoder.decode_max_depth(1000)

json.null = cjson.null

--- Metatable marking a table as a JSON array.
json.array_mt = { __name = "kina.json.array" }

--- Mark `t` (default: a new table) as a JSON array and return it.
-- @tparam[opt] table t
-- @treturn table t
function json.array(t)
  return setmetatable(t or {}, json.array_mt)
end

--- True when `t` is marked as a JSON array.
function json.is_array(t)
  return type(t) == "table" and getmetatable(t) == json.array_mt
end

-- A string no JSON document of kina's contains: stands in for an empty array so that cjson's
-- result can tell `[]` from `{}`.
local EMPTY = "\0kina.json:empty-array\0"
local EMPTY_JSON = '["\\u0000kina.json:empty-array\\u0000"]'

-- Rewrite every `[ ]` outside string literals to a one-element array holding EMPTY. Only the
-- pieces around a rewrite are copied: string literals are skipped, not cut out.
local function mark_empty_arrays(s)
  if not s:find("%[%s*%]") then return s end
  local out, n, last = {}, 0, 1
  local pos, len = 1, #s
  while true do
    local i = s:find('["%[]', pos)
    if not i then break end
    if s:byte(i) == 34 then -- '"': skip the string literal
      local j = i + 1
      while true do
        local k = s:find('["\\]', j)
        if not k then j = len + 1 break end
        if s:byte(k) == 92 then j = k + 2 else j = k + 1 break end
      end
      pos = j
    else
      local _, e = s:find("^%[%s*%]", i)
      if e then
        n = n + 1; out[n] = s:sub(last, i - 1)
        n = n + 1; out[n] = EMPTY_JSON
        last = e + 1
      end
      pos = (e or i) + 1
    end
  end
  n = n + 1; out[n] = s:sub(last)
  return table.concat(out)
end

local function normalise(v)
  local t = type(v)
  if t == "number" then
    return math.tointeger(v) or v
  elseif t ~= "table" then
    return v
  end
  local n = #v
  if n == 1 and v[1] == EMPTY then
    return json.array()
  end
  if n > 0 or next(v) == nil then
    -- cjson gives arrays consecutive integer keys and objects string keys only; an empty
    -- table here came from `{}` (empty arrays were rewritten to EMPTY above).
    if n > 0 then
      for i = 1, n do v[i] = normalise(v[i]) end
      return setmetatable(v, json.array_mt)
    end
    return v
  end
  for k, x in pairs(v) do v[k] = normalise(x) end
  return v
end

--- Decode a JSON text.
-- @tparam string s
-- @tparam[opt] table opts `empty_arrays = false` skips telling `[]` from `{}` (both become a
--   plain empty table): a reader that never re-encodes saves the pre-scan of the text
-- @return the value
-- @return[2] nil
-- @treturn[2] string error message
function json.decode(s, opts)
  if type(s) ~= "string" then
    error("json.decode: expected a string, got " .. type(s), 2)
  end
  if opts ~= nil and (type(opts) ~= "table" or (next(opts) and next(opts) ~= "empty_arrays")) then
    error("json.decode: options may only have 'empty_arrays'", 2)
  end
  local text = s
  if not (opts and opts.empty_arrays == false) then text = mark_empty_arrays(s) end
  local ok, v = pcall(decoder.decode, text)
  if not ok then
    return nil, tostring(v)
  end
  return normalise(v)
end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function escape_char(c)
  return escapes[c] or string.format("\\u%04x", c:byte())
end

local function encode_string(s, escape_slash)
  s = s:gsub('[%c"\\]', escape_char)
  if escape_slash then s = s:gsub("/", "\\/") end
  return '"' .. s .. '"'
end

local function encode_number(x)
  if math.type(x) == "integer" then
    return string.format("%d", x)
  end
  if x ~= x or x == math.huge or x == -math.huge then
    error("json.encode: cannot encode " .. tostring(x), 0)
  end
  -- Integral floats that fit an integer print without exponent or fraction.
  local i = math.tointeger(x)
  if i then return string.format("%d", i) end
  for prec = 15, 17 do
    local s = string.format("%." .. prec .. "g", x)
    if tonumber(s) == x then return s end
  end
  return string.format("%.17g", x)
end

local function is_sequence(t)
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local function encode_value(v, opts, indent, out, seen)
  local t = type(v)
  if v == nil or v == json.null then
    out[#out + 1] = "null"
  elseif t == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif t == "number" then
    out[#out + 1] = encode_number(v)
  elseif t == "string" then
    out[#out + 1] = encode_string(v, opts.escape_slash)
  elseif t == "table" then
    if seen[v] then error("json.encode: cycle in table", 0) end
    seen[v] = true
    local pretty = opts.pretty
    local inner = pretty and (indent .. "  ") or ""
    local nl = pretty and "\n" or ""
    if getmetatable(v) == json.array_mt or is_sequence(v) then
      local n = #v
      if n == 0 then
        out[#out + 1] = "[]"
      else
        out[#out + 1] = "[" .. nl
        for i = 1, n do
          out[#out + 1] = inner
          encode_value(v[i], opts, inner, out, seen)
          out[#out + 1] = (i < n and "," or "") .. nl
        end
        out[#out + 1] = (pretty and indent or "") .. "]"
      end
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" then
          error("json.encode: object key must be a string, got " .. type(k) .. " (" .. tostring(k) .. ")", 0)
        end
        keys[#keys + 1] = k
      end
      table.sort(keys)
      if #keys == 0 then
        out[#out + 1] = "{}"
      else
        local sep = pretty and " : " or ":"
        out[#out + 1] = "{" .. nl
        for i, k in ipairs(keys) do
          out[#out + 1] = inner .. encode_string(k, opts.escape_slash) .. sep
          encode_value(v[k], opts, inner, out, seen)
          out[#out + 1] = (i < #keys and "," or "") .. nl
        end
        out[#out + 1] = (pretty and indent or "") .. "}"
      end
    end
    seen[v] = nil
  else
    error("json.encode: cannot encode a " .. t, 0)
  end
end

local encode_fields = { pretty = "boolean", escape_slash = "boolean" }

--- Encode a value as JSON text.
-- @param v value (nil and json.null encode as null)
-- @tparam[opt] table opts `{pretty = bool, escape_slash = bool}`
-- @treturn string
function json.encode(v, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("json.encode: options must be a table", 2) end
  for k, x in pairs(opts) do
    local want = encode_fields[k]
    if not want then error("json.encode options: unknown field '" .. tostring(k) .. "'", 2) end
    if type(x) ~= want then
      error("json.encode options: field '" .. k .. "' must be a " .. want .. ", not " .. type(x), 2)
    end
  end
  local out = {}
  encode_value(v, opts, "", out, {})
  return table.concat(out)
end

return json
