-- N nodes through the Apple provider against the simulator, C at a time. Prints seconds.
--   build/kina run bench/provider_nodes.lua N C     (KINA_CONTAINER, KINA_SIM_* set by run.lua)
local kina = require "kina"
local n, c = tonumber(arg[1]), tonumber(arg[2])
local t0 = kina.async.now()
kina.run(function(k)
  local p = kina.provider{ scheduler = k }
  local tasks = {}
  for i = 1, n do
    tasks[i] = k:go(function()
      p:create{ name = "bench-node" .. i, cluster = "bench", role = "worker",
        image = "kindest/node:v1.35.5", cpus = 2, memory = "2G" }
    end)
  end
  for _, t in ipairs(tasks) do k:join(t) end
end, { max = c })
io.write(("%.6f\n"):format(kina.async.now() - t0))
