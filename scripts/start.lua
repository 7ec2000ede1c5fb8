-- kina start cluster — start a stopped cluster's nodes, prepare them again, and rewrite the
-- kubeconfig. Apple's runtime may give a node a new IP on start; kina says so when it happens.
local kina = require "kina"
local args = require "kina.args"

local command = {
  usage = "kina start cluster [flags]",
  summary = "Starts a cluster stopped with `kina stop cluster`.",
  flags = { args.NAME, args.KUBECONFIG, args.VERBOSE, args.QUIET },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local status = kina.status{ quiet = opts.quiet, verbose = opts.verbose }
local c <close> = kina.cluster{ name = args.cluster_name(opts), kubeconfig = opts.kubeconfig, status = status }
status:start(("Starting cluster %q"):format(c.name))
local ok, warnings = pcall(c.start, c)
status:finish(ok)
if not ok then error(warnings, 0) end
for _, w in ipairs(warnings) do status:warn(w) end
status:info(("Set kubectl context to %q"):format(require("kina.kubeconfig").key(c.name)))
return 0
