--- kina.toml — TOML 1.0 read into Lua tables and written back, for containerd's config.
--
-- kind patches a node's /etc/containerd/config.toml by turning it into a map, merging the
-- user's patches and writing TOML again (kind pkg/internal/patch/toml.go: go-toml to JSON,
-- RFC 7386/6902, BurntSushi/toml to write). kina does the same on the host, so it needs both
-- directions. Like kind's round trip through JSON, comments and key order are not kept: keys
-- are written sorted, plain keys before sub-tables, as BurntSushi's encoder does.
--
--   local t = toml.parse(text)            -- or nil, "line 3: ..." on bad TOML
--   t.plugins["io.containerd.grpc.v1.cri"].containerd.snapshotter = "native"
--   local text = toml.encode(t)
--
-- Values: strings, integers (Lua integers), floats, booleans, arrays (tables marked with
-- toml.array_mt, so `[]` and `{}` stay apart) and tables. Dates and times are kept as
-- toml.datetime("1979-05-27T07:32:00Z") values and written back unchanged.

local M = {}

M.array_mt = { __name = "kina.toml.array" }
local datetime_mt = { __name = "kina.toml.datetime", __tostring = function(d) return d.text end }

function M.array(t) return setmetatable(t or {}, M.array_mt) end
function M.is_array(v) return type(v) == "table" and getmetatable(v) == M.array_mt end
function M.datetime(text) return setmetatable({ text = text }, datetime_mt) end
function M.is_datetime(v) return type(v) == "table" and getmetatable(v) == datetime_mt end

---------------------------------------------------------------------------------------------
-- Reading

local Parser = {}
Parser.__index = Parser

local function parse_error(p, msg)
  local line = 1
  for _ in p.text:sub(1, p.pos - 1):gmatch("\n") do line = line + 1 end
  error({ toml_error = ("line %d: %s"):format(line, msg) }, 0)
end

-- a character as an error shows it
local function shown(c)
  if c == "" then return "the end of the text" end
  if c == "\n" or c == "\r" then return "the end of the line" end
  return ("%q"):format(c)
end

function Parser:peek(n) return self.text:sub(self.pos, self.pos + (n or 1) - 1) end
function Parser:eof() return self.pos > #self.text end

