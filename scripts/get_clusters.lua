-- kina get clusters — one line per cluster (any node state), sorted; -o json for scripts.
local kina = require "kina"
local args = require "kina.args"
local json = require "kina.json"

local command = {
  usage = "kina get clusters [flags]",
  summary = "Lists kina's clusters: every cluster with at least one node, running or not.",
  outputs = { "json" },
  flags = { args.OUTPUT,
    args.VERBOSE, args.QUIET },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local clusters = kina.run(function(k)
  local by_name, out = {}, {}
  for _, n in ipairs(kina.provider{ scheduler = k }:list()) do
    local c = by_name[n.cluster]
    if not c then
      c = { name = n.cluster, nodes = 0, running = 0 }
      by_name[n.cluster] = c
      out[#out + 1] = c
    end
    c.nodes = c.nodes + 1
    if n.state == "running" then c.running = c.running + 1 end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end)
if opts.output == "json" then
  io.stdout:write(json.encode(json.array(clusters)), "\n")
elseif #clusters == 0 then
  if not opts.quiet then io.stderr:write("No kina clusters found.\n") end
else
  for _, c in ipairs(clusters) do io.stdout:write(c.name, "\n") end
end
return 0
