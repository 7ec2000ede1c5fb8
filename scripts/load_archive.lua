-- kina load image-archive — load image tar archives into the cluster's nodes, streaming each file
-- into `ctr images import` on every selected node at once.
local kina = require "kina"
local args = require "kina.args"

local command = {
  usage = "kina load image-archive ARCHIVE.tar [ARCHIVE.tar...] [flags]",
  summary = "Loads image archives (docker save / container image save tars) into nodes.",
  flags = { args.NAME, { name = "nodes", kind = "list", metavar = "a,b", complete = "nodes", help = "only these nodes" },
    args.OUTPUT, args.VERBOSE, args.QUIET },
  args = { min = 1, complete = "files" },
  outputs = { "json" },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local status = kina.status{ quiet = opts.quiet, verbose = opts.verbose }
if #opts.args > 1 then
  status:warn("it is faster to save several images into one archive and load that")
end
local sched <close> = require("kina.async").new{ max = 16 }
-- -v shows each call of the runtime's CLI; a hung one says what kina waits for
local c <close> = kina.cluster{ name = args.cluster_name(opts), status = status,
  scheduler = sched, provider = kina.provider{ scheduler = status:runtime_calls(sched) } }
c.sched:watch_interrupts()
local nodes = c:load_archives(opts.args, { nodes = opts.nodes })
for _, n in ipairs(nodes) do status:info(("Loaded %s into node %q"):format(table.concat(opts.args, ", "), n.name)) end
if opts.output == "json" then
  local json = require "kina.json"
  local per_node = {}
  for i, n in ipairs(nodes) do per_node[i] = { name = n.name, result = "loaded" } end
  table.sort(per_node, function(a, b) return a.name < b.name end)
  require("kina.output").write{ name = c.name, archives = json.array(opts.args), nodes = json.array(per_node) }
end
return 0
