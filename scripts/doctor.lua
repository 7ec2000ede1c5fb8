-- kina doctor — can kina work on this Mac? One line per check (✓ ok, ! warn, ✗ fail) with what
-- to do; -o json for scripts. Exits 0 when nothing fails, 1 otherwise. The checks are
-- kina.doctor's; create's preflight runs the runtime ones through the same code.
local kina = require "kina"
local args = require "kina.args"
local json = require "kina.json"
local doctor = require "kina.doctor"

local command = {
  usage = "kina doctor [flags]",
  summary = "Checks the container runtime (Apple's on a Mac; podman or Docker on Linux), this machine and, with --config, what a cluster config asks for.",
  outputs = { "json" },
  flags = {
    { name = "config", kind = "string", metavar = "FILE", complete = "files", help = "also check memory, disk and host ports for this cluster config" },
    args.NAME,
    args.OUTPUT,
    args.VERBOSE, args.QUIET,
  },
}
local opts = args.command(command, { ... })
if not opts then return 0 end

local name = opts.given and opts.given.name and opts.name or nil
local model = opts.config and kina.config(opts.config, { name = name }) or nil
local checks = kina.run(function(k)
  return doctor.run{ provider = kina.provider{ scheduler = k }, scheduler = k, model = model,
    cluster = name or (model and model.name) or os.getenv("KINA_CLUSTER_NAME") }
end)

local MARKS = { ok = "✓", warn = "!", fail = "✗" }
if opts.output == "json" then
  local out = {}
  for i, c in ipairs(checks) do
    out[i] = { name = c.name, status = c.status, message = c.message, hint = c.hint }
  end
  io.stdout:write(json.encode({ ok = doctor.passed(checks), checks = json.array(out) }), "\n")
else
  for _, c in ipairs(checks) do
    if not (opts.quiet and c.status == "ok") then
      io.stdout:write((" %s %s: %s\n"):format(MARKS[c.status], c.name, c.message))
      if c.hint and c.status ~= "ok" then io.stdout:write("     hint: ", c.hint, "\n") end
    end
  end
end
return doctor.passed(checks) and 0 or 1
