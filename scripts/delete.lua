-- kina delete cluster — delete a cluster's nodes, its network and its kubeconfig entries.
-- Deleting a cluster that does not exist is not an error (as kind: "like rm -f").
local kina = require "kina"
local args = require "kina.args"

local command = {
  usage = "kina delete cluster [flags]",
  summary = "Deletes a cluster: kubeconfig entries, then nodes, then the network kina made for it.",
  flags = { args.NAME, args.KUBECONFIG, args.OUTPUT, args.VERBOSE, args.QUIET },
  outputs = { "json" },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local status = kina.status{ quiet = opts.quiet, verbose = opts.verbose }
local sched <close> = require("kina.async").new{ max = 16 }
-- -v shows each call of the runtime's CLI; a hung one says what kina waits for
local c <close> = kina.cluster{ name = args.cluster_name(opts), kubeconfig = opts.kubeconfig, status = status,
  scheduler = sched, provider = kina.provider{ scheduler = status:runtime_calls(sched) } }
status:info(("Deleting cluster %q ..."):format(c.name))
local names = c:delete()
local quoted = {}
for i, n in ipairs(names) do quoted[i] = ("%q"):format(n) end
status:info(("Deleted nodes: [%s]"):format(table.concat(quoted, " ")))
if opts.output == "json" then
  local output = require "kina.output"
  output.write{ name = c.name, nodes = output.names(names) }
end
return 0
