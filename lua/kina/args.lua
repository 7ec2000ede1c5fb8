--- kina.args — command-line flags the way kind (cobra) takes them: `--name x`, `--name=x`,
-- `-n x`, boolean `--retain` / `--retain=false`, repeatable flags, `--` ends flags.
--
-- A command declares its flags once; the same declaration gives the parser and the --help text.
-- Bad usage raises a UsageError (the CLI prints the usage and exits 2).

local M = {}

local UsageError = {}
UsageError.__index = UsageError
UsageError.__tostring = function(e) return e.message end
M.UsageError = UsageError

function M.usage_error(message, usage)
  return setmetatable({ message = message, usage = usage }, UsageError)
end

function M.is_usage_error(err)
  return getmetatable(err) == UsageError
end

--- Flags every command takes (the CLI passes -v/-q given before the verb through to scripts).
-- (their texts are kina.cli's GLOBAL_FLAGS too: what -v and -q do, said once)
M.VERBOSE_HELP = "debug lines (such as each call of the runtime's CLI and how long it took) and tracebacks on errors"
M.QUIET_HELP = "only warnings and errors"
M.VERBOSE = { name = "verbose", short = "v", kind = "boolean", help = M.VERBOSE_HELP }
M.QUIET = { name = "quiet", short = "q", kind = "boolean", help = M.QUIET_HELP }
--- --name, defaulting to $KINA_CLUSTER_NAME, then "kina" (kind's KIND_CLUSTER_NAME rule).
-- (`complete` says what a shell may offer for a flag's value or a command's arguments:
-- "clusters", "nodes", "files", "dirs", "outputs" (the command's -o formats) or a list of words;
-- kina.completion reads it.)
M.NAME = { name = "name", short = "n", kind = "string", metavar = "NAME", complete = "clusters",
  help = "the cluster's name (default $KINA_CLUSTER_NAME, else kina)" }
--- create's --name: a config may name the cluster too, after the environment (kina.cluster.new).
M.CREATE_NAME = { name = "name", short = "n", kind = "string", metavar = "NAME", complete = "clusters",
  help = "the cluster's name (default $KINA_CLUSTER_NAME, else the config's name, else kina)" }
M.KUBECONFIG = { name = "kubeconfig", kind = "string", metavar = "PATH", complete = "files",
  help = "the kubeconfig file (default: $KUBECONFIG's, else ~/.kube/config)" }

--- The cluster name from --name, $KINA_CLUSTER_NAME or "kina".
function M.cluster_name(opts, getenv)
  getenv = getenv or os.getenv
  if opts.name and opts.name ~= "" then return opts.name end
  local env = getenv("KINA_CLUSTER_NAME")
  if env and env ~= "" then return env end
  return "kina"
end

local kinds = { string = true, boolean = true, list = true, duration = true, integer = true }

--- Seconds in a Go-style duration ("30s", "5m", "1m30s", "250ms", "0") or nil.
function M.parse_duration(s)
  if s == "0" then return 0 end
  local total, rest = 0, s
  if rest == "" then return nil end
  while rest ~= "" do
    local num, unit, tail = rest:match("^(%d+%.?%d*)(%a+)(.*)$")
    if not num then return nil end
    local scale = ({ ms = 0.001, s = 1, m = 60, h = 3600 })[unit]
    if not scale then return nil end
    total = total + tonumber(num) * scale
    rest = tail
  end
  return total
end

local function flag_label(f)
  local label = "--" .. f.name
  if f.short then label = "-" .. f.short .. ", " .. label end
  if f.kind ~= "boolean" then label = label .. " " .. (f.metavar or f.kind) end
  return label
end

--- The --help text of a command.
function M.help(command)
  local out = { "Usage: " .. command.usage, "" }
  if command.summary then
    out[#out + 1] = command.summary
    out[#out + 1] = ""
  end
  if command.flags and #command.flags > 0 then
    out[#out + 1] = "Flags:"
    local width = 0
    for _, f in ipairs(command.flags) do width = math.max(width, #flag_label(f)) end
    for _, f in ipairs(command.flags) do
      local line = ("  %-" .. width .. "s  %s"):format(flag_label(f), f.help or "")
      if f.default ~= nil and f.kind ~= "boolean" then line = line .. (" (default %s)"):format(tostring(f.default)) end
      out[#out + 1] = line
    end
    out[#out + 1] = ("  %-" .. width .. "s  %s"):format("-h, --help", "show this help")
  end
  return table.concat(out, "\n") .. "\n"
end

--- What kina.completion passes a script instead of its arguments: M.command then raises, before
-- anything is parsed or run, an error that M.described turns back into the script's command
-- declaration. So the one declaration gives the parser, the --help text and shell completion.
M.DESCRIBE = setmetatable({}, { __name = "kina.args.DESCRIBE" })
local Described = {}

--- The command declaration carried by an error M.command raised for M.DESCRIBE, else nil.
function M.described(err)
  if getmetatable(err) == Described then return err.command end
  return nil
end

--- What every command script does first: parse its arguments, print its help for --help, and
-- check `-o` against the formats it offers (command.outputs). Returns the options, or nil when
-- the help was printed (the script then returns 0).
function M.command(command, argv)
  if argv[1] == M.DESCRIBE then error(setmetatable({ command = command }, Described), 0) end
  local opts = M.parse(command, argv)
  if opts.help then
    io.stdout:write(M.help(command))
    return nil
  end
  if opts.output ~= nil then
    local ok = false
    for _, f in ipairs(command.outputs or {}) do ok = ok or f == opts.output end
    if not ok then
      error(M.usage_error(("unknown output format %q (want %s)"):format(opts.output,
        table.concat(command.outputs or {}, " or ")), M.help(command)), 0)
    end
  end
  return opts
end

--- -o/--output, for commands that can print JSON.
M.OUTPUT = { name = "output", short = "o", kind = "string", metavar = "FORMAT", complete = "outputs",
  help = "json: one JSON document on stdout (nothing there after an ERROR)" }

--- Parse `argv` (array of strings) for `command` = {usage, flags = {{name, short, kind, default,
-- help, metavar, complete}}, args = {min, max, complete}} (`complete`: for shell completion only). Returns options (flag values by name, with `args` the
-- positional arguments) or raises a UsageError. `--help` gives options.help = true.
function M.parse(command, argv)
  local by_long, by_short = {}, {}
  for _, f in ipairs(command.flags or {}) do
    assert(kinds[f.kind], "flag kind")
    by_long[f.name] = f
    if f.short then by_short[f.short] = f end
  end
  local opts, positional = { args = {} }, {}
  for _, f in ipairs(command.flags or {}) do
    local key = f.key or f.name:gsub("-", "_")
    if f.kind == "list" then opts[key] = {} else opts[key] = f.default end
  end
  local function fail(msg) error(M.usage_error(msg, M.help(command)), 0) end
  local function set(f, value, given)
    local key = f.key or f.name:gsub("-", "_")
    if f.kind == "boolean" then
      if value == nil or value == "true" then opts[key] = true
      elseif value == "false" then opts[key] = false
      else fail(("invalid argument %q for --%s: want true or false"):format(value, f.name)) end
      return
    end
    if value == nil then fail(("flag needs an argument: --%s"):format(f.name)) end
    if f.kind == "duration" then
      local secs = M.parse_duration(value)
      if not secs then fail(("invalid argument %q for --%s: not a duration (e.g. 30s, 5m)"):format(value, f.name)) end
      opts[key] = secs
    elseif f.kind == "integer" then
      local n = math.tointeger(tonumber(value))
      if not n then fail(("invalid argument %q for --%s: not an integer"):format(value, f.name)) end
      opts[key] = n
    elseif f.kind == "list" then
      local list = opts[key]
      for item in value:gmatch("[^,]+") do list[#list + 1] = item end
    else
      opts[key] = value
    end
    opts.given = opts.given or {}
    opts.given[key] = given
  end
  local i, n = 1, #argv
  while i <= n do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, n do positional[#positional + 1] = argv[j] end
      break
    elseif a == "-h" or a == "--help" then
      opts.help = true
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local f = by_long[name]
      if not f then fail(("unknown flag: --%s"):format(name)) end
      if value == nil and f.kind ~= "boolean" then
        i = i + 1
        value = argv[i]
      end
      set(f, value, true)
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local short, rest = a:sub(2, 2), a:sub(3)
      local f = by_short[short]
      if not f then fail(("unknown shorthand flag: '%s' in %s"):format(short, a)) end
      local value
      if f.kind ~= "boolean" then
        if rest ~= "" then value = rest:gsub("^=", "")
        else
          i = i + 1
          value = argv[i]
        end
      elseif rest ~= "" then
        fail(("unknown shorthand flag: '%s' in %s"):format(rest:sub(1, 1), a))
      end
      set(f, value, true)
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end
  opts.args = positional
  if not opts.help then
    local spec = command.args or { min = 0, max = 0 }
    if #positional < (spec.min or 0) then
      fail(("requires at least %d arg(s), only received %d"):format(spec.min, #positional))
    end
    if spec.max and #positional > spec.max then
      fail(("accepts at most %d arg(s), received %d"):format(spec.max, #positional))
    end
  end
  return opts
end

return M
