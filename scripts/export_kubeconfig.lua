-- kina export kubeconfig — merge the cluster's entries into the kubeconfig file and make it the
-- current context (under the file's lock; every other entry is kept).
local kina = require "kina"
local args = require "kina.args"
local kubeconfig = require "kina.kubeconfig"

local command = {
  usage = "kina export kubeconfig [flags]",
  summary = "Merges the cluster's kubeconfig into $KUBECONFIG (or ~/.kube/config, or --kubeconfig).",
  flags = { args.NAME, args.KUBECONFIG, { name = "internal", kind = "boolean", help = "use the control plane's address inside the node network" },
    args.OUTPUT, args.VERBOSE, args.QUIET },
  outputs = { "json" },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local status = kina.status{ quiet = opts.quiet, verbose = opts.verbose }
local sched <close> = require("kina.async").new{ max = 16 }
-- -v shows each call of the runtime's CLI; a hung one says what kina waits for
local c <close> = kina.cluster{ name = args.cluster_name(opts), kubeconfig = opts.kubeconfig, status = status,
  scheduler = sched, provider = kina.provider{ scheduler = status:runtime_calls(sched) } }
local path = c:export_kubeconfig{ internal = opts.internal }
status:info(("Set kubectl context to %q"):format(kubeconfig.key(c.name)))
if opts.output == "json" then
  require("kina.output").write{ name = c.name, context = kubeconfig.key(c.name), kubeconfig = path }
end
return 0
