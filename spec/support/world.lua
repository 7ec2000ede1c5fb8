-- A "world" for end-to-end specs: a fresh simulator state, HOME, KUBECONFIG and argv log, with
-- build/kina and the simulator driven through a kina.async scheduler. (Not a spec itself: the
-- specs load it with dofile.)
local async = require "kina.async"
local apple_core = require "kina.core.apple"
local json = require "kina.json"
local uv = require "luv"

local W = {}

local build = os.getenv("KINA_BUILD") or "build"
W.ROOT = uv.cwd()
W.KINA = W.ROOT .. "/" .. build .. "/kina"
-- KINA_SIM_BIN: the simulator of the build under test (the sanitizer and valgrind runs set it)
W.SIM = os.getenv("KINA_SIM_BIN") or (W.ROOT .. "/" .. build .. "/sim/container")
if W.SIM:sub(1, 1) ~= "/" then W.SIM = W.ROOT .. "/" .. W.SIM end

function W.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function W.write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

--- The names in a directory, sorted; only those of `kind` ("file", "directory") when given.
function W.list_dir(dir, kind)
  local names = {}
  local req = assert(uv.fs_scandir(dir))
  while true do
    local name, k = uv.fs_scandir_next(req)
    if not name then break end
    if kind == nil or k == kind then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

