-- kina load docker-image — load images from the runtime's image store into the cluster's nodes.
-- `container image save` streams straight into `ctr images import` in every selected node at
-- once (no temporary file on kina's side; Apple's CLI writes one in $TMPDIR); nodes that already have an image are skipped.
local kina = require "kina"
local args = require "kina.args"

local command = {
  usage = "kina load docker-image IMAGE [IMAGE...] [flags]",
  summary = "Loads images into nodes (named docker-image as in kind; the images come from the runtime's image store: Apple's, podman's or Docker's).",
  flags = { args.NAME, { name = "nodes", kind = "list", metavar = "a,b", complete = "nodes", help = "only these nodes" },
    args.OUTPUT, args.VERBOSE, args.QUIET },
  args = { min = 1 },
  outputs = { "json" },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local status = kina.status{ quiet = opts.quiet, verbose = opts.verbose }
local sched <close> = require("kina.async").new{ max = 16 }
-- -v shows each call of the runtime's CLI; a hung one says what kina waits for
local c <close> = kina.cluster{ name = args.cluster_name(opts), status = status,
  scheduler = sched, provider = kina.provider{ scheduler = status:runtime_calls(sched) } }
c.sched:watch_interrupts()
local seen, refs = {}, {}
for _, r in ipairs(opts.args) do if not seen[r] then seen[r] = true; refs[#refs + 1] = r end end
local report = c:load_images(refs, { nodes = opts.nodes })
local names = {}
for n in pairs(report) do names[#names + 1] = n end
table.sort(names)
for _, n in ipairs(names) do
  if report[n] == "present" then status:info(("Image(s) already present on node %q"):format(n))
  else status:info(("Loaded %s into node %q"):format(table.concat(refs, ", "), n)) end
end
if opts.output == "json" then
  local json = require "kina.json"
  local per_node = {}
  for i, n in ipairs(names) do per_node[i] = { name = n, result = report[n] } end -- "loaded" | "present"
  require("kina.output").write{ name = c.name, images = json.array(refs), nodes = json.array(per_node) }
end
return 0
