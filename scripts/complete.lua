-- kina __complete — what the shell completion scripts (`kina completion`) ask for at TAB: the
-- cluster names, or the node names of a cluster, one a line. Hidden from `kina help`; the
-- scripts call it with stderr thrown away, so a runtime that is down just offers nothing.
local kina = require "kina"
local args = require "kina.args"

local command = {
  usage = "kina __complete (clusters | nodes) [flags]",
  summary = "Prints cluster names, or the node names of a cluster, one a line (for shell completion).",
  flags = { args.NAME, args.VERBOSE, args.QUIET },
  args = { min = 1, max = 1, complete = { "clusters", "nodes" } },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local what = opts.args[1]
if what ~= "clusters" and what ~= "nodes" then
  error(args.usage_error(("want clusters or nodes, not %q"):format(what), args.help(command)), 0)
end
local names = kina.run(function(k)
  local seen, out = {}, {}
  local labels = what == "nodes" and { ["io.kina.cluster"] = args.cluster_name(opts) } or nil
  for _, n in ipairs(kina.provider{ scheduler = k }:list{ labels = labels }) do
    local name = what == "nodes" and n.name or n.cluster
    if name and not seen[name] then seen[name] = true; out[#out + 1] = name end
  end
  table.sort(out)
  return out
end)
for _, n in ipairs(names) do io.stdout:write(n, "\n") end
return 0
