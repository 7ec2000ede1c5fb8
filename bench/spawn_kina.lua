-- N runs of /bin/true, C at a time, through kina's runner and scheduler. Prints seconds.
-- Output goes to /dev/null, as with the luv baseline's ignored stdio.
local kina = require "kina"
local n, c = tonumber(arg[1] or 2000), tonumber(arg[2] or 8)
local t0 = kina.async.now()
kina.run(function(k)
  local jobs = {}
  for i = 1, n do jobs[i] = k:spawn{ argv = { "/bin/true" }, stdout = "discard", stderr = "discard" } end
  for i = 1, n do assert(k:await(jobs[i]).code == 0) end
end, { max = c })
io.write(("%.6f\n"):format(kina.async.now() - t0))
