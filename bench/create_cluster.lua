-- Create a cluster of P control planes (default 1) + W workers, at most C processes at a time
-- (C = 1 runs every step's commands one after another). Prints seconds.
--   build/kina run bench/create_cluster.lua W C [P]
local kina = require "kina"
local workers, c, cps = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3] or "1")
local nodes = {}
for _ = 1, cps do nodes[#nodes + 1] = { role = "control-plane" } end
for _ = 1, workers do nodes[#nodes + 1] = { role = "worker" } end
local sched <close> = kina.scheduler{ max = c }
local cl <close> = kina.cluster{ name = "bench", config = { nodes = nodes }, scheduler = sched,
  status = kina.status{ quiet = true } }
local t0 = kina.async.now()
cl:create()
io.write(("%.6f\n"):format(kina.async.now() - t0))
