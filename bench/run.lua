-- make bench: kina's figures beside a named baseline measured in the same run.
-- Ratios matter, not absolute times: these machines are shared and noisy. Each figure is the
-- median of several runs; every scenario runs in its own process.
local host = package.loaded["kina.host"] or {}
local root = host.root or "."
local kina_bin = (host.exe or (root .. "/build/kina"))

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  assert(p:close(), "failed: " .. cmd)
  return out
end
local function median(list)
  table.sort(list)
  return list[(#list + 1) // 2]
end
local function measure(times, cmd)
  local secs, rss = {}, {}
  for i = 1, times do
    local s, r = sh(cmd):match("([%d.]+)%s*(%d*)")
    secs[i], rss[i] = tonumber(s), tonumber(r) or 0
  end
  return median(secs), median(rss)
end

local function lua_cmd(script, ...)
  local args = { ... }
  for i, a in ipairs(args) do args[i] = q(a) end
  return ("LUA_PATH=%s %s %s %s"):format(q(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;"), "lua5.4",
    q(root .. "/bench/" .. script), table.concat(args, " "))
end
local function kina_cmd(script, ...)
  local args = { ... }
  for i, a in ipairs(args) do args[i] = q(a) end
  return ("%s run %s %s"):format(q(kina_bin), q(root .. "/bench/" .. script), table.concat(args, " "))
end

local only = arg[1]
print(("# kina benchmarks — %s — %s, %s cores"):format(os.date("!%Y-%m-%d"),
  sh("uname -sm"):gsub("\n", ""), sh("getconf _NPROCESSORS_ONLN 2>/dev/null || echo ?"):gsub("\n", "")))
print()

if not only or only == "spawn" then
  local n, c, reps = 2000, 8, 5
  -- interleaved, so that the machine's slow moments fall on all three alike
  local kt, lt, pt = {}, {}, {}
  for i = 1, reps do
    kt[i] = measure(1, kina_cmd("spawn_kina.lua", n, c))
    lt[i] = measure(1, lua_cmd("spawn_luv.lua", n, c))
    pt[i] = measure(1, lua_cmd("spawn_popen.lua", n))
  end
  local kina_t, luv_t, popen_t = median(kt), median(lt), median(pt)
  print(("## 1. %d runs of /bin/true, %d at a time (median of %d, interleaved)"):format(n, c, reps))
  print()
  print("| runner | wall time | vs luv uv.spawn |")
  print("|---|---|---|")
  print(("| kina runner + scheduler | %.3f s | %.2f× |"):format(kina_t, kina_t / luv_t))
  print(("| luv `uv.spawn` (baseline) | %.3f s | 1.00× |"):format(luv_t))
  print(("| `io.popen`, one after another | %.3f s | %.2f× |"):format(popen_t, popen_t / luv_t))
  print()
  print(("kina is %.2f× luv's time (goal ≤ 1.0×) and %.1f× faster than io.popen (goal ≥ 3×)."):format(
    kina_t / luv_t, popen_t / kina_t))
  print()
end

if not only or only == "pipe" then
  local size_mib = tonumber(os.getenv("KINA_BENCH_MIB") or 1024)
  local file = os.tmpname()
  sh(("head -c %d /dev/zero > %s"):format(size_mib * 1024 * 1024, q(file)))
  local shell_t = measure(3, lua_cmd("shell_pipeline.lua", file))
  local stdin_t, stdin_rss = measure(3, kina_cmd("pipe_throughput.lua", "stdin", file))
  local pipe_t, pipe_rss = measure(3, kina_cmd("pipe_throughput.lua", "pipe", file))
  os.remove(file)
  local function mibs(t) return size_mib / t end
  print(("## 2. %d MiB from a file into `cat > /dev/null` (median of 3)"):format(size_mib))
  print()
  print("| path | throughput | vs shell pipeline | kina peak RSS |")
  print("|---|---|---|---|")
  print(("| runner stdin from the file | %.0f MiB/s | %.2f× | %.1f MiB |"):format(mibs(stdin_t), shell_t / stdin_t, stdin_rss / 1024))
  print(("| runner child-to-child pipe (`cat FILE` → `cat`) | %.0f MiB/s | %.2f× | %.1f MiB |"):format(mibs(pipe_t), shell_t / pipe_t, pipe_rss / 1024))
  print(("| `sh -c 'cat FILE | cat > /dev/null'` (baseline) | %.0f MiB/s | 1.00× | — |"):format(mibs(shell_t)))
  print()
  print("Goal: ≥ 0.8× the shell pipeline; peak RSS ≤ 32 MiB whatever the size.")
  print()
end

---------------------------------------------------------------------------------------------
-- Workflows, against the `container` simulator (issues 4 and 6). Every measurement gets a fresh
-- simulator state, HOME and KUBECONFIG.
local sim = root .. "/build/sim/container"
local function world(extra)
  local dir = sh("mktemp -d"):gsub("\n", "")
  local env = { KINA_CONTAINER = sim, KINA_SIM_STATE = dir .. "/state", HOME = dir, KUBECONFIG = dir .. "/kubeconfig",
    KINA_SIM_BOOT_DELAY = "50", KINA_SIM_READY_DELAY = "50" }
  for k, v in pairs(extra or {}) do env[k] = v end
  local prefix = { "env" }
  for k, v in pairs(env) do prefix[#prefix + 1] = q(k .. "=" .. v) end
  return table.concat(prefix, " "), dir
end
local function in_world(extra, cmd)
  local prefix, dir = world(extra)
  local out = sh(prefix .. " " .. cmd)
  sh("rm -rf " .. q(dir))
  return out
end
local function measure_fresh(times, extra, cmd)
  local secs, rss = {}, {}
  for i = 1, times do
    local s, r = in_world(extra, cmd):match("([%d.]+)%s*(%d*)")
    secs[i], rss[i] = tonumber(s), tonumber(r) or 0
  end
  return median(secs), median(rss)
end

if not only or only == "provider" then
  local lat = { KINA_SIM_LATENCY = "1000" }
  local one = measure_fresh(3, lat, kina_cmd("provider_nodes.lua", 1, 1))
  local six = measure_fresh(3, lat, kina_cmd("provider_nodes.lua", 6, 6))
  local seq = measure_fresh(1, lat, kina_cmd("provider_nodes.lua", 6, 1))
  print("## 3. Six nodes through the provider, 1 s simulated VM start (median of 3)")
  print()
  print("| | wall time | vs one node |")
  print("|---|---|---|")
  print(("| one node (baseline) | %.2f s | 1.00× |"):format(one))
  print(("| six nodes at once | %.2f s | %.2f× |"):format(six, six / one))
  print(("| six nodes one after another | %.2f s | %.2f× |"):format(seq, seq / one))
  print()
  print(("Six nodes take %.2f× one node (goal ≤ 1.3×), %.1f× faster than one after another."):format(six / one, seq / six))
  print()
end

if not only or only == "create" then
  local lat = { KINA_SIM_LATENCY = "1000" }
  local one = measure_fresh(1, lat, kina_cmd("create_cluster.lua", 0, 16))
  local six = measure_fresh(1, lat, kina_cmd("create_cluster.lua", 5, 16))
  local seq = measure_fresh(1, lat, kina_cmd("create_cluster.lua", 5, 1))
  print("## 4. `create` of 1 control plane + 5 workers, 1 s simulated latency per run/start/exec")
  print()
  print("| | wall time | vs the same steps one command at a time |")
  print("|---|---|---|")
  print(("| 1+5 nodes, kina (concurrent) | %.1f s | %.2f× |"):format(six, six / seq))
  print(("| 1+5 nodes, one command at a time (`kina.scheduler{max = 1}`, baseline) | %.1f s | 1.00× |"):format(seq))
  print(("| 1 node, kina | %.1f s | %.2f× |"):format(one, one / seq))
  print()
  print(("1+5 nodes take %.2f× a single node's create and %.2f× the sequential run."):format(six / one, six / seq))
  print()
end

if not only or only == "ha" then
  -- issue 12: the control planes join one after another (each then registered with etcd by
  -- name); everything else, the workers' joins included, runs beside them
  local lat = { KINA_SIM_LATENCY = "1000" }
  local base = measure_fresh(1, lat, kina_cmd("create_cluster.lua", 2, 16, 1))
  local ha = measure_fresh(1, lat, kina_cmd("create_cluster.lua", 2, 16, 3))
  print("## 4c. `create` of 3 control planes + 2 workers, 1 s simulated latency per run/start/exec")
  print()
  print("| | wall time | vs 1 control plane + 2 workers |")
  print("|---|---|---|")
  print(("| 1 control plane + 2 workers (baseline) | %.1f s | 1.00× |"):format(base))
  print(("| 3 control planes + 2 workers, behind the load balancer | %.1f s | %.2f× |"):format(ha, ha / base))
  print()
  print(("The 2 extra control planes add %.1f s: %.1f s each, joined one after another."):format(ha - base, (ha - base) / 2))
  print()
end

if not only or only == "restart" then
  local lat = { KINA_SIM_LATENCY = "1000" }
  local out = in_world(lat, kina_cmd("restart_cluster.lua", 3))
  local create_t, start_t = out:match("([%d.]+)%s+([%d.]+)")
  create_t, start_t = tonumber(create_t), tonumber(start_t)
  print("## 4b. `start` of 1 control plane + 3 workers after `stop` (every IP new), 1 s simulated latency per run/start/exec")
  print()
  print("| | wall time | vs create |")
  print("|---|---|---|")
  print(("| `kina create cluster` of the same nodes (baseline) | %.1f s | 1.00× |"):format(create_t))
  print(("| `kina start cluster`, until every node is Ready and reaches the API server | %.1f s | %.2f× |"):format(start_t, start_t / create_t))
  print()
end

if not only or only == "trips" then
  local prefix, dir = world({ KINA_SIM_LATENCY = "1000" })
  local log = dir .. "/argv.log"
  local out = sh(prefix .. " KINA_SIM_LOG=" .. q(log) .. " " .. kina_cmd("round_trips.lua", log))
  sh("rm -rf " .. q(dir))
  local c1, c6, s4, n1, n6, ns = out:match("([%d.]+)%s+([%d.]+)%s+([%d.]+)%s+(%d+)%s+(%d+)%s+(%d+)")
  c1, c6, s4 = tonumber(c1), tonumber(c6), tonumber(s4)
  print("## 7. Round trips on the critical path (issue 14): 1 s per run/start/exec, so seconds ≈ sequential calls")
  print()
  print("| | wall time | calls in all | before batching (2026-11-23, section 4) | floor: kubeadm and the boot |")
  print("|---|---|---|---|---|")
  print(("| create, 1 node | %.1f s | %s | 25.5 s | run, boot check, kubeadm init: 3 |"):format(c1, n1))
  print(("| create, 1+5 nodes | %.1f s | %s | 26.4 s | run, boot check, init, join: 4 |"):format(c6, n6))
  print(("| start, 1+3 nodes | %.1f s | %s | 16.4 s (2026-12-02, section 4b) | start, boot check: 2 |"):format(s4, ns))
  print()
  print(("Goal: create of 1 node at most 11 s (%.2f× of it), of 1+5 at most 12 s (%.2f×)."):format(c1 / 11, c6 / 12))
  print()
end

if not only or only == "get" then
  local prefix, dir = world()
  local setup = {}
  for c = 1, 20 do
    for n = 1, 5 do
      setup[#setup + 1] = ("%s %s run -d --name c%d-node%d -l io.kina.cluster=c%d -l io.kina.role=worker alpine:3.20 >/dev/null"):format(
        prefix, q(sim), c, n, c)
    end
  end
  sh(table.concat(setup, " && "))
  local kina_t = measure(1, prefix .. " " .. kina_cmd("timed.lua", 9, kina_bin, "get", "clusters"))
  local list_t = measure(1, prefix .. " " .. kina_cmd("timed.lua", 9, sim, "list", "--all", "--format", "json"))
  sh("rm -rf " .. q(dir))
  print("## 5. `kina get clusters` on 100 containers of 20 clusters (median of 9)")
  print()
  print("| | wall time | vs `container list` |")
  print("|---|---|---|")
  print(("| `kina get clusters` | %.0f ms | %.2f× |"):format(kina_t * 1000, kina_t / list_t))
  print(("| `container list --all --format json` (baseline, the simulator) | %.0f ms | 1.00× |"):format(list_t * 1000))
  print()
  print(("kina takes %.2f× one bare list of the same state (goal ≤ 1.2×)."):format(kina_t / list_t))
  print()
end

if not only or only == "load" then
  local prefix, dir = world()
  local cfg = dir .. "/c.yaml"
  local f = assert(io.open(cfg, "w"))
  f:write("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: load\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n")
  f:close()
  sh(prefix .. " " .. q(kina_bin) .. " create cluster -q --config " .. q(cfg))
  local rows = {}
  for _, mib in ipairs{ 64, 512 } do
    local archive = dir .. "/bench-" .. mib .. ".tar"
    sh(kina_cmd("make_archive.lua", archive, mib))
    local t, rss = measure(1, prefix .. " " .. kina_cmd("load_archive.lua", "load", archive))
    local cat_t = measure(3, lua_cmd("cat_n.lua", archive, 3))
    rows[#rows + 1] = { mib = mib, t = t, rss = rss, cat = cat_t }
  end
  sh("rm -rf " .. q(dir))
  print("## 6. `load image-archive` into 3 nodes")
  print()
  print("| archive | kina wall time | `cat` × 3 (baseline) | ratio | kina peak RSS |")
  print("|---|---|---|---|---|")
  for _, r in ipairs(rows) do
    print(("| %d MiB | %.2f s | %.2f s | %.2f× | %.1f MiB |"):format(r.mib, r.t, r.cat, r.t / r.cat, r.rss / 1024))
  end
  print()
  print("Goal: kina's peak RSS independent of the archive's size. Each node's import streams the file")
  print("(stdin_file); the simulated `ctr import` on the other end reads and hashes every byte.")
  print()
end
