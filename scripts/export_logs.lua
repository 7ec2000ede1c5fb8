-- kina export logs — collect node logs, journals, configs and kubectl views into a directory
-- (kind's layout). The directory is printed on stdout so scripts can capture it.
local kina = require "kina"
local args = require "kina.args"

local command = {
  usage = "kina export logs [DIR] [flags]",
  summary = "Exports the cluster's logs to DIR (default: a new temporary directory).",
  flags = { args.NAME, args.OUTPUT, args.VERBOSE, args.QUIET },
  args = { min = 0, max = 1, complete = "dirs" },
  outputs = { "json" },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local status = kina.status{ quiet = opts.quiet, verbose = opts.verbose }
local sched <close> = require("kina.async").new{ max = 16 }
local c <close> = kina.cluster{ name = args.cluster_name(opts), status = status, scheduler = sched,
  provider = kina.provider{ scheduler = status:runtime_calls(sched) } } -- -v: each call of the runtime's CLI
-- a cluster that does not exist gets no (empty, temporary) directory
if #c:nodes() == 0 then error(("unknown cluster %q"):format(c.name), 0) end
local dir = opts.args[1]
if not dir then dir = assert(require("luv").fs_mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/kina-logs-XXXXXX")) end
status:info(("Exporting logs for cluster %q to:"):format(c.name))
-- at once, so a script has the directory even if the export stops; with -o json at the end
if opts.output ~= "json" then
  io.stdout:write(dir, "\n")
  io.stdout:flush()
end
local uv = require "luv"
local u = uv.os_uname()
local _, problems = c:export_logs(dir, ("kina v%s %s %s/%s"):format(kina._VERSION, _VERSION, u.sysname:lower(), u.machine))
-- The node logs are what the export is for; the rest (kubectl views, kubelet config, ...) may
-- not exist yet on a cluster whose create failed and was kept with --retain.
local NODE_LOGS = { ["serial.log"] = true, ["journal.log"] = true, ["kubelet.log"] = true, ["containerd.log"] = true }
local failed, missing = {}, {}
for _, p in ipairs(problems) do
  p = p:gsub("%s+$", "")
  local file = p:match("^[^/]+/([^:]+):")
  if NODE_LOGS[file] then failed[#failed + 1] = p else missing[#missing + 1] = p end
end
if #missing > 0 then
  status:warn(("not collected (a cluster whose create failed may not have them yet):\n  %s"):format(table.concat(missing, "\n  ")))
end
if #failed > 0 then
  error(("node logs could not be collected:\n  %s"):format(table.concat(failed, "\n  ")), 0)
end
if opts.output == "json" then
  require("kina.output").write{ name = c.name, dir = dir, not_collected = require("kina.json").array(missing) }
end
return 0
