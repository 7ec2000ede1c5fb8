--- kina.cli — `kina <verb> [<noun>] [flags]`, kind's grammar.
--
-- Every command but `help` and `run` is a workflow script in scripts/ that users can read, copy
-- and run with `kina run`. A script is an ordinary Lua chunk: it gets its arguments as `...` (and
-- in `arg`), parses them with kina.args, and returns an exit code (nil means 0).
--
-- Exit codes: 0 success, 1 error (printed as `ERROR: <message>`), 2 usage error (usage printed),
-- 130 interrupted.

local args_lib = require "kina.args"

local M = {}

-- verb [noun] -> script name and one-line summary, in `kina help` order
M.commands = {
  { words = { "create", "cluster" }, script = "create", summary = "Create a cluster" },
  { words = { "delete", "cluster" }, script = "delete", summary = "Delete a cluster" },
  { words = { "delete", "clusters" }, script = "delete_clusters", summary = "Delete clusters by name, or --all" },
  { words = { "get", "clusters" }, script = "get_clusters", summary = "List clusters" },
  { words = { "get", "nodes" }, script = "get_nodes", summary = "List a cluster's nodes" },
  { words = { "get", "kubeconfig" }, script = "get_kubeconfig", summary = "Print a cluster's kubeconfig" },
  { words = { "export", "kubeconfig" }, script = "export_kubeconfig", summary = "Merge a cluster's kubeconfig into your kubeconfig file" },
  { words = { "export", "logs" }, script = "export_logs", summary = "Collect a cluster's logs into a directory" },
  { words = { "load", "docker-image" }, script = "load_image", summary = "Load images from the runtime's image store into nodes" },
  { words = { "load", "image-archive" }, script = "load_archive", summary = "Load image archives (tar) into nodes" },
  { words = { "stop", "cluster" }, script = "stop", summary = "Stop a cluster's nodes (kina's own; kind has none)" },
  { words = { "start", "cluster" }, script = "start", summary = "Start a stopped cluster again" },
  { words = { "doctor" }, script = "doctor", summary = "Check that kina can work on this machine, and say what to fix" },
  { words = { "version" }, script = "version", summary = "Print kina's version" },
  { words = { "completion" }, script = "completion", summary = "Print a shell completion script (bash, zsh or fish)" },
  -- run and help are the CLI's own; `command` is what a script would declare (for completion)
  { words = { "run" }, summary = "Run a Lua script with the kina API (kina run FILE.lua [args...])",
    command = { args = { min = 1, complete = "files" } } },
  { words = { "help" }, summary = "Help about any command" },
  -- what the completion scripts ask at TAB: cluster and node names (not listed in help)
  { words = { "__complete" }, script = "complete", hidden = true },
}

--- The flags `kina` takes before the verb, in `kina help` order.
M.global_flags = {
  { name = "verbose", short = "v", help = args_lib.VERBOSE_HELP },
  { name = "quiet", short = "q", help = args_lib.QUIET_HELP },
  { name = "help", short = "h", help = "help for kina or a command" },
  { name = "version", help = "kina's version (as kina version)" },
}

