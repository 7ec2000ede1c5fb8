-- kina export logs — collect node logs, journals, configs and kubectl views into a directory
-- (kind's layout). The directory is printed on stdout so scripts can capture it.
local kina = require "kina"
local args = require "kina.args"

local command = {
  usage = "kina export logs [DIR] [flags]",
  summary = "Exports the cluster's logs to DIR (default: a new temporary directory).",
  flags = { args.NAME, args.VERBOSE, args.QUIET },
  args = { min = 0, max = 1 },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local dir = opts.args[1]
if not dir then dir = assert(require("luv").fs_mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/kina-logs-XXXXXX")) end
local status = kina.status{ quiet = opts.quiet, verbose = opts.verbose }
local c <close> = kina.cluster{ name = args.cluster_name(opts), status = status }
status:info(("Exporting logs for cluster %q to:"):format(c.name))
io.stdout:write(dir, "\n")
io.stdout:flush()
local uv = require "luv"
local u = uv.os_uname()
local _, problems = c:export_logs(dir, ("kina v%s %s %s/%s"):format(kina._VERSION, _VERSION, u.sysname:lower(), u.machine))
if #problems > 0 then
  error(("some logs could not be collected:\n  %s"):format(table.concat(problems, "\n  ")), 0)
end
return 0
