--- kina.sim.node.agent — the simulated kindest/node inside a real container (podman, Docker).
--
-- The Linux provider's specs (issue 16) need a node image, and none can be pulled here, so
-- they build one whose programs are this simulator's node tools (spec/support/linux_runtime.lua):
-- every command in it (kubeadm, kubectl, ctr, systemctl, sh, cat, ...) is a Lua script running
-- kina.sim.node with the container's own "/" as its root. What the runtime does is real: the
-- container, its IP, its /etc/hosts (the runtime writes it, kina edits it), `exec` and its exit
-- codes, published ports, stop and start.
--
-- What the simulator does across nodes (a join reads the control plane's cluster, a control
-- plane reads each node's kubelet state) it does here over the real network: PID 1 is this
-- module's agent, serving its node's files (kina.sim.node.rootfs's primitives) and locks on
-- TCP port M.PORT. Another node is the root "agent://<ip>"; a node the agent does not answer
-- for is not reachable, as on a real network. Requests are one JSON line each way.
local uv = require "luv"
local json = require "kina.json"
local read_file = require("kina.sim.util").read_file

local M = {}

M.PORT = 10399
M.API_SERVER_PORT = 6443
M.SCHEME = "agent://"
-- /run is a tmpfs in kind's node containers (--tmpfs /run): gone at every stop, so a start is a boot
M.STARTED_FILE = "/run/kina-sim/started"
M.CONNECT_TIMEOUT_MS = 2000
M.LOCK_TIMEOUT_MS = 300000

-- The rootfs primitives a remote node may call (kina.sim.node.rootfs builds the rest on them).
M.CALLS = { stat = true, read = true, write = true, mkdir_p = true, remove = true, remove_tree = true, list = true }

local function is_remote(root) return type(root) == "string" and root:sub(1, #M.SCHEME) == M.SCHEME end
M.is_remote = is_remote

local function host_of(root) return root:sub(#M.SCHEME + 1) end

-- One connection to the agent at `host`: send each message, wait for each answer. Drives the
-- default loop until the answer comes (the callers are plain, synchronous command processes,
-- or the agent's own boot before its loop runs).
local function connect(host, timeout_ms, port)
  local tcp = uv.new_tcp()
  local conn = { tcp = tcp, buffer = "", answers = {} }
  local done, err = false, nil
  local timer = uv.new_timer()
  timer:start(timeout_ms or M.CONNECT_TIMEOUT_MS, 0, function() err = err or "connection timed out"; done = true end)
  tcp:connect(host, port or M.PORT, function(e)
    if e then err = e else conn.connected = true end
    done = true
  end)
  while not done do uv.run("once") end
  timer:stop()
  timer:close()
  if not conn.connected then
    if not tcp:is_closing() then tcp:close() end
    uv.run("nowait")
    return nil, err
  end
  tcp:read_start(function(e, chunk)
    if e or not chunk then conn.closed = e or "closed"; return end
    conn.buffer = conn.buffer .. chunk
    while true do
      local line, rest = conn.buffer:match("^(.-)\n(.*)$")
      if not line then break end
      conn.buffer = rest
      conn.answers[#conn.answers + 1] = line
    end
  end)
  return conn
end

local function ask(conn, message, timeout_ms)
  conn.tcp:write(json.encode(message) .. "\n")
  local timed_out = false
  local timer = uv.new_timer()
  timer:start(timeout_ms or M.CONNECT_TIMEOUT_MS * 10, 0, function() timed_out = true end)
  while #conn.answers == 0 and not conn.closed and not timed_out do uv.run("once") end
  timer:stop()
  timer:close()
  local line = table.remove(conn.answers, 1)
  if not line then return nil, conn.closed or "timed out waiting for the agent" end
  return json.decode(line)
end

local function hang_up(conn)
  if not conn.tcp:is_closing() then conn.tcp:close() end
  uv.run("nowait")
end

--- Call rootfs primitive `fn` of the node at root "agent://<ip>" with `...`; returns what it
-- returned. An agent that cannot be reached raises: the simulator checked reachability before
-- it reads another node's files, so this is the node going away in between.
function M.call(root, fn, ...)
  if not M.CALLS[fn] then error("kina.sim.node.agent: no remote " .. tostring(fn), 2) end
  local conn, err = connect(host_of(root))
  if not conn then error(("node %s: %s"):format(host_of(root), tostring(err)), 0) end
  local answer, aerr = ask(conn, { op = "call", fn = fn, args = json.array({ ... }), n = select("#", ...) })
  hang_up(conn)
  if not answer then error(("node %s: %s"):format(host_of(root), tostring(aerr)), 0) end
  if answer.error then error(answer.error, 0) end
  local out = {}
  for k, v in pairs(answer.results or {}) do
    if v ~= json.null then out[tonumber(k)] = v end
  end
  return table.unpack(out, 1, answer.n or 0)
end

--- The record of the node whose agent answers at `ip` (its root "agent://ip"), or nil and why.
-- port: another than M.PORT (a published port on the host, for specs).
function M.whoami(ip, port)
  local conn, err = connect(ip, nil, port)
  if not conn then return nil, err end
  local answer, aerr = ask(conn, { op = "whoami" })
  hang_up(conn)
  if not answer or not answer.record then return nil, aerr or "no record" end
  local rec = answer.record
  rec.rootfs = M.SCHEME .. ip
  return rec
end

--- Take lock `name` at the agent at `host` (waiting while another holds it); returns an object
-- with :unlock(). The agent frees it too when the connection closes (the holder died).
function M.lock(host, name)
  local conn, err = connect(host)
  if not conn then error(("lock %s at %s: %s"):format(name, host, tostring(err)), 0) end
  local answer, aerr = ask(conn, { op = "lock", name = name }, M.LOCK_TIMEOUT_MS)
  if not answer or not answer.locked then
    hang_up(conn)
    error(("lock %s at %s: %s"):format(name, host, tostring(aerr or "refused")), 0)
  end
  return { unlock = function() hang_up(conn) end }
end

---------------------------------------------------------------------------------------------
-- This node

-- The first IPv4 address of an interface other than loopback (the runtime's network).
local function own_ipv4()
  local names = {}
  local addrs = uv.interface_addresses() or {}
  for name in pairs(addrs) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    for _, a in ipairs(addrs[name]) do
      if a.family == "inet" and not a.internal then return a.ip end
    end
  end
  return nil
end

--- This container's record, as the simulator's ctx.container: its hostname is its name (the
-- provider runs it with --hostname), its image the reference the image carries
-- (KINA_SIM_IMAGE, set when the spec built it), `started` this boot's start.
function M.own_record(environ)
  environ = environ or uv.os_environ()
  local env = {}
  for k, v in pairs(environ) do env[k] = v end
  local started = tonumber(read_file(M.STARTED_FILE) or "")
  local host = uv.os_gethostname()
  return {
    id = host, hostname = host, ip = own_ipv4(), image = env.KINA_SIM_IMAGE, state = "running", rootfs = "/",
    started = started, env = env, caps_all = true, readonly_proc_sys = false, network = env.KINA_SIM_NETWORK,
    runtime = env.container or "podman",
  }
end

-- Names and addresses in this node's /etc/hosts (the runtime's lines and kina's block).
local function hosts_addresses()
  local out, seen = {}, {}
  for line in (read_file("/etc/hosts") or ""):gmatch("[^\n]+") do
    local addr = line:match("^%s*([%d%.]+)%s")
    if addr and not addr:match("^127%.") and not seen[addr] then
      seen[addr] = true
      out[#out + 1] = addr
    end
  end
  return out
end

--- The simulator's ctx for a command running in this container (kina.sim.node.exec).
function M.context()
  local rec = M.own_record()
  local ctx = { container = rec, env = os.getenv, macos = 26, runtime = rec.runtime }
  local known, listed = {}, false
  local function remember(r) if r then known[r.id] = r end return r end
  local by_ip = {}
  function ctx.find_by_ip(ip)
    if ip == rec.ip then return rec end
    if by_ip[ip] == nil then by_ip[ip] = remember(M.whoami(ip)) or false end
    return by_ip[ip] or nil
  end
  -- every node this one knows of: itself and whoever answers at an address of its /etc/hosts
  function ctx.containers()
    if not listed then
      listed = true
      for _, addr in ipairs(hosts_addresses()) do ctx.find_by_ip(addr) end
    end
    local list = { rec }
    local ids = {}
    for id in pairs(known) do if id ~= rec.id then ids[#ids + 1] = id end end
    table.sort(ids)
    for _, id in ipairs(ids) do list[#list + 1] = known[id] end
    return list
  end
  -- the network decides: a node whose agent answered is reachable
  function ctx.reachable(from, to) return from ~= nil and to ~= nil end
  -- "cluster-<id>", "boot-<id>", "runtime-<id>": kept by the agent of node <id>
  function ctx.lock(name)
    local id = name:match("^%a+%-(.+)$")
    if not id or id == rec.id then return M.lock("127.0.0.1", name) end
    for _, c in ipairs(ctx.containers()) do
      if c.id == id then return M.lock(host_of(c.rootfs), name) end
    end
    error(("lock %s: node %s is not reachable from %s"):format(name, id, rec.id), 0)
  end
  return ctx
end

---------------------------------------------------------------------------------------------
-- The agent (PID 1)

-- Serve this node's files and locks on every port of `ports`. Locks are kept in this process:
-- every lock of node <id> is asked of node <id>'s agent, so one table is all of them.
local function serve(rootfs, ports)
  local holders, waiting = {}, {}
  local function grant(name)
    local queue = waiting[name]
    while queue and #queue > 0 do
      local nxt = table.remove(queue, 1)
      if not nxt.gone then
        holders[name] = nxt
        nxt.held[name] = true
        nxt.tcp:write(json.encode({ locked = true }) .. "\n")
        return
      end
    end
    holders[name] = nil
  end
  local function answer(client, msg)
    if type(msg) ~= "table" then return { error = "not a request" } end
    if msg.op == "whoami" then
      local rec = M.own_record()
      rec.env = nil
      return { record = rec }
    elseif msg.op == "call" and M.CALLS[msg.fn] then
      local args = {}
      for i = 1, msg.n or 0 do
        local v = msg.args and msg.args[i]
        if v ~= json.null then args[i] = v end
      end
      local results = table.pack(pcall(rootfs[msg.fn], "/", table.unpack(args, 1, msg.n or 0)))
      if not results[1] then return { error = tostring(results[2]) } end
      local out = {}
      for i = 2, results.n do out[tostring(i - 1)] = results[i] == nil and json.null or results[i] end
      return { results = out, n = results.n - 1 }
    elseif msg.op == "lock" and type(msg.name) == "string" then
      if holders[msg.name] then
        waiting[msg.name] = waiting[msg.name] or {}
        table.insert(waiting[msg.name], client)
        return nil
      end
      holders[msg.name] = client
      client.held[msg.name] = true
      return { locked = true }
    end
    return { error = "unknown request" }
  end
  local function on_connection(server)
    local tcp = uv.new_tcp()
    server:accept(tcp)
    local client = { tcp = tcp, held = {}, buffer = "" }
    tcp:read_start(function(err, chunk)
      if err or not chunk then
        client.gone = true
        for name in pairs(client.held) do
          if holders[name] == client then grant(name) end
        end
        if not tcp:is_closing() then tcp:close() end
        return
      end
      client.buffer = client.buffer .. chunk
      while true do
        local line, rest = client.buffer:match("^(.-)\n(.*)$")
        if not line then break end
        client.buffer = rest
        local reply = answer(client, json.decode(line))
        if reply then tcp:write(json.encode(reply) .. "\n") end
      end
    end)
  end
  for _, port in ipairs(ports) do
    local server = uv.new_tcp()
    assert(server:bind("0.0.0.0", port))
    assert(server:listen(128, function() on_connection(server) end))
  end
end

--- PID 1 of the node image: record this start, serve, boot (kind's entrypoint and systemd as
-- the simulator models them), print the console as it appears, then run until SIGTERM (what
-- `podman stop` sends; PID 1 has no default action for it). A failed boot exits 1, as kind's
-- entrypoint does. Never returns.
function M.main()
  local rootfs = require "kina.sim.node.rootfs"
  local node = require "kina.sim.node"
  rootfs.mkdir_p("/", "/run/kina-sim")
  local now = require("kina.sim.util").now
  rootfs.write("/", M.STARTED_FILE, string.format("%.6f", now()))
  -- the agent answers on the API server's port too, so what the runtime publishes there can be
  -- seen reaching this node (a real API server speaks TLS there; nothing of kina's talks to it)
  serve(rootfs, { M.PORT, M.API_SERVER_PORT })
  local function on_term() os.exit(0) end
  for _, sig in ipairs({ "sigterm", "sigint" }) do
    local h = uv.new_signal()
    h:start(sig, on_term)
  end
  io.stdout:setvbuf("line")
  local ctx = M.context()
  local rec = ctx.container
  local printed = 0
  local complete = node.boot_complete_at(rec, os.getenv)
  while true do
    local t = now()
    local lines = node.boot_log(rec, t, os.getenv, ctx)
    for i = printed + 1, #lines do io.stdout:write(lines[i], "\n") end
    printed = #lines
    if t >= complete then break end
    uv.sleep(20)
  end
  if node.boot_failed(rec, os.getenv, ctx) then os.exit(1) end
  uv.run()
  os.exit(0)
end

--- A node tool: run `name` with `args` (the command line after it) as the simulator's node
-- does, on this container's files; returns the exit status.
function M.tool(name, args)
  local node = require "kina.sim.node"
  local argv = { name }
  for i = 1, #args do argv[#argv + 1] = args[i] end
  local ctx = M.context()
  return node.exec(ctx, argv, { stdin = io.stdin, stdout = io.stdout, stderr = io.stderr })
end

return M
