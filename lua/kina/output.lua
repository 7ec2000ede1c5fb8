--- kina.output — what the commands' `-o json` print: one JSON document on stdout, written only
-- once the command has its result, so a command that ends in an ERROR (on stderr, exit 1) leaves
-- stdout empty, as kind's commands do. Progress lines stay on stderr (kina.status).
-- The shapes are listed in the README ("JSON output").
local json = require "kina.json"

local M = {}

--- A provider node (kina.provider.apple's list record) as `get nodes -o json` shows it.
function M.node(n)
  return { name = n.name, cluster = n.cluster, role = n.role, state = n.state, ip = n.ip, image = n.image,
    labels = n.labels, ports = json.array(n.ports or {}), created = n.created, started = n.started }
end

--- The nodes as M.node shows them, in their order, as a JSON array.
function M.nodes(nodes)
  local out = {}
  for i, n in ipairs(nodes) do out[i] = M.node(n) end
  return json.array(out)
end

--- The names of `nodes` (records or names), sorted, as a JSON array.
function M.names(nodes)
  local out = {}
  for i, n in ipairs(nodes) do out[i] = type(n) == "table" and n.name or n end
  table.sort(out)
  return json.array(out)
end

--- Write `doc` as one line of JSON to stdout (`out`, for specs).
function M.write(doc, out)
  out = out or io.stdout
  out:write(json.encode(doc), "\n")
  out:flush()
end

return M
