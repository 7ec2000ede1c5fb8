--- kina.jsonpatch — JSON merge patches (RFC 7386) and JSON patches (RFC 6902) on Lua tables.
--
-- The documents are Lua values as kina's YAML, JSON and TOML readers give them:
--   * null is `lyaml.null` (exported as `jsonpatch.null`): the kubeadm documents and patches are
--     YAML, loaded and dumped through lyaml, so its null is the one that round-trips;
--   * an array is a table marked with `kina.json.array_mt` or `kina.toml.array_mt` (copies keep
--     the mark they had), or an unmarked non-empty sequence 1..n. Mark empty arrays, or `[]`
--     and `{}` cannot be told apart;
--   * an object is an unmarked table (the empty one included);
--   * any other table with a metatable (lyaml.null, a TOML date) is an opaque value, copied by
--     reference and compared field by field;
--   * strings, numbers and booleans are themselves.
--
-- Both functions are pure: the inputs are never changed; the result shares no array or
-- object with them. Bad patches raise an error naming the operation (by its 1-based index)
-- and its path.

local json = require "kina.json"
local lyaml = require "lyaml"
local toml = require "kina.toml"

local M = {}

M.null = lyaml.null

local ARRAY_MARKS = { [json.array_mt] = true, [toml.array_mt] = true }

