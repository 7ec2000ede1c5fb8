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
  local kina_t = measure(reps, kina_cmd("spawn_kina.lua", n, c))
  local luv_t = measure(reps, lua_cmd("spawn_luv.lua", n, c))
  local popen_t = measure(3, lua_cmd("spawn_popen.lua", n))
  print(("## 1. %d runs of /bin/true, %d at a time (median of %d)"):format(n, c, reps))
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
