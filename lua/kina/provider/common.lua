--- kina.provider.common — what every provider shares: the ProviderError class, the command line
-- shown in errors, and the operations whose policy does not depend on the runtime (host port
-- checks, copying a file in through exec, label filters). The interface itself is written down in
-- lua/kina/provider/README.md.

local M = {}

---------------------------------------------------------------------------------------------
-- Errors

--- A failure of a provider operation: op, node, argv, status, stderr, code, result, cause, hint,
-- message (any may be absent). Raised, never returned: workflow code tells it from a plain
-- error with is_error and reads `cause` (a runtime-independent word, e.g. "not_found").
local ProviderError = {}
ProviderError.__index = ProviderError
M.ProviderError = ProviderError

local function shell_quote(s)
  if s:match("^[%w%-_./:=@,+%%]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- An argv as one line a person can paste into a shell (for messages only; kina never runs it).
function M.command_line(argv)
  local out = {}
  for i, a in ipairs(argv) do out[i] = shell_quote(a) end
  return table.concat(out, " ")
end

ProviderError.__tostring = function(e)
  local what = e.op .. (e.node and (" " .. e.node) or "")
  local lines = { ("%s failed: %s"):format(what, e.status or e.message or "error") }
  if e.message and e.status then lines[#lines + 1] = "  " .. e.message end
  if e.argv then lines[#lines + 1] = "  command: " .. M.command_line(e.argv) end
  if e.stderr and e.stderr ~= "" then
    local text = e.stderr:gsub("%s+$", "")
    lines[#lines + 1] = "  stderr: " .. text:gsub("\n", "\n          ")
  end
  if e.hint then lines[#lines + 1] = "  hint: " .. e.hint end
  return table.concat(lines, "\n")
end

function M.is_error(err) return getmetatable(err) == ProviderError end

function M.new_error(fields) return setmetatable(fields, ProviderError) end

--- "exit status 3", "timed out", "killed by SIG9" for a kina.async result.
function M.status_text(r)
  if r.timed_out then return "timed out" end
  if r.signal then return "killed by SIG" .. tostring(r.signal) end
  return "exit status " .. tostring(r.code)
end

---------------------------------------------------------------------------------------------
-- Running a CLI

--- A provider's timeouts: DEFAULT_TIMEOUTS, each capped at `cap` seconds when given, then
-- `overrides` ({op = seconds}); `who` names the provider in the error for a bad override.
function M.timeouts(who, overrides, cap)
  local timeouts = {}
  for k, v in pairs(M.DEFAULT_TIMEOUTS) do timeouts[k] = cap and math.min(v, cap) or v end
  for k, v in pairs(overrides or {}) do
    if type(v) ~= "number" or v <= 0 then error(who .. " provider options: timeouts." .. tostring(k) .. " must be a positive number", 3) end
    timeouts[k] = v
  end
  return timeouts
end

--- Decode a CLI's JSON output, raising a ProviderError for `op` when it is not JSON. kina only
-- reads the CLIs' JSON, so `[]` and `{}` need not be told apart.
function M.decode_json(op, text)
  local value, err = require("kina.json").decode(text, { empty_arrays = false })
  if value == nil then
    error(M.new_error{ op = op, message = "could not parse the CLI's JSON: " .. tostring(err), stderr = text:sub(1, 400) }, 0)
  end
  return value
end

-- The CLI-running methods, shared by every provider class (see add_cli_methods).
local CLI = {}

--- Seconds a call of kind `op` (a DEFAULT_TIMEOUTS key) may run before kina kills it.
function CLI:timeout(op)
  return self.timeouts[op] or self.timeouts.default
end

--- The argv that runs the CLI with `args`.
function CLI:cli_argv(args)
  local argv = { self.binary }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return argv
end

-- Run the CLI with `args`; returns the result table (any exit status) and the argv, or raises
-- when the binary cannot be started or the call timed out.
function CLI:run_cli(op, node, args, extra)
  local argv = self:cli_argv(args)
  local opts = { argv = argv, timeout = (extra and extra.timeout) or self:timeout(op), env = self.env }
  for k, v in pairs(extra or {}) do
    if k ~= "timeout" then opts[k] = v end
  end
  local r, err, code = self.sched:exec(opts)
  if not r then
    error(M.new_error{ op = op, node = node, argv = argv, message = err, code = code,
      hint = code == "ENOENT" and self:missing_cli_hint() or nil }, 0)
  end
  if r.timed_out then
    error(M.new_error{ op = op, node = node, argv = argv, status = ("timed out after %gs"):format(opts.timeout),
      stderr = r.stderr, result = r, cause = "timeout", hint = self:hint("timeout") }, 0)
  end
  return r, argv
end

-- Run and require success (else the class's fail raises); returns the result.
function CLI:call(op, node, args, extra)
  local r, argv = self:run_cli(op, node, args, extra)
  if r.code ~= 0 then self:fail(op, node, argv, r) end
  return r
end

--- Add timeout(op), cli_argv(args), run_cli(op, node, args, extra) and call(op, node, args, extra) to a
-- provider class. Its objects carry `binary`, `sched`, `timeouts` and `env`; the class gives
-- missing_cli_hint() (what to do when the binary is not found), hint(cause), and
-- fail(op, node, argv, r), which raises the runtime's error for a failed result.
function M.add_cli_methods(class)
  for k, f in pairs(CLI) do class[k] = f end
  return class
end

---------------------------------------------------------------------------------------------
-- Shared operations

--- True when every label of `wanted` has that value in record.labels.
function M.labels_match(record, wanted)
  for k, v in pairs(wanted or {}) do
    if record.labels[k] ~= v then return false end
  end
  return true
end

--- Raise naming the first host port that is already taken, before anything is created (a
-- known kind pain point: docker fails half-way through instead). ports = {{address, port,
-- protocol, field}}.
function M.check_host_ports(ports)
  local uv = require "luv"
  for _, p in ipairs(ports or {}) do
    local address = p.address or "0.0.0.0"
    local ok, err
    local handle
    if p.protocol == "udp" then
      handle = uv.new_udp()
      ok, err = handle:bind(address, p.port)
    else
      -- libuv reports EADDRINUSE for TCP only at listen()
      handle = uv.new_tcp()
      ok, err = handle:bind(address, p.port)
      if ok then ok, err = handle:listen(1, function() end) end
    end
    handle:close()
    if not ok then
      -- the close callback must run before the error unwinds: a handle left closing when the
      -- host exits crashes it (luv's loop is torn down with the callback still pending)
      uv.run("nowait")
      error(M.new_error{ op = "preflight", message = ("%s: host port %s:%d/%s is not free (%s)"):format(
        p.field or "ports", address, p.port, p.protocol or "tcp", tostring(err)),
        hint = "stop what listens there, or choose another hostPort." }, 0)
    end
  end
  -- close callbacks run on luv's loop; run it so nothing is left pending
  uv.run("nowait")
end

--- Write `source` (a string, or with opts.file a host path) to `dest` in node `name` through
-- `exec -i NODE cp /dev/stdin DEST`, kind's WriteFile (kind-and-peers §2.7): no runtime's `cp`
-- command is needed, and it writes into tmpfs too. opts.mode: chmod's mode ("0644").
function M.copy_to(provider, name, source, dest, opts)
  opts = opts or {}
  local exec_opts = opts.file and { stdin_file = source } or { stdin = source }
  local dir = dest:match("^(.*)/[^/]*$")
  if dir and dir ~= "" then provider:exec(name, { "mkdir", "-p", dir }) end
  provider:exec(name, { "cp", "/dev/stdin", dest }, exec_opts)
  if opts.mode then provider:exec(name, { "chmod", opts.mode, dest }) end
end

--- Seconds before a CLI call is given up as hung, by kind of call (both CLIs can hang). `run`
-- may pull a node image first; `stop` waits for systemd. A constant: providers copy it and take
-- overrides in their own copy.
M.DEFAULT_TIMEOUTS = {
  default = 120, run = 900, exec = 600, pull = 1800, save = 3600, load = 3600, version = 30, status = 30,
}

--- The capabilities a provider may declare (README.md, "Capabilities"); every provider's
-- capabilities() returns a boolean for each of these names and no other.
M.CAPABILITIES = {
  "nodes_reach_each_other",
  "per_container_ip_routable_from_host",
  "privileged",
  "networks",
  "ip_kept_across_restart",
  "publishes_host_ports",
  "needs_node_preparation",
  "node_size_required",
}

return M
