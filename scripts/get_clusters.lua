-- kina get clusters — one line per cluster (any node state), sorted, with its state: running,
-- stopped, or partly running (`kina start cluster` brings the rest up); -o json for scripts.
local kina = require "kina"
local args = require "kina.args"
local json = require "kina.json"
local columns = require "kina.columns"
local lifecycle = require "kina.lifecycle"

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
  local by_name, out, members = {}, {}, {}
  for _, n in ipairs(kina.provider{ scheduler = k }:list()) do
    local c = by_name[n.cluster]
    if not c then
      c = { name = n.cluster, nodes = 0, running = 0 }
      by_name[n.cluster] = c
      members[c] = {}
      out[#out + 1] = c
    end
    c.nodes = c.nodes + 1
    if n.state == "running" then c.running = c.running + 1 end
    table.insert(members[c], n)
  end
  for _, c in ipairs(out) do c.state = lifecycle.state(members[c]) end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end)
if opts.output == "json" then
  io.stdout:write(json.encode(json.array(clusters)), "\n")
elseif #clusters == 0 then
  if not opts.quiet then io.stderr:write("No kina clusters found.\n") end
else
  local rows = { { "NAME", "STATE", "NODES" } }
  for _, c in ipairs(clusters) do
    local state = c.state == "partly running" and ("partly running (%d of %d): kina start cluster --name %s"):format(c.running, c.nodes, c.name)
      or c.state
    rows[#rows + 1] = { c.name, state, tostring(c.nodes) }
  end
  io.stdout:write(columns.render(rows))
end
return 0
