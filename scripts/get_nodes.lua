-- kina get nodes — a cluster's nodes: name, role, state and IP (-o json for every field).
local kina = require "kina"
local args = require "kina.args"

local command = {
  usage = "kina get nodes [flags]",
  summary = "Lists the nodes of a cluster (or of every cluster with --all-clusters).",
  outputs = { "json" },
  flags = { args.NAME, { name = "all-clusters", short = "A", kind = "boolean", help = "nodes of every cluster" },
    args.OUTPUT,
    args.VERBOSE, args.QUIET },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local name = args.cluster_name(opts)
local status = kina.status{ quiet = opts.quiet, verbose = opts.verbose }
local nodes = kina.run(function(k)
  local p = kina.provider{ scheduler = status:runtime_calls(k) } -- -v: each call of the runtime's CLI
  return p:list{ labels = (not opts.all_clusters) and { ["io.kina.cluster"] = name } or nil }
end)
if opts.output == "json" then
  require("kina.output").write(require("kina.output").nodes(nodes))
elseif #nodes == 0 then
  if not opts.quiet then
    io.stderr:write(opts.all_clusters and "No kina nodes for any cluster.\n" or ("No kina nodes found for cluster %q.\n"):format(name))
  end
else
  -- kina's own columns (kind's `get nodes` prints names only), so they are named
  local rows = { { "NAME", "ROLE", "STATE", "IP" } }
  for _, n in ipairs(nodes) do rows[#rows + 1] = { n.name, n.role or "-", n.state or "-", n.ip or "-" } end
  io.stdout:write(require("kina.columns").render(rows))
end
return 0
