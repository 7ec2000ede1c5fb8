-- kina delete clusters — delete the named clusters, or every kina cluster with --all.
-- Each failure is reported and the others are still deleted; the exit status is 1 if any failed.
local kina = require "kina"
local args = require "kina.args"

local command = {
  usage = "kina delete clusters (--all | NAME...) [flags]",
  summary = "Deletes several clusters, one after another.",
  flags = { { name = "all", short = "A", kind = "boolean", help = "delete every kina cluster" }, args.KUBECONFIG,
    args.OUTPUT, args.VERBOSE, args.QUIET },
  args = { min = 0, complete = "clusters" },
  outputs = { "json" },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
if not opts.all and #opts.args == 0 then
  error(args.usage_error("no cluster names provided", args.help(command)), 0)
end
if opts.all and #opts.args > 0 then
  error(args.usage_error("give cluster names or --all, not both", args.help(command)), 0)
end
local status = kina.status{ quiet = opts.quiet, verbose = opts.verbose }
local names = opts.args
if opts.all then
  names = kina.run(function(k)
    local seen, out = {}, {}
    for _, n in ipairs(kina.provider{ scheduler = k }:list()) do
      if not seen[n.cluster] then seen[n.cluster] = true; out[#out + 1] = n.cluster end
    end
    table.sort(out)
    return out
  end)
end
local deleted, failed = {}, {}
for _, name in ipairs(names) do
  local c <close> = kina.cluster{ name = name, kubeconfig = opts.kubeconfig, status = status }
  local ok, err = pcall(c.delete, c)
  if ok then deleted[#deleted + 1] = name
  else
    failed[#failed + 1] = { name = name, error = tostring(err) }
    status:warn(("failed to delete cluster %q: %s"):format(name, tostring(err)))
  end
end
local quoted = {}
for i, n in ipairs(deleted) do quoted[i] = ("%q"):format(n) end
status:info(("Deleted clusters: [%s]"):format(table.concat(quoted, " ")))
if opts.output == "json" then
  -- every cluster was tried: the document says which went and which did not, also when the
  -- exit status is 1 (as doctor's does when a check fails)
  local json = require "kina.json"
  require("kina.output").write{ deleted = json.array(deleted), failed = json.array(failed) }
end
return #failed == 0 and 0 or 1
