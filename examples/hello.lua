-- hello.lua — three commands at once through kina's public API.
--   build/kina run examples/hello.lua
-- Each command sleeps a little and prints; they overlap, so the whole run takes about as long as
-- the slowest, not the sum.
local kina = require "kina"

kina.run(function(k)
  local t0 = kina.async.now()
  local jobs = {
    k:spawn{ argv = { "sh", "-c", "sleep 0.3; echo hello from $0", "one" } },
    k:spawn{ argv = { "sh", "-c", "sleep 0.2; uname -s" } },
    k:spawn{ argv = { "sh", "-c", "sleep 0.1; echo to stderr >&2; exit 3" } },
  }
  local results = k:await_all(jobs)
  local function trim(s) return (s:gsub("\n$", "")) end
  for i, r in ipairs(results) do
    print(("[%d] %-44s exit %s  %4.0f ms  stdout=%q stderr=%q"):format(
      i, table.concat(r.argv, " "), tostring(r.code), r.duration * 1000, trim(r.stdout), trim(r.stderr)))
  end
  local total, sum = kina.async.now() - t0, 0
  for _, r in ipairs(results) do sum = sum + r.duration end
  print(("3 commands in %.0f ms (%.0f ms if run one after another)"):format(total * 1000, sum * 1000))
end)