local function usage()
  local out = {
    "kina creates and manages local Kubernetes clusters on Apple's container runtime (podman or Docker on Linux).",
    "",
    "Usage:",
    "  kina [-v|-q] <command> [<noun>] [flags]",
    "",
    "Commands:",
  }
  for _, c in ipairs(M.commands) do
    if not c.hidden then out[#out + 1] = ("  %-28s %s"):format(table.concat(c.words, " "), c.summary) end
  end
  out[#out + 1] = ""
  out[#out + 1] = "Flags:"
  for _, f in ipairs(M.global_flags) do
    local label = (f.short and ("-" .. f.short .. ", ") or "    ") .. "--" .. f.name
    out[#out + 1] = ("  %-13s   %s"):format(label, f.help)
  end
  out[#out + 1] = ""
  out[#out + 1] = 'Use "kina <command> --help" for more about a command.'
  return table.concat(out, "\n") .. "\n"
end
M.usage = usage

--- Where the workflow scripts are: the host tells us (checkout or prefix), else KINA_SCRIPTS,
-- else the installed module tree (kina/scripts/*.lua, as LuaRocks installs them).
function M.script_path(name)
  local host = package.loaded["kina.host"]
  local dir = os.getenv("KINA_SCRIPTS") or (host and host.scripts_dir)
  if dir then
    local path = dir .. "/" .. name .. ".lua"
    local f = io.open(path, "r")
    if f then
      f:close()
      return path
    end
  end
  local path = package.searchpath("kina.scripts." .. name, package.path)
  if path then return path end
  return nil, ("workflow script %q not found (looked in %s and package.path)"):format(name, dir or "no scripts dir")
end

local function error_text(err, verbose)
  if args_lib.is_usage_error(err) then return tostring(err) end
  local msg = type(err) == "table" and tostring(err) or tostring(err)
  if not verbose then
    -- without -v, drop the traceback: keep the message (FILE:LINE: message)
    msg = msg:gsub("\nstack traceback:.*$", "")
  end
  return msg
end

local function traceback(err)
  if type(err) == "string" then return debug.traceback(err, 2) end
  return err
end

--- Load and call a Lua file with `argv` as its arguments; returns an exit code.
local function run_file(path, argv, ctx)
  local chunk, lerr = loadfile(path)
  if not chunk then
    io.stderr:write("ERROR: ", lerr, "\n")
    return 1
  end
  local script_arg = { [0] = path }
  for i, a in ipairs(argv) do script_arg[i] = a end
  -- The script sees `arg` as a standalone Lua script would (the host's global, not the library's).
  local saved_arg = rawget(_G, "arg")
  rawset(_G, "arg", script_arg)
  local res = table.pack(xpcall(chunk, traceback, table.unpack(argv)))
  rawset(_G, "arg", saved_arg)
  if res[1] then
    local code = res[2]
    if code == nil or code == true then return 0 end
    if code == false then return 1 end
    if math.type(code) == "integer" then return code end
    return 0
  end
  local err = res[2]
  if args_lib.is_usage_error(err) then
    io.stderr:write("ERROR: ", err.message, "\n\n", err.usage or "")
    return 2
  end
  local async = package.loaded["kina.async"]
  if async and (async.is_interrupted(err) or (type(err) == "table" and err.interrupted)) then
    if not async.is_interrupted(err) then io.stderr:write("ERROR: ", error_text(err, ctx.verbose), "\n") return 130 end
    io.stderr:write("ERROR: ", tostring(err), "\n")
    return 130
  end
  io.stderr:write("ERROR: ", error_text(err, ctx.verbose), "\n")
  return 1
end

local function find_command(words)
  for _, c in ipairs(M.commands) do
    local match = true
    for i, w in ipairs(c.words) do
      if words[i] ~= w then
        match = false
        break
      end
    end
    if match then return c end
  end
end

--- Entry point: `argv` is the array of arguments after the program name. Returns the exit code.
function M.main(argv)
  local ctx = { verbose = false, quiet = false }
  local rest = {}
  local i = 1
  -- global flags before the verb
  while i <= #argv do
    local a = argv[i]
    if a == "-v" or a == "--verbose" then ctx.verbose = true
    elseif a == "-q" or a == "--quiet" then ctx.quiet = true
    elseif a == "-h" or a == "--help" then
      io.stdout:write(usage())
      return 0
    elseif a == "--version" then
      -- kind and most CLIs answer --version; it is `kina version`
      argv = { table.unpack(argv, 1, i - 1) }
      argv[#argv + 1] = "version"
      break
    else break end
    i = i + 1
  end
  for j = i, #argv do rest[#rest + 1] = argv[j] end
  if #rest == 0 then
    io.stderr:write(usage())
    return 2
  end
  local verb = rest[1]
  if verb == "help" then
    local c = rest[2] and find_command({ table.unpack(rest, 2) })
    if c and c.script then
      local path = M.script_path(c.script)
      if path then return run_file(path, { "--help" }, ctx) end
    end
    io.stdout:write(usage())
    return 0
  end
  if verb == "run" then
    local file = rest[2]
    if file == "-h" or file == "--help" then
      io.stdout:write("Usage: kina run FILE.lua [args...]\n\nRuns a Lua script with `require \"kina\"` available and `arg` set.\n")
      return 0
    end
    if not file then
      io.stderr:write("ERROR: kina run needs a script: kina run FILE.lua [args...]\n\n", usage())
      return 2
    end
    return run_file(file, { table.unpack(rest, 3) }, ctx)
  end
  local c = find_command(rest)
  if not c then
    -- a known verb with a missing or unknown noun: say which nouns it takes
    local nouns = {}
    for _, cmd in ipairs(M.commands) do
      if cmd.words[1] == verb and cmd.words[2] then nouns[#nouns + 1] = cmd.words[2] end
    end
    if #nouns > 0 then
      local what = rest[2] and ('unknown subcommand "%s" for "kina %s"'):format(rest[2], verb)
        or ('"kina %s" needs a subcommand'):format(verb)
      io.stderr:write(("ERROR: %s: one of %s\n\n"):format(what, table.concat(nouns, ", ")), usage())
      return 2
    end
    io.stderr:write(('ERROR: unknown command "%s" for "kina"\n\n'):format(table.concat(rest, " ", 1, math.min(2, #rest))), usage())
    return 2
  end
  local path, perr = M.script_path(c.script)
  if not path then
    io.stderr:write("ERROR: ", perr, "\n")
    return 1
  end
  local script_args = { table.unpack(rest, #c.words + 1) }
  if ctx.verbose then table.insert(script_args, 1, "--verbose") end
  if ctx.quiet then table.insert(script_args, 1, "--quiet") end
  return run_file(path, script_args, ctx)
end

return M
