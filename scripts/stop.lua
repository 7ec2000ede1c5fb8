-- kina stop cluster — stop every node of a cluster, giving systemd time to shut down cleanly.
-- kind has no such command; on Apple's runtime each node is a VM worth stopping when idle.
local kina = require "kina"
local args = require "kina.args"

local command = {
  usage = "kina stop cluster [flags]",
  summary = "Stops a cluster's nodes; `kina start cluster` starts them again.",
  flags = { args.NAME, { name = "time", kind = "integer", default = 30, metavar = "SECONDS", help = "time for systemd to shut down before the node is killed" },
    args.OUTPUT, args.VERBOSE, args.QUIET },
  outputs = { "json" },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local status = kina.status{ quiet = opts.quiet, verbose = opts.verbose }
local sched <close> = require("kina.async").new{ max = 16 }
-- -v shows each call of the runtime's CLI; a hung one says what kina waits for
local c <close> = kina.cluster{ name = args.cluster_name(opts), status = status,
  scheduler = sched, provider = kina.provider{ scheduler = status:runtime_calls(sched) } }
status:start(("Stopping cluster %q"):format(c.name))
local ok, nodes = pcall(c.stop, c, { time = opts.time })
status:finish(ok)
if not ok then error(nodes, 0) end
if opts.output == "json" then
  -- the nodes as they were: those running were stopped, the others already were
  local output = require "kina.output"
  local stopped = {}
  for _, n in ipairs(nodes) do if n.state == "running" then stopped[#stopped + 1] = n.name end end
  output.write{ name = c.name, nodes = output.names(nodes), stopped = output.names(stopped) }
end
return 0
