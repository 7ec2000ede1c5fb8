--- kina.batch — several commands and file reads/writes in a node in one `container exec`.
--
-- On a Mac every `container exec` is a round trip through Apple's services into the VM, so the
-- small steps around kubeadm (sysctls, iptables rules, reading and writing files) are batched
-- into one `bash -c SCRIPT kina ARG…`. No shell text is ever built from data: every command
-- word, path and file content is a positional argument ("${N}"), and the script is made only of
-- those references and fixed shell syntax, so a value can never be read as shell code. Each
-- checked command that fails prints a marker with its index and exit status and ends the
-- script, so an error still names the exact command, its status and its output.
--
--   local b = batch.new()
--   b:run{ "sysctl", "-w", "net.ipv4.ip_forward=1" }            -- must succeed
--   b:run({ "sysctl", "-w", "net.bridge.bridge-nf-call-iptables=1" }, { check = false })
--   b:ensure({ "iptables", "-C", ... }, { "iptables", "-A", ... }) -- add unless present
--   local version = b:read("/kind/version")                       -- a handle for the result
--   b:write("/kind/kubeadm.conf", text)
--   local r = provider:exec(node, b:argv(), { check = false })
--   local res = b:result(r)  -- { ok, failed = {argv, status, index} | nil, reads = {[handle] = text | false} }
--
-- Command output goes to stderr (stdout carries only the reads, between separators). Needs
-- bash in the node (kindest/node has it: kind images/base/Dockerfile).
local M = {}

local Batch = {}
Batch.__index = Batch

M.MARKER = "kina-batch-failed"
local MARKER_PATTERN = M.MARKER:gsub("%-", "%%-") .. " (%d+) (%d+)\n"

--- A new, empty batch. opts.token: the separator's random part (tests pass a fixed one).
function M.new(opts)
  opts = opts or {}
  local token = opts.token
  if not token then
    local t = {}
    for i = 1, 16 do t[i] = string.format("%02x", math.random(0, 255)) end
    token = table.concat(t)
  end
  local b = setmetatable({ args = {}, lines = {}, steps = {}, reads = 0 }, Batch)
  b.sep = b:arg("\n--kina-" .. token .. "--\n")
  b.absent = b:arg("--kina-absent-" .. token .. "--")
  return b
end

