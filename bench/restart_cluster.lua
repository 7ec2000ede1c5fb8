-- Create a cluster of 1 control plane + W workers, stop it, then time `create` and `start`
-- (every node comes back with a new IP). Prints "<create seconds> <start seconds>".
--   build/kina run bench/restart_cluster.lua W
local kina = require "kina"
local workers = tonumber(arg[1])
local nodes = { { role = "control-plane" } }
for _ = 1, workers do nodes[#nodes + 1] = { role = "worker" } end
local sched <close> = kina.scheduler{ max = 16 }
local cl <close> = kina.cluster{ name = "bench", config = { nodes = nodes }, scheduler = sched,
  status = kina.status{ quiet = true } }
local t0 = kina.async.now()
cl:create()
local created = kina.async.now() - t0
cl:stop{ time = 1 }
t0 = kina.async.now()
cl:start{ wait = 300 }
io.write(("%.6f %.6f\n"):format(created, kina.async.now() - t0))
