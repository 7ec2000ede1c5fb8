-- Run a command N times; print the median wall time in seconds. (For `kina get clusters` vs
-- `container list`, which are separate programs.)   build/kina run bench/timed.lua N CMD ARGS...
local kina = require "kina"
local n = tonumber(arg[1])
local argv = { table.unpack(arg, 2) }
local times = {}
kina.run(function(k)
  for i = 1, n do
    local r = k:exec{ argv = argv, stdout = "discard" }
    assert(r and r.code == 0, "failed: " .. table.concat(argv, " "))
    times[i] = r.duration
  end
end)
table.sort(times)
io.write(("%.6f\n"):format(times[(n + 1) // 2]))
