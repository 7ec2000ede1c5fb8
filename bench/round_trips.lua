-- The sequential runtime calls of create (1 node, 1+5) and start (1+3), with the simulator at
-- 1 s per run/start/exec (KINA_SIM_LATENCY=1000: other calls cost nothing): the wall time in
-- seconds is the length of the critical path in calls. Prints "<create1> <create6> <start4>
-- <calls1> <calls6> <callsstart>" (wall times, then the latency-bearing calls in the argv log).
--   build/kina run bench/round_trips.lua LOG
local kina = require "kina"
local log = arg[1]
local function count()
  local f = io.open(log, "rb")
  if not f then return 0 end
  local n = 0
  for line in f:lines() do
    local op = line:match('^%["([^"]+)"')
    if op == "run" or op == "start" or op == "exec" then n = n + 1 end
  end
  f:close()
  os.remove(log)
  return n
end
local function nodes(workers)
  local list = { { role = "control-plane" } }
  for _ = 1, workers do list[#list + 1] = { role = "worker" } end
  return list
end
local out = {}
local calls = {}
for _, spec in ipairs({ { "one", 0 }, { "six", 5 } }) do
  local sched <close> = kina.scheduler{ max = 16 }
  local cl <close> = kina.cluster{ name = spec[1], config = { nodes = nodes(spec[2]) }, scheduler = sched,
    status = kina.status{ quiet = true } }
  count()
  local t0 = kina.async.now()
  cl:create()
  out[#out + 1] = kina.async.now() - t0
  calls[#calls + 1] = count()
end
do
  local sched <close> = kina.scheduler{ max = 16 }
  local cl <close> = kina.cluster{ name = "four", config = { nodes = nodes(3) }, scheduler = sched,
    status = kina.status{ quiet = true } }
  cl:create()
  cl:stop{ time = 1 }
  count()
  local t0 = kina.async.now()
  cl:start{ wait = 300 }
  out[#out + 1] = kina.async.now() - t0
  calls[#calls + 1] = count()
end
io.write(("%.6f %.6f %.6f %d %d %d\n"):format(out[1], out[2], out[3], calls[1], calls[2], calls[3]))