-- spaces and tabs only (newlines are significant between key/value pairs)
function Parser:skip_blank()
  self.pos = self.text:find("[^ \t]", self.pos) or (#self.text + 1)
end

function Parser:skip_comment()
  if self:peek() == "#" then
    local nl = self.text:find("\n", self.pos, true)
    local body = self.text:sub(self.pos, (nl or #self.text + 1) - 1)
    if body:find("[%z\1-\8\11-\31\127]") then parse_error(self, "control character in a comment") end
    self.pos = nl or (#self.text + 1)
  end
end

-- the end of a line: blanks, an optional comment, then a newline or the end
function Parser:end_of_line()
  self:skip_blank()
  self:skip_comment()
  if self:eof() then return end
  if self:peek(2) == "\r\n" then self.pos = self.pos + 2
  elseif self:peek() == "\n" then self.pos = self.pos + 1
  else parse_error(self, ("unexpected %s after a value (one key/value pair per line)"):format(shown(self:peek()))) end
end

-- blanks, comments and newlines, as allowed inside arrays
function Parser:skip_space_and_comments()
  while true do
    self.pos = self.text:find("[^ \t\r\n]", self.pos) or (#self.text + 1)
    if self:peek() == "#" then self:skip_comment() else return end
  end
end

local ESCAPES = { b = "\b", t = "\t", n = "\n", f = "\f", r = "\r", ['"'] = '"', ["\\"] = "\\" }

local function utf8_char(p, hex)
  local code = tonumber(hex, 16)
  if not code or (code >= 0xD800 and code <= 0xDFFF) or code > 0x10FFFF then
    parse_error(p, "\\u" .. hex .. " is not a Unicode scalar value")
  end
  return utf8.char(code)
end

function Parser:basic_string()
  local multi = self:peek(3) == '"""'
  self.pos = self.pos + (multi and 3 or 1)
  if multi then
    -- a newline right after the opening delimiter is trimmed
    if self:peek(2) == "\r\n" then self.pos = self.pos + 2 elseif self:peek() == "\n" then self.pos = self.pos + 1 end
  end
  local out = {}
  while true do
    if self:eof() then parse_error(self, "unterminated string") end
    local c = self:peek()
    if multi and self:peek(3) == '"""' then
      -- up to two quotes may sit right before the closing delimiter
      local run = self.text:match('^"+', self.pos)
      if #run > 5 then parse_error(self, "too many quotes at the end of a multi-line string") end
      out[#out + 1] = run:sub(1, #run - 3)
      self.pos = self.pos + #run
      return table.concat(out)
    elseif not multi and c == '"' then
      self.pos = self.pos + 1
      return table.concat(out)
    elseif c == "\\" then
      local e = self.text:sub(self.pos + 1, self.pos + 1)
      if ESCAPES[e] then
        out[#out + 1] = ESCAPES[e]
        self.pos = self.pos + 2
      elseif e == "u" or e == "U" then
        local len = e == "u" and 4 or 8
        local hex = self.text:sub(self.pos + 2, self.pos + 1 + len)
        if not hex:match("^%x+$") or #hex ~= len then parse_error(self, "bad \\" .. e .. " escape") end
        out[#out + 1] = utf8_char(self, hex)
        self.pos = self.pos + 2 + len
      elseif multi and self.text:match("^\\[ \t]*\r?\n", self.pos) then
        -- a line-ending backslash trims the newline and the whitespace after it
        self.pos = self.text:find("[^ \t\r\n]", self.pos + 1) or (#self.text + 1)
      else
        parse_error(self, ("bad escape \\%s in a string"):format(e))
      end
    elseif c == "\n" and not multi then
      parse_error(self, "newline in a single-line string")
    elseif c:find("[%z\1-\8\11-\31\127]") and not (multi and c == "\r") then
      parse_error(self, "control character in a string (escape it)")
    else
      out[#out + 1] = c
      self.pos = self.pos + 1
    end
  end
end

function Parser:literal_string()
  local multi = self:peek(3) == "'''"
  if multi then
    local start = self.pos + 3
    if self.text:sub(start, start + 1) == "\r\n" then start = start + 2
    elseif self.text:sub(start, start) == "\n" then start = start + 1 end
    local close = self.text:find("'''", start, true)
    if not close then parse_error(self, "unterminated multi-line literal string") end
    local run = self.text:match("^'+", close)
    if #run > 5 then parse_error(self, "too many quotes at the end of a multi-line string") end
    local s = self.text:sub(start, close - 1) .. run:sub(1, #run - 3)
    self.pos = close + #run
    return s
  end
  local close = self.text:find("[\n']", self.pos + 1)
  if not close or self.text:sub(close, close) ~= "'" then parse_error(self, "unterminated literal string") end
  local s = self.text:sub(self.pos + 1, close - 1)
  if s:find("[%z\1-\8\10-\31\127]") then parse_error(self, "control character in a literal string") end
  self.pos = close + 1
  return s
end

-- a key: bare, quoted or dotted; returns the list of its parts
function Parser:key()
  local parts = {}
  while true do
    self:skip_blank()
    local c = self:peek()
    if c == '"' then
      if self:peek(3) == '"""' then parse_error(self, "a key cannot be a multi-line string") end
      parts[#parts + 1] = self:basic_string()
    elseif c == "'" then
      if self:peek(3) == "'''" then parse_error(self, "a key cannot be a multi-line string") end
      parts[#parts + 1] = self:literal_string()
    else
      local bare = self.text:match("^[A-Za-z0-9_%-]+", self.pos)
      if not bare then parse_error(self, ("expected a key, found %s"):format(shown(c))) end
      parts[#parts + 1] = bare
      self.pos = self.pos + #bare
    end
    self:skip_blank()
    if self:peek() ~= "." then return parts end
    self.pos = self.pos + 1
  end
end

local function display_key(parts)
  local out = {}
  for i, k in ipairs(parts) do out[i] = k:match("^[A-Za-z0-9_%-]+$") and k or ("%q"):format(k) end
  return table.concat(out, ".")
end

local DATETIME = {
  "^%d%d%d%d%-%d%d%-%d%d[Tt ]%d%d:%d%d:%d%d%.?%d*[Zz]",
  "^%d%d%d%d%-%d%d%-%d%d[Tt ]%d%d:%d%d:%d%d%.?%d*[%+%-]%d%d:%d%d",
  "^%d%d%d%d%-%d%d%-%d%d[Tt ]%d%d:%d%d:%d%d%.?%d*",
  "^%d%d%d%d%-%d%d%-%d%d",
  "^%d%d:%d%d:%d%d%.?%d*",
}

function Parser:number_or_date()
  for _, pat in ipairs(DATETIME) do
    local s = self.text:match(pat, self.pos)
    if s then
      self.pos = self.pos + #s
      return M.datetime(s)
    end
  end
  local word = self.text:match("^[%+%-]?[%w_%.%+%-]+", self.pos)
  if not word then parse_error(self, ("expected a value, found %s"):format(shown(self:peek()))) end
  self.pos = self.pos + #word
  local sign, body = word:match("^([%+%-]?)(.*)$")
  if body == "inf" then return sign == "-" and -math.huge or math.huge end
  if body == "nan" then return 0 / 0 end
  local function digits_ok(d, class)
    -- underscores only between digits
    return d ~= "" and not d:find("^_") and not d:find("_$") and not d:find("__", 1, true)
      and d:gsub("_", ""):match("^" .. class .. "+$") ~= nil
  end
  local prefix, rest = body:match("^0([xob])(.*)$")
  if prefix then
    if sign ~= "" then parse_error(self, word .. ": a sign is not allowed on hex, octal or binary integers") end
    local class = ({ x = "%x", o = "[0-7]", b = "[01]" })[prefix]
    if not digits_ok(rest, class) then parse_error(self, "bad integer " .. word) end
    local n = math.tointeger(tonumber(rest:gsub("_", ""), ({ x = 16, o = 8, b = 2 })[prefix]))
    if not n then parse_error(self, "integer out of range: " .. word) end
    return n
  end
  if digits_ok(body, "%d") then
    if body:match("^0%d") then parse_error(self, word .. ": leading zeros are not allowed") end
    local n = math.tointeger(tonumber(sign .. body:gsub("_", "")))
    if not n then parse_error(self, "integer out of range: " .. word) end
    return n
  end
  local int, frac, exp = body:match("^([%d_]+)%.?([%d_]*)[eE]?([%+%-]?[%d_]*)$")
  local has_dot, has_exp = body:find(".", 1, true), body:find("[eE]")
  if int and digits_ok(int, "%d") and (has_dot or has_exp) and not int:match("^0%d")
      and (not has_dot or digits_ok(frac, "%d")) and (not has_exp or digits_ok(exp:gsub("^[%+%-]", ""), "%d")) then
    return tonumber(sign .. body:gsub("_", "")) + 0.0
  end
  parse_error(self, ("%q is not a TOML value (strings need quotes)"):format(word))
end

function Parser:value()
  local c = self:peek()
  if c == '"' then return self:basic_string() end
  if c == "'" then return self:literal_string() end
  if c == "[" then return self:array_value() end
  if c == "{" then return self:inline_table() end
  if self.text:match("^true[^%w_%-]", self.pos) or self.text:sub(self.pos) == "true" then
    self.pos = self.pos + 4
    return true
  end
  if self.text:match("^false[^%w_%-]", self.pos) or self.text:sub(self.pos) == "false" then
    self.pos = self.pos + 5
    return false
  end
  return self:number_or_date()
end

function Parser:array_value()
  self.pos = self.pos + 1
  local out = M.array()
  while true do
    self:skip_space_and_comments()
    if self:peek() == "]" then
      self.pos = self.pos + 1
      return out
    end
    if self:eof() then parse_error(self, "unterminated array") end
    out[#out + 1] = self:value()
    self:skip_space_and_comments()
    local c = self:peek()
    if c == "" then parse_error(self, "unterminated array") end
    if c == "," then self.pos = self.pos + 1
    elseif c ~= "]" then parse_error(self, ("expected , or ] in an array, found %s"):format(shown(c))) end
  end
end

-- where a key path leads, creating tables; `defined` records tables that were explicitly made
-- (a header or an inline table) so a second definition is an error, as TOML requires
function Parser:descend(root, parts, upto, what)
  local t = root
  for i = 1, upto do
    local k = parts[i]
    local v = t[k]
    if v == nil then
      v = {}
      t[k] = v
    elseif M.is_array(v) and self.table_arrays[v] then
      v = v[#v]
    elseif type(v) ~= "table" or M.is_array(v) or M.is_datetime(v) or self.inline[v] then
      parse_error(self, ("%s: %s is already a value, not a table"):format(what, display_key({ table.unpack(parts, 1, i) })))
    end
    t = v
  end
  return t
end

function Parser:inline_table()
  self.pos = self.pos + 1
  local t = {}
  self:skip_blank()
  if self:peek() == "}" then
    self.pos = self.pos + 1
    self.inline[t] = true
    return t
  end
  while true do
    local parts = self:key()
    if self:peek() ~= "=" then parse_error(self, "expected = after the key " .. display_key(parts)) end
    self.pos = self.pos + 1
    self:skip_blank()
    local parent = self:descend(t, parts, #parts - 1, "inline table")
    local last = parts[#parts]
    if parent[last] ~= nil then parse_error(self, "duplicate key " .. display_key(parts)) end
    parent[last] = self:value()
    self:skip_blank()
    local c = self:peek()
    if c == "}" then
      self.pos = self.pos + 1
      self.inline[t] = true
      return t
    end
    if c ~= "," then parse_error(self, ("expected , or } in an inline table, found %s"):format(shown(c))) end
    self.pos = self.pos + 1
  end
end

function Parser:document()
  local root = {}
  local current = root
  local headers = {} -- tables defined by a [header]
  while true do
    self:skip_space_and_comments()
    if self:eof() then return root end
    if self:peek(2) == "[[" then
      self.pos = self.pos + 2
      local parts = self:key()
      if self:peek(2) ~= "]]" then parse_error(self, "expected ]] after an array-of-tables header") end
      self.pos = self.pos + 2
      local parent = self:descend(root, parts, #parts - 1, "[[" .. display_key(parts) .. "]]")
      local last = parts[#parts]
      local arr = parent[last]
      if arr == nil then
        arr = M.array()
        parent[last] = arr
        self.table_arrays[arr] = true
      elseif not (M.is_array(arr) and self.table_arrays[arr]) then
        parse_error(self, ("[[%s]]: %s is not an array of tables"):format(display_key(parts), display_key(parts)))
      end
      current = {}
      arr[#arr + 1] = current
      self:end_of_line()
    elseif self:peek() == "[" then
      self.pos = self.pos + 1
      local parts = self:key()
      if self:peek() ~= "]" then parse_error(self, "expected ] after a table header") end
      self.pos = self.pos + 1
      local t = self:descend(root, parts, #parts, "[" .. display_key(parts) .. "]")
      if headers[t] or self.dotted[t] then parse_error(self, ("table [%s] is defined twice"):format(display_key(parts))) end
      headers[t] = true
      current = t
      self:end_of_line()
    else
      local parts = self:key()
      if self:peek() ~= "=" then parse_error(self, "expected = after the key " .. display_key(parts)) end
      self.pos = self.pos + 1
      self:skip_blank()
      local parent = self:descend(current, parts, #parts - 1, display_key(parts))
      for i = 1, #parts - 1 do
        -- tables made by dotted keys cannot get a [header] later
        self.dotted[self:descend(current, parts, i, display_key(parts))] = true
      end
      local last = parts[#parts]
      if parent[last] ~= nil then parse_error(self, "duplicate key " .. display_key(parts)) end
      parent[last] = self:value()
      self:end_of_line()
    end
  end
end

--- The table a TOML text describes, or nil and "line N: why".
function M.parse(text)
  if type(text) ~= "string" then error("toml.parse: text must be a string", 2) end
  local p = setmetatable({ text = text, pos = 1, inline = {}, table_arrays = {}, dotted = {} }, Parser)
  if text:sub(1, 3) == "\239\187\191" then p.pos = 4 end -- a UTF-8 byte-order mark
  local ok, result = pcall(p.document, p)
  if ok then return result end
  if type(result) == "table" and result.toml_error then return nil, result.toml_error end
  error(result, 0)
end

---------------------------------------------------------------------------------------------
-- Writing

local function quote_string(s)
  local out = s:gsub('[%c"\\\127]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    if c == "\r" then return "\\r" end
    return ("\\u%04X"):format(c:byte())
  end)
  return '"' .. out .. '"'
end

local function key_text(k)
  if type(k) ~= "string" then error(("toml.encode: key %s is not a string"):format(tostring(k)), 0) end
  if k:match("^[A-Za-z0-9_%-]+$") then return k end
  return quote_string(k)
end

-- Tables from elsewhere (lyaml, kina.json, a patch's values) may be unmarked sequences: a
-- table with an array part is written as an array too.
local function is_list(v)
  return type(v) == "table" and (M.is_array(v) or (not M.is_datetime(v) and v[1] ~= nil))
end

-- lyaml's null is a table, cjson's a light userdata: neither is a TOML value
local function is_null(v)
  if type(v) == "userdata" then return true end
  local mt = type(v) == "table" and getmetatable(v)
  return mt and mt._type == "LYAML null" or false
end

local function is_table(v) return type(v) == "table" and not is_list(v) and not M.is_datetime(v) and not is_null(v) end

-- an array of tables is written as [[headers]] (BurntSushi does the same)
local function is_table_array(v)
  if not is_list(v) or #v == 0 then return false end
  for _, e in ipairs(v) do if not is_table(e) then return false end end
  return true
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then error(("toml.encode: key %s is not a string"):format(tostring(k)), 0) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

local inline_value

local function scalar_text(v, path)
  local ty = type(v)
  if ty == "string" then return quote_string(v) end
  if ty == "boolean" then return tostring(v) end
  if ty == "number" then
    if math.type(v) == "integer" then return ("%d"):format(v) end
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    local s = ("%.17g"):format(v)
    for digits = 1, 17 do -- the shortest text that reads back as the same float
      local t = ("%." .. digits .. "g"):format(v)
      if tonumber(t) == v then s = t; break end
    end
    if not s:find("[%.eEn]") then s = s .. ".0" end
    return s
  end
  if M.is_datetime(v) then return v.text end
  if is_null(v) then error(("toml.encode: %s is null, which TOML cannot hold"):format(path), 0) end
  if is_list(v) then
    local parts = {}
    for i, e in ipairs(v) do parts[i] = inline_value(e, path .. "[" .. i .. "]") end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  error(("toml.encode: %s is a %s, which TOML cannot hold"):format(path, ty == "userdata" and "null" or ty), 0)
end

inline_value = function(v, path)
  if is_table(v) then
    local parts = {}
    for _, k in ipairs(sorted_keys(v)) do parts[#parts + 1] = key_text(k) .. " = " .. inline_value(v[k], path .. "." .. k) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return scalar_text(v, path)
end

--- TOML text for a table: plain keys first (sorted), then each sub-table under its own
-- [header] (sorted, depth first, indented by depth), arrays of tables as [[headers]].
function M.encode(t)
  if not is_table(t) then error("toml.encode: the document must be a table", 2) end
  local out = {}
  local function emit(tbl, prefix, depth, header)
    local header_indent = ("  "):rep(math.max(depth - 1, 0))
    local indent = depth > 0 and (header_indent .. "  ") or ""
    local plain, nested = {}, {}
    for _, k in ipairs(sorted_keys(tbl)) do
      local v = tbl[k]
      if is_table(v) or is_table_array(v) then nested[#nested + 1] = k else plain[#plain + 1] = k end
    end
    if header then
      if #out > 0 then out[#out + 1] = "" end
      out[#out + 1] = header_indent .. header
    end
    for _, k in ipairs(plain) do
      out[#out + 1] = indent .. key_text(k) .. " = " .. scalar_text(tbl[k], (prefix ~= "" and prefix .. "." or "") .. k)
    end
    for _, k in ipairs(nested) do
      local name = (prefix ~= "" and (prefix .. ".") or "") .. key_text(k)
      local v = tbl[k]
      if is_table_array(v) then
        for _, e in ipairs(v) do emit(e, name, depth + 1, "[[" .. name .. "]]") end
      else
        emit(v, name, depth + 1, "[" .. name .. "]")
      end
    end
  end
  emit(t, "", 0, nil)
  return table.concat(out, "\n") .. (#out > 0 and "\n" or "")
end

return M