local function is_array(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  if mt then return ARRAY_MARKS[mt] == true end
  return v[1] ~= nil
end
M.is_array = is_array

local function is_object(v)
  return type(v) == "table" and getmetatable(v) == nil and v[1] == nil
end
M.is_object = is_object

-- lyaml.null, TOML dates, ...: tables that stand for one value
local function is_opaque(v)
  return type(v) == "table" and getmetatable(v) ~= nil and not ARRAY_MARKS[getmetatable(v)]
end

--- A deep copy of `v`: arrays keep their mark (unmarked ones get kina.json's), opaque values
-- are shared.
local function copy(v)
  if type(v) ~= "table" or is_opaque(v) then return v end
  if is_array(v) then
    local out = setmetatable({}, getmetatable(v) or json.array_mt)
    for i, x in ipairs(v) do out[i] = copy(x) end
    return out
  end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return out
end
M.copy = copy

--- Deep equality as RFC 6902 §4.6 defines it for `test`: same type; numbers by value; arrays
-- element by element; objects with the same members and equal values.
local function equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  if is_opaque(a) or is_opaque(b) then
    if getmetatable(a) ~= getmetatable(b) then return false end
  elseif is_array(a) ~= is_array(b) then
    return false
  end
  if is_array(a) then
    if #a ~= #b then return false end
    for i = 1, #a do if not equal(a[i], b[i]) then return false end end
    return true
  end
  for k, x in pairs(a) do if not equal(x, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
M.equal = equal

--- RFC 7386 JSON merge patch: returns `target` with `patch` merged in (an object patch merges
-- member by member, a null member removes; anything else replaces the target).
local function merge(target, patch)
  if not is_object(patch) then return copy(patch) end
  local out = {}
  if is_object(target) then for k, v in pairs(target) do out[k] = v end end
  for k, v in pairs(patch) do
    if v == M.null then out[k] = nil else out[k] = merge(out[k], v) end
  end
  for k, v in pairs(out) do if patch[k] == nil then out[k] = copy(v) end end
  return out
end
M.merge = merge

-- A short JSON rendering of a value, for messages.
local function show(v)
  local function plain(x)
    if x == M.null then return json.null end
    if is_opaque(x) then return tostring(x) end
    if type(x) ~= "table" then return x end
    local out = is_array(x) and json.array() or {}
    for k, y in pairs(x) do out[k] = plain(y) end
    return out
  end
  local ok, text = pcall(json.encode, plain(v))
  text = ok and text or tostring(v)
  if #text > 80 then text = text:sub(1, 77) .. "..." end
  return text
end

---------------------------------------------------------------------------------------------
-- JSON pointers (RFC 6901)

-- A failure inside one operation; apply() adds the operation's index, op and path.
local function fail(fmt, ...) error({ jsonpatch = fmt:format(...) }, 0) end

--- The reference tokens of a JSON pointer: "" is the whole document, "/a/b" is {"a", "b"};
-- `~1` stands for `/` and `~0` for `~` (decoded in that order, RFC 6901 §4).
local function parse_pointer(pointer, field)
  if type(pointer) ~= "string" then fail("%s must be a JSON pointer string, not %s", field, show(pointer)) end
  if pointer == "" then return {} end
  if pointer:sub(1, 1) ~= "/" then
    fail("%s %q is not a JSON pointer: it must be empty or start with \"/\"", field, pointer)
  end
  local tokens = {}
  for raw in (pointer:sub(2) .. "/"):gmatch("([^/]*)/") do
    if raw:find("~[^01]") or raw:find("~$") then
      fail("%s %q: \"~\" must be followed by 0 or 1 (write ~0 for \"~\", ~1 for \"/\")", field, pointer)
    end
    tokens[#tokens + 1] = (raw:gsub("~1", "/"):gsub("~0", "~"))
  end
  return tokens
end
function M.parse_pointer(pointer, field)
  local ok, tokens = pcall(parse_pointer, pointer, field or "pointer")
  if not ok then error(type(tokens) == "table" and tokens.jsonpatch or tokens, 0) end
  return tokens
end

local function escape_token(token) return (token:gsub("~", "~0"):gsub("/", "~1")) end

local function pointer_of(tokens, n)
  local parts = {}
  for i = 1, n or #tokens do parts[i] = "/" .. escape_token(tokens[i]) end
  return table.concat(parts)
end

-- An array index token: "0" or digits without a leading zero (RFC 6901 §4); 0-based.
local function array_index(token, arr, tokens, n)
  if not token:match("^0$") and not token:match("^[1-9]%d*$") then
    fail("%q is not an index of the array at %q (indexes are 0, 1, ... without leading zeros)",
      token, pointer_of(tokens, n - 1))
  end
  return math.tointeger(tonumber(token))
end

-- The value the first n tokens point at; fails naming the missing step.
local function resolve(doc, tokens, n)
  local v = doc
  for i = 1, n do
    local token = tokens[i]
    if is_array(v) then
      local idx = array_index(token, v, tokens, i)
      if idx >= #v then
        fail("index %d is out of range of the array at %q (%d elements)", idx, pointer_of(tokens, i - 1), #v)
      end
      v = v[idx + 1]
    elseif is_object(v) then
      if v[token] == nil then
        fail("%q has no member %q", pointer_of(tokens, i - 1), token)
      end
      v = v[token]
    else
      fail("%q is %s, not an object or array, so it has no %q", pointer_of(tokens, i - 1), show(v), token)
    end
  end
  return v
end

-- The container that holds the target of `tokens`, and the last token.
local function parent_of(doc, tokens)
  local parent = resolve(doc, tokens, #tokens - 1)
  if not is_array(parent) and not is_object(parent) then
    fail("%q is %s, not an object or array", pointer_of(tokens, #tokens - 1), show(parent))
  end
  return parent, tokens[#tokens]
end

---------------------------------------------------------------------------------------------
-- The operations (RFC 6902 §4). Each takes the document (which apply() owns) and returns it.

local function add(doc, tokens, value)
  if #tokens == 0 then return value end
  local parent, last = parent_of(doc, tokens)
  if is_array(parent) then
    if last == "-" then
      parent[#parent + 1] = value
    else
      local idx = array_index(last, parent, tokens, #tokens)
      if idx > #parent then
        fail("index %d is past the end of the array at %q (%d elements; use %d or \"-\" to append)",
          idx, pointer_of(tokens, #tokens - 1), #parent, #parent)
      end
      table.insert(parent, idx + 1, value)
    end
  else
    parent[last] = value
  end
  return doc
end

local function remove(doc, tokens)
  if #tokens == 0 then fail("the whole document cannot be removed") end
  local parent, last = parent_of(doc, tokens)
  if is_array(parent) then
    local idx = array_index(last, parent, tokens, #tokens)
    if idx >= #parent then
      fail("index %d is out of range of the array at %q (%d elements)", idx, pointer_of(tokens, #tokens - 1), #parent)
    end
    local removed = table.remove(parent, idx + 1)
    -- a now-empty array must stay an array
    if getmetatable(parent) == nil and #parent == 0 then setmetatable(parent, json.array_mt) end
    return doc, removed
  end
  if parent[last] == nil then fail("%q has no member %q", pointer_of(tokens, #tokens - 1), last) end
  local removed = parent[last]
  parent[last] = nil
  return doc, removed
end

local function is_prefix(prefix, tokens)
  if #prefix >= #tokens then return false end
  for i = 1, #prefix do if prefix[i] ~= tokens[i] then return false end end
  return true
end

local OPS = {
  add = function(doc, op, path) return add(doc, path, copy(op.value)) end,
  remove = function(doc, _, path) return (remove(doc, path)) end,
  replace = function(doc, op, path)
    resolve(doc, path, #path) -- the target must exist (§4.3)
    if #path == 0 then return copy(op.value) end
    local parent, last = parent_of(doc, path)
    if is_array(parent) then
      parent[array_index(last, parent, path, #path) + 1] = copy(op.value)
    else
      parent[last] = copy(op.value)
    end
    return doc
  end,
  move = function(doc, op, path, from)
    if is_prefix(from, path) then
      fail("cannot move %q into its own child %q", op.from, op.path)
    end
    local value = resolve(doc, from, #from)
    if pointer_of(from) == pointer_of(path) then return doc end
    if #from == 0 then return value end
    doc = remove(doc, from)
    return add(doc, path, value)
  end,
  copy = function(doc, _, path, from)
    return add(doc, path, copy(resolve(doc, from, #from)))
  end,
  test = function(doc, op, path)
    local actual = resolve(doc, path, #path)
    if not equal(actual, op.value) then
      fail("test failed: the value is %s, not %s", show(actual), show(op.value))
    end
    return doc
  end,
}
local NEEDS_VALUE = { add = true, replace = true, test = true }
local NEEDS_FROM = { move = true, copy = true }

--- Apply an RFC 6902 patch: `ops` is an array of operations ({op, path, value} / {op, path,
-- from}), applied in order to a copy of `doc`; the result is returned. Raises (a string)
-- naming `label`, the operation's 1-based index, op and path when an operation is malformed,
-- its path does not exist, or a `test` fails; then no change is kept.
function M.apply(doc, ops, label)
  label = label or "patch"
  if not is_array(ops) and not (is_object(ops) and next(ops) == nil) then
    error(("%s: a JSON patch must be a list of operations, not %s"):format(label, show(ops)), 0)
  end
  local result = copy(doc)
  for i, op in ipairs(ops) do
    local where = ("%s: operation %d"):format(label, i)
    if not is_object(op) then error(("%s: must be an object like {op: add, path: /a, value: 1}, not %s"):format(where, show(op)), 0) end
    local name = op.op
    if OPS[name] == nil then
      error(("%s: op %s is not one of add, remove, replace, move, copy, test"):format(where, show(name)), 0)
    end
    where = ("%s (%s %s)"):format(where, name, type(op.path) == "string" and ("%q"):format(op.path) or "without a path")
    local ok, err = pcall(function()
      local path = parse_pointer(op.path, "path")
      if NEEDS_VALUE[name] and op.value == nil then fail("needs a value") end
      local from = NEEDS_FROM[name] and parse_pointer(op.from, "from")
      result = OPS[name](result, op, path, from)
    end)
    if not ok then
      if type(err) == "table" and err.jsonpatch then error(where .. ": " .. err.jsonpatch, 0) end
      error(err, 0)
    end
  end
  return result
end

return M
