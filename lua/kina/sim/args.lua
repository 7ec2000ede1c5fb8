--- kina.sim.args — command-line parsing the way Apple's CLI (swift-argument-parser 1.8) does.
--
-- A command is described by a table:
--   { path = "run", abstract = "...", usage = "[<options>] <image> [<arguments> ...]",
--     options = { {names = {"-e", "--env"}, value = "env", rep = true, since = "0.1.0",
--                  kind = "int"|"uint"|nil, choices = {...}, help = "..."}, ... },
--     args = { {name = "image"}, {name = "arguments", passthrough = true, optional = true} } }
-- Option entries without `value` are flags. `since`/`till` bound the releases that have the
-- option; outside them it is unknown, as on the real CLI.
--
-- Rules imitated: `--name value` and `--name=value`; combined short flags (`-it`); a value
-- option takes the next word unless it looks like an option ("Missing value for ..."); `--`
-- ends options; options may appear between ordinary positionals, but once a passthrough
-- positional starts (the words after `run`'s image or `exec`'s container ID) every later
-- word belongs to the process. Errors exit 64 with the usage lines.
local M = {}

--- The key an option is stored under: its longest long name, dashes → underscores.
local function option_key(opt)
  if opt.key then return opt.key end
  local best
  for _, n in ipairs(opt.names) do
    if n:sub(1, 2) == "--" and (not best or #n > #best) then best = n end
  end
  best = best or opt.names[1]
  return (best:gsub("^%-+", ""):gsub("%-", "_"))
end
M.option_key = option_key

--- Options of `cmd` available in `version`.
function M.options_for(cmd, version)
  local list = {}
  for _, opt in ipairs(cmd.options or {}) do
    if version:within(opt.since, opt.till) then list[#list + 1] = opt end
  end
  return list
end

--- The "Usage: ..." line text (without the prefix).
function M.usage_line(cmd)
  local u = "container " .. cmd.path
  if cmd.usage then return u .. " " .. cmd.usage end
  return u
end

--- Usage lines printed after an argument error.
function M.usage_block(cmd)
  return "Usage: " .. M.usage_line(cmd) .. "\n  See 'container " .. cmd.path .. " --help' for more information."
end

local function value_label(opt)
  return "<" .. opt.value .. ">"
end

local function option_display(opt)
  return table.concat(opt.names, ", ") .. (opt.value and (" " .. value_label(opt)) or "")
end

local function preferred_name(opt)
  local long
  for _, n in ipairs(opt.names) do if n:sub(1, 2) == "--" then long = long or n end end
  return long or opt.names[1]
end

--- Help text for `cmd` in `version` (printed to stdout for -h/--help).
function M.help(cmd, version)
  local lines = {}
  if cmd.abstract then
    lines[#lines + 1] = "OVERVIEW: " .. cmd.abstract
    lines[#lines + 1] = ""
  end
  lines[#lines + 1] = "USAGE: " .. M.usage_line(cmd)
  lines[#lines + 1] = ""
  if cmd.args and #cmd.args > 0 then
    lines[#lines + 1] = "ARGUMENTS:"
    for _, a in ipairs(cmd.args) do
      lines[#lines + 1] = string.format("  <%s>%s", a.name, a.help and ("  " .. a.help) or "")
    end
    lines[#lines + 1] = ""
  end
  if cmd.subcommands then
    lines[#lines + 1] = "SUBCOMMANDS:"
    for _, s in ipairs(cmd.subcommands) do
      lines[#lines + 1] = string.format("  %-24s%s", s.name, s.abstract or "")
    end
    lines[#lines + 1] = ""
    lines[#lines + 1] = "  See 'container help " .. cmd.path .. " <subcommand>' for detailed help."
    return table.concat(lines, "\n") .. "\n"
  end
  lines[#lines + 1] = "OPTIONS:"
  local opts = M.options_for(cmd, version)
  for _, opt in ipairs(opts) do
    local d = option_display(opt)
    if #d >= 24 then
      lines[#lines + 1] = "  " .. d
      lines[#lines + 1] = string.rep(" ", 26) .. (opt.help or "")
    else
      lines[#lines + 1] = string.format("  %-24s%s", d, opt.help or "")
    end
  end
  lines[#lines + 1] = string.format("  %-24s%s", "--debug", "Enable debug output [environment: CONTAINER_DEBUG]")
  lines[#lines + 1] = string.format("  %-24s%s", "-h, --help", "Show help information.")
  return table.concat(lines, "\n") .. "\n"
end

local function usage_error(cmd, message)
  return { exit = 64, text = "Error: " .. message .. "\n" .. M.usage_block(cmd) }
end
M.usage_error = usage_error

local function looks_like_option(word)
  return word ~= nil and #word > 1 and word:sub(1, 1) == "-"
end

local function store(cmd, result, opt, name, value)
  local key = option_key(opt)
  if opt.value == nil then
    if value ~= nil then
      return usage_error(cmd, string.format("The option '%s' does not take any value, but '%s' was specified.", name, value))
    end
    result.opts[key] = true
    result.given[key] = true
    return nil
  end
  if opt.kind == "int" or opt.kind == "uint" then
    local n = value:match("^[+-]?%d+$") and math.tointeger(tonumber(value))
    if not n or (opt.kind == "uint" and n < 0) then
      return usage_error(cmd, string.format("The value '%s' is invalid for '%s %s'", value, name, value_label(opt)))
    end
    value = n
  elseif opt.choices then
    local ok = false
    for _, c in ipairs(opt.choices) do if c == value then ok = true end end
    if not ok then
      return usage_error(cmd, string.format("The value '%s' is invalid for '%s %s'", value, name, value_label(opt)))
    end
  end
  if opt.rep then
    local list = result.opts[key] or {}
    list[#list + 1] = value
    result.opts[key] = list
  else
    result.opts[key] = value
  end
  result.given[key] = true
  return nil
end

--- Parse `argv` from index `first` for `cmd` as `version` would.
-- @treturn table `{opts = {key = value|list|true}, args = {name = value|list}, given = {key = true},
--   help = true when -h/--help was seen}`
-- @return[2] nil
-- @treturn[2] table `{exit = 64, text = "Error: ...\nUsage: ..."}`
function M.parse(cmd, argv, first, version)
  local opts = M.options_for(cmd, version)
  local by_name = {}
  for _, opt in ipairs(opts) do
    for _, n in ipairs(opt.names) do by_name[n] = opt end
  end
  local result = { opts = {}, args = {}, given = {} }
  local positionals, passthrough = {}, nil
  local specs = cmd.args or {}
  -- Index of the passthrough positional (if any): once reached, the rest is passthrough.
  local pass_index
  for i, a in ipairs(specs) do if a.passthrough then pass_index = i end end

  local i, n = first, #argv
  local options_done = false
  -- The value of option `name` from the next word, which it consumes; an error when none.
  local function next_value(name, opt)
    local nxt = argv[i + 1]
    if nxt == nil or looks_like_option(nxt) then
      return nil, usage_error(cmd, string.format("Missing value for '%s %s'", name, value_label(opt)))
    end
    i = i + 1
    return nxt
  end
  while i <= n do
    local word = argv[i]
    if passthrough then
      passthrough[#passthrough + 1] = word
    elseif options_done or not looks_like_option(word) then
      positionals[#positionals + 1] = word
      if pass_index and #positionals == pass_index - 1 then passthrough = {} end
    elseif word == "--" then
      options_done = true
      if pass_index and #positionals == pass_index - 1 then passthrough = {} end
    elseif word == "-h" or word == "--help" then
      result.help = true
    elseif word == "--debug" then
      result.opts.debug = true
    elseif word:sub(1, 2) == "--" then
      local name, value = word:match("^(%-%-[^=]+)=(.*)$")
      name = name or word
      local opt = by_name[name]
      if not opt then return nil, usage_error(cmd, string.format("Unknown option '%s'", name)) end
      if opt.value and value == nil then
        local err
        value, err = next_value(name, opt)
        if not value then return nil, err end
      end
      local err = store(cmd, result, opt, name, value)
      if err then return nil, err end
    else
      -- Short options, possibly combined: every letter but the last must be a flag.
      local letters = word:sub(2)
      for k = 1, #letters do
        local name = "-" .. letters:sub(k, k)
        local opt = by_name[name]
        if name == "-h" then
          result.help = true
        elseif not opt then
          return nil, usage_error(cmd, string.format("Unknown option '%s'", #letters == 1 and word or name))
        elseif opt.value then
          local value, err
          if k < #letters then
            value = letters:sub(k + 1)
          else
            value, err = next_value(name, opt)
            if not value then return nil, err end
          end
          err = store(cmd, result, opt, name, value)
          if err then return nil, err end
          break
        else
          local err = store(cmd, result, opt, name, nil)
          if err then return nil, err end
        end
      end
    end
    i = i + 1
  end
  if result.help then return result end

  -- Assign positionals to the declared arguments.
  local p = 1
  for idx, a in ipairs(specs) do
    if a.passthrough then
      local rest = passthrough or {}
      if #rest == 0 and not a.optional then
        return nil, usage_error(cmd, string.format("Missing expected argument '<%s> ...'", a.name))
      end
      result.args[a.name] = rest
    elseif a.variadic then
      local list = {}
      local reserve = #specs - idx -- later required singles
      while p <= #positionals - reserve do list[#list + 1] = positionals[p]; p = p + 1 end
      if #list == 0 and not a.optional then
        return nil, usage_error(cmd, string.format("Missing expected argument '<%s> ...'", a.name))
      end
      result.args[a.name] = list
    else
      local v = positionals[p]
      if v == nil and not a.optional then
        return nil, usage_error(cmd, string.format("Missing expected argument '<%s>'", a.name))
      end
      result.args[a.name] = v
      if v ~= nil then p = p + 1 end
    end
  end
  if p <= #positionals then
    return nil, usage_error(cmd, string.format("Unexpected argument '%s'", positionals[p]))
  end
  return result
end

return M