-- The positional parameter holding `value`: "${N}".
function Batch:arg(value)
  if type(value) ~= "string" then error("kina.batch: arguments must be strings, not " .. type(value), 3) end
  self.args[#self.args + 1] = value
  return ('"${%d}"'):format(#self.args)
end

local function words(self, argv)
  if type(argv) ~= "table" or #argv == 0 then error("kina.batch: a command is a non-empty argv list", 3) end
  local out = {}
  for i, a in ipairs(argv) do out[i] = self:arg(a) end
  return table.concat(out, " ")
end

-- On failure of what precedes: the marker with step `i` and the status, then the end.
local function on_failure(self, i)
  return (" || ! printf '%%s %%s %%s\\n' %s %s \"$?\" >&2 || exit 100"):format(self:arg(M.MARKER), self:arg(tostring(i)))
end

--- Run `argv`; opts.check (default true): a failure ends the batch and is reported.
function Batch:run(argv, opts)
  local check = not (opts and opts.check == false)
  self.steps[#self.steps + 1] = { argv = argv, check = check }
  local i = #self.steps
  if check then
    self.lines[#self.lines + 1] = words(self, argv) .. " >&2" .. on_failure(self, i)
  else
    self.lines[#self.lines + 1] = words(self, argv) .. " >&2 2>&1 || :"
  end
  return i
end

--- Run `add` unless `probe` succeeds (iptables -C then -A: idempotent across starts).
function Batch:ensure(probe, add)
  self.steps[#self.steps + 1] = { argv = add, probe = probe }
  local i = #self.steps
  self.lines[#self.lines + 1] = words(self, probe) .. " >&2 2>&1 || " .. words(self, add) .. " >&2" .. on_failure(self, i)
  return i
end

--- Run `argv` for its exit status only (output discarded); the result is the status (a number).
function Batch:status(argv)
  self.reads = self.reads + 1
  self.steps[#self.steps + 1] = { argv = argv, read = self.reads, status = true }
  self.lines[#self.lines + 1] = words(self, argv) .. " >&2 2>&1; printf '%s' \"$?\""
  self.lines[#self.lines + 1] = "printf '%s' " .. self.sep
  return self.reads
end

--- Write `content` to `path` (the directory must exist).
function Batch:write(path, content)
  self.steps[#self.steps + 1] = { argv = { "printf", "%s", "<" .. #content .. " bytes>" }, path = path, content = content }
  local i = #self.steps
  self.lines[#self.lines + 1] = ("printf '%%s' %s > %s"):format(self:arg(content), self:arg(path)) .. on_failure(self, i)
  return i
end

--- Install `script` as the executable `script_path` and `unit_text` as the systemd unit
-- `unit_path`, then `systemctl enable --now` it (kina's own units: kina.service_lb,
-- kina.loadbalancer).
function Batch:install_unit(script_path, script, unit_path, unit_text)
  self:write(script_path, script)
  self:run{ "chmod", "0755", script_path }
  self:write(unit_path, unit_text)
  self:run{ "systemctl", "enable", "--now", (unit_path:match("[^/]+$")) }
end

--- Read `path`; the result is its text, or false when it cannot be read and opts.optional.
function Batch:read(path, opts)
  self.reads = self.reads + 1
  self.steps[#self.steps + 1] = { argv = { "cat", path }, read = self.reads, optional = opts and opts.optional or nil }
  local i = #self.steps
  if opts and opts.optional then
    self.lines[#self.lines + 1] = ("cat %s || printf '%%s' %s"):format(self:arg(path), self.absent)
  else
    self.lines[#self.lines + 1] = "cat " .. self:arg(path) .. on_failure(self, i)
  end
  self.lines[#self.lines + 1] = "printf '%s' " .. self.sep
  return self.reads
end

--- The argv for `container exec`: bash -c SCRIPT kina ARG….
function Batch:argv()
  local argv = { "bash", "-c", table.concat(self.lines, "\n"), "kina" }
  for _, a in ipairs(self.args) do argv[#argv + 1] = a end
  return argv
end

--- What a run of the batch did, from the exec result {code, stdout, stderr}: ok; failed (the
-- step's argv, its exit status, its index; or status = the script's own code when the batch
-- did not even run, e.g. the exec failed); reads[handle] = text, or false when absent.
function Batch:result(r)
  local out = { ok = r.code == 0, reads = {} }
  local sep = self.args[tonumber(self.sep:match("%d+"))]
  local absent = self.args[tonumber(self.absent:match("%d+"))]
  local pos, n = 1, 0
  local stdout = r.stdout or ""
  while true do
    local s, e = stdout:find(sep, pos, true)
    if not s then break end
    n = n + 1
    local text = stdout:sub(pos, s - 1)
    out.reads[n] = text ~= absent and text or false
    pos = e + 1
  end
  for _, step in ipairs(self.steps) do
    if step.status and out.reads[step.read] then out.reads[step.read] = tonumber(out.reads[step.read]) end
  end
  if r.code ~= 0 then
    local index, status = (r.stderr or ""):match(MARKER_PATTERN)
    local step = index and self.steps[tonumber(index)]
    if step then
      out.failed = { index = tonumber(index), argv = step.argv, path = step.path, status = tonumber(status) }
    else
      out.failed = { status = r.code }
    end
  end
  return out
end

--- The same steps one call each, through `exec(argv, check)` -> {code, stdout} and
-- `write(path, content)`: for providers that cannot run a script (test doubles). Returns
-- {reads = {...}}.
function Batch:run_each(exec, write)
  local out = { reads = {} }
  for _, step in ipairs(self.steps) do
    if step.status then
      out.reads[step.read] = exec(step.argv, false).code
    elseif step.read then
      local r = exec(step.argv, not step.optional)
      out.reads[step.read] = (r.code == 0) and r.stdout or false
    elseif step.path then
      write(step.path, step.content)
    elseif step.probe then
      if exec(step.probe, false).code ~= 0 then exec(step.argv, true) end
    else
      exec(step.argv, step.check)
    end
  end
  return out
end

--- The commands a batch's argv ({"bash", "-c", SCRIPT, "kina", ARG…}) runs, in order, for
-- logs and specs: each command's argv; an `ensure` gives its probe then its addition, a read
-- {"cat", PATH}, a write {"write", PATH}. nil when `argv` is not a batch.
function M.commands(argv)
  if argv[1] ~= "bash" or argv[2] ~= "-c" or argv[4] ~= "kina" or not argv[3]:find('"${', 1, true) then return nil end
  local function arg(n) return argv[4 + tonumber(n)] end
  local out = {}
  for line in argv[3]:gmatch("[^\n]+") do
    local body = line:gsub(" || ! printf .*$", ""):gsub(" || :$", ""):gsub("; printf '%%s' \"%$%?\"$", "")
    local content, path = body:match("^printf '%%s' \"%${(%d+)}\" > \"%${(%d+)}\"$")
    if path then
      out[#out + 1] = { "write", arg(path) }
    elseif body:match("^cat ") then
      out[#out + 1] = { "cat", arg(body:match('^cat "%${(%d+)}"')) }
    elseif not body:match("^printf ") then
      for part in (body .. " || "):gmatch("(.-) || ") do
        local cmd = {}
        for n in part:gmatch('"%${(%d+)}"') do cmd[#cmd + 1] = arg(n) end
        if #cmd > 0 then out[#out + 1] = cmd end
      end
    end
    local _ = content
  end
  return out
end

--- The output of the batch without its markers (for error messages).
function M.output(r)
  return ((r.stderr or ""):gsub(MARKER_PATTERN, ""))
end

return M
