-- kina start cluster — start a cluster's stopped nodes (after `kina stop cluster`, `container
-- stop`, a runtime restart or a reboot), bring it back to health and rewrite the kubeconfig.
-- Every start gives Apple's containers new IPs; kina.lifecycle says what start does about it.
-- Exits 0 only when every node is Ready and the `kubernetes` Service answers from every node.
local kina = require "kina"
local args = require "kina.args"
local lifecycle = require "kina.lifecycle"

local command = {
  usage = "kina start cluster [flags]",
  summary = "Starts a cluster's stopped nodes and waits until the cluster is healthy.",
  flags = { args.NAME, args.KUBECONFIG,
    { name = "wait", kind = "duration", default = lifecycle.DEFAULT_WAIT, metavar = "DURATION",
      help = "how long to wait for every node to be Ready and reach the API server (e.g. 60s, 5m)" },
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
status:start(("Starting cluster %q"):format(c.name))
local ok, report = pcall(c.start, c, { wait = opts.wait })
status:finish(ok)
if not ok then error(report, 0) end
for _, line in ipairs(report.changes) do status:info(" • " .. line) end
for _, line in ipairs(report.repairs) do status:info(" • repaired " .. line) end
local context = require("kina.kubeconfig").key(c.name)
status:info(("Set kubectl context to %q"):format(context))
if opts.output == "json" then
  local json, output = require "kina.json", require "kina.output"
  -- the nodes as they are now: every start gives them new IPs
  output.write{ name = c.name, context = context, kubeconfig = report.kubeconfig or json.null,
    changes = json.array(report.changes), repairs = json.array(report.repairs), nodes = output.nodes(c:nodes()) }
end
return 0