--- The sorted `name`s of a kubeconfig list (clusters, users, contexts); none for a missing one.
function W.names(list)
  local out = {}
  if list == nil or list == json.null then return out end
  for _, e in ipairs(list) do out[#out + 1] = e.name end
  table.sort(out)
  return out
end

--- The most processes whose [started, finished) intervals overlap at one moment.
function W.max_overlap(results)
  local best = 0
  for _, a in ipairs(results) do
    local n = 0
    for _, b in ipairs(results) do
      if b.started <= a.started and a.started < b.finished then n = n + 1 end
    end
    best = math.max(best, n)
  end
  return best
end

--- A new world. opts: prefix (temp dir name), cluster (whose nodes nodes() lists), config (text
-- written to w.config), kubeconfig (text written to w.kubeconfig), timeout (for each command),
-- env (extra environment; false unsets).
function W.new(sched, opts)
  local dir = assert(uv.fs_mkdtemp("/tmp/" .. (opts.prefix or "kina-world") .. "-XXXXXX"))
  local w = { dir = dir, state = dir .. "/state", kubeconfig = dir .. "/kube/config", logfile = dir .. "/argv.log",
    config = dir .. "/cluster.yaml" }
  local timeout = opts.timeout or 120
  w.env = {
    KINA_CONTAINER = W.SIM, KINA_SIM_STATE = w.state, KINA_SIM_LOG = w.logfile,
    KINA_SIM_BOOT_DELAY = "20", KINA_SIM_READY_DELAY = "20", HOME = dir, KUBECONFIG = w.kubeconfig,
    KINA_CLUSTER_NAME = false, NO_COLOR = "1", KINA_SIM_FAIL = false, KINA_SIM_HANG = false,
    KINA_SIM_LATENCY = false, KINA_CONTAINER_TIMEOUT = false,
  }
  for k, v in pairs(opts.env or {}) do w.env[k] = v end
  uv.fs_mkdir(dir .. "/kube", 448)
  if opts.kubeconfig then W.write(w.kubeconfig, opts.kubeconfig) end
  if opts.config then W.write(w.config, opts.config) end

  local function env_with(more)
    local e = {}
    for k, v in pairs(w.env) do e[k] = v end
    for k, v in pairs(more or {}) do e[k] = v end
    return e
  end
  -- Start build/kina; `on_line(line)` sees each stderr line as it comes. Returns the job.
  function w.start(args, more, on_line)
    return sched:spawn{ argv = { W.KINA, table.unpack(args) }, env = env_with(more), stdin = "", timeout = timeout,
      on_stderr = function(line) if on_line then on_line(line) end end }
  end
  -- build/kina with args, to the end: the result ({code, stdout, stderr, signal, ...})
  function w.kina(args, more)
    local r = assert(sched:await(w.start(args, more)))
    assert(not r.timed_out, "kina " .. table.concat(args, " ") .. " did not finish")
    return r
  end
  -- the simulator by hand, without faults or logging
  function w.sim(args)
    return assert(sched:exec{ argv = { W.SIM, table.unpack(args) }, stdin = "", timeout = timeout,
      env = env_with{ KINA_SIM_LOG = false, KINA_SIM_FAIL = false, KINA_SIM_HANG = false, KINA_SIM_LATENCY = false } })
  end
  -- the same, with `stdin` on its standard input
  function w.sim_in(stdin, args)
    return assert(sched:exec{ argv = { W.SIM, table.unpack(args) }, stdin = stdin, timeout = timeout,
      env = env_with{ KINA_SIM_LOG = false, KINA_SIM_FAIL = false, KINA_SIM_HANG = false, KINA_SIM_LATENCY = false } })
  end
  -- the cluster's containers: name -> state
  function w.nodes()
    local r = w.sim{ "list", "--all", "--format", "json" }
    assert(r.code == 0, r.stderr)
    local out = {}
    for _, rec in ipairs(assert(apple_core.parse_containers(json.decode(r.stdout)))) do
      if rec.labels and rec.labels["io.kina.cluster"] == opts.cluster then out[rec.name] = rec.state end
    end
    return out
  end
  function w.node_names()
    local names = {}
    for n in pairs(w.nodes()) do names[#names + 1] = n end
    table.sort(names)
    return names
  end
  -- the networks, by name
  function w.networks()
    local r = w.sim{ "network", "list", "--format", "json" }
    assert(r.code == 0, r.stderr)
    local names = {}
    for _, n in ipairs(assert(apple_core.parse_networks(json.decode(r.stdout)))) do names[n.name] = true end
    return names
  end
  -- every simulator invocation so far (argv after the program name)
  function w.log()
    local out = {}
    for line in (W.read(w.logfile) or ""):gmatch("[^\n]+") do out[#out + 1] = json.decode(line) end
    return out
  end
  -- how many logged calls are the command `words[1]` with the other words in order
  function w.calls(...)
    local words, n = { ... }, 0
    for _, argv in ipairs(w.log()) do
      local at = 2
      if argv[1] == words[1] then
        for i = 2, #argv do if argv[i] == words[at] then at = at + 1 end end
        if at > #words then n = n + 1 end
      end
    end
    return n
  end
  -- poll (on the scheduler) until `cond()` holds; false after `limit` seconds
  function w.until_(cond, limit)
    local deadline = async.now() + (limit or 60)
    while not cond() do
      if async.now() > deadline then return false end
      sched:sleep(0.05)
    end
    return true
  end
  -- live processes of this world (their environment names its state), but `except`
  function w.processes(except)
    local found = {}
    local req = uv.fs_scandir("/proc")
    if not req then return found end
    local marker = "KINA_SIM_STATE=" .. w.state .. "\0"
    local me = uv.os_getpid()
    while true do
      local name = uv.fs_scandir_next(req)
      if not name then break end
      local pid = tonumber(name)
      if pid and pid ~= except and pid ~= me then
        local env = W.read("/proc/" .. name .. "/environ")
        local zombie = (W.read("/proc/" .. name .. "/stat") or ""):match("^%d+ %b() (%a)") == "Z"
        if env and env:find(marker, 1, true) and not zombie then
          found[#found + 1] = name .. ": " .. (W.read("/proc/" .. name .. "/cmdline") or ""):gsub("%z", " ")
        end
      end
    end
    return found
  end
  function w.close() os.execute("rm -rf '" .. dir .. "'") end
  return w
end

--- `r` (a command's result) when it exited 0; else raise with its output.
function W.ok(r, what)
  assert(r.code == 0, (what or "command") .. " exited " .. tostring(r.code) .. "\n" .. tostring(r.stderr) .. tostring(r.stdout))
  return r
end

--- name -> bare IP of `cluster`'s running nodes, as `kina get nodes -o json` gives them.
function W.node_ips(w, cluster)
  local out = {}
  for _, n in ipairs(json.decode(W.ok(w.kina{ "get", "nodes", "--name", cluster, "-o", "json" }).stdout)) do
    if n.ip then out[n.name] = n.ip:gsub("/%d+$", "") end
  end
  return out
end

--- Run fn(w) in a fresh world on a scheduler of its own; returns what fn returns (the world
-- is removed either way).
function W.in_world(opts, fn)
  return async.run(function(sched)
    local w = W.new(sched, opts)
    local ok, res = pcall(fn, w)
    w.close()
    if not ok then error(res, 0) end
    return res
  end)
end

return W
