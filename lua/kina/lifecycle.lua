--- kina.lifecycle — stopping and starting a cluster, and how healthy it is.
--
-- Apple's runtime gives every container a new IP at every start, also after `container stop`,
-- a runtime restart (`container system stop/start` hands addresses out from the bottom of the
-- subnet again) or a reboot. kina's clusters survive that by construction (kina.kubeadm,
-- kina.hosts): every kubeconfig, ConfigMap and certificate names the control plane by name;
-- kind's entrypoint moves the node's own settings and its API server certificate to its new IP
-- at boot (/kind/old-ipv4, fix_certificate). What is left for `start` to do, in order:
--
--   1. start the stopped nodes, wait for their containerd, and prepare them again (sysctls and
--      iptables rules live in the VM's kernel and are gone);
--   2. write kina's block of node names into every node's /etc/hosts, since Apple's runtime
--      rewrote the file at start and the addresses are new; with several control planes, first
--      fail at once, saying why, when too few of them run for etcd's quorum, and afterwards
--      restart etcd on those that booted, so that its Pod's copy of /etc/hosts has the new
--      addresses of its peers (kina.ha);
--   3. when a control plane's IP changed, recreate the kube-proxy pods of the nodes that kept
--      running: a hostNetwork pod's /etc/hosts is the kubelet's copy of the node's, made when
--      its container started (kubelet_pods.go ensureHostsFile), so theirs still names the old
--      address; nodes that booted now start new pods with the new file anyway;
--   4. wait (bounded) until every node is Ready and the `kubernetes` Service answers from every
--      node (which needs that node's kube-proxy, and the CNI reaches the API server through it);
--   5. write the kubeconfig again (the host may reach the API server at a new address).
--
-- Clusters made before kina named its API server (no format 2 in /kind/kina-state.json) have
-- the control plane's first IP in every kubeconfig and in the kube-proxy ConfigMap: when that
-- IP changed, start says so and how to recreate the cluster, instead of a half-working cluster.
local async = require "kina.async"
local hosts = require "kina.hosts"
local batch = require "kina.batch"
local json = require "kina.json"
local ha = require "kina.ha"
local loadbalancer = require "kina.loadbalancer"

local M = {}

M.DEFAULT_WAIT = 300 -- seconds `start` waits for a healthy cluster
M.PROBE_TIMEOUT = 5 -- seconds curl gives the `kubernetes` Service from a node
M.STATE_FORMAT = 2

--- A cluster's state from its provider nodes: "running", "stopped" or "partly running".
function M.state(nodes)
  local running = 0
  for _, n in ipairs(nodes) do if n.state == "running" then running = running + 1 end end
  if running == #nodes then return "running" end
  if running == 0 then return "stopped" end
  return "partly running"
end

--- Stop every running node, giving systemd `time` seconds (default 30) to shut down.
function M.stop(c, opts)
  local nodes = c:nodes()
  if #nodes == 0 then c.fail(("unknown cluster %q"):format(c.name)) end
  c:each(nodes, function(n)
    if n.state == "running" then c.provider:stop(n.name, { time = opts and opts.time or 30 }) end
  end)
  return nodes
end

-- Control planes first (kind's bootstrap order), then the load balancer, then by name.
local ORDER = { ["control-plane"] = 1, [loadbalancer.ROLE] = 2 }
local function sorted(nodes)
  table.sort(nodes, function(a, b)
    if a.role ~= b.role then return (ORDER[a.role] or 3) < (ORDER[b.role] or 3) end
    return a.name < b.name
  end)
  return nodes
end

local function bare_ip(ip) return ip and (ip:gsub("/%d+$", "")) or nil end

-- One round trip per node: what a boot loses (sysctls and iptables rules, added unless
-- present, so nodes that kept running are left as they are), what create recorded (kina.cluster
-- STATE_FILE: {} when absent or unreadable) and /etc/hosts. Returns saved, texts by name.
local function prepare_and_read(c, nodes)
  local saved, texts = {}, {}
  c:each(nodes, function(n)
    local b = batch.new()
    c:add_boot_preparation(b)
    local state = b:read(c.STATE_FILE, { optional = true })
    local etc_hosts = b:read("/etc/hosts")
    local res = c:run_batch(n.name, b)
    local ok, v = pcall(json.decode, res.reads[state] or "null")
    saved[n.name] = ok and type(v) == "table" and v or {}
    texts[n.name] = res.reads[etc_hosts]
  end)
  return saved, texts
end

--- Which nodes are not healthy: {{node, what, hint}}; empty when the cluster is healthy.
function M.problems(c, nodes, saved)
  local out = {}
  local cp = c:control_plane(nodes)
  -- the load balancer is no Kubernetes node: it is tried by every kubectl through it
  local all = nodes
  nodes = c:kubernetes_nodes(nodes)
  -- the nodes' view from the API server and the Service from every node, all at once
  local probes = { { cp = true } }
  for _, n in ipairs(nodes) do probes[#probes + 1] = { node = n } end
  local results = c:each(probes, function(p)
    if p.cp then return { c:node_conditions(cp.name) } end
    local vip = (saved[p.node.name] or {}).service_vip or "10.96.0.1"
    return { vip, c:exec(p.node.name, { "curl", "-sSk", "-m", tostring(M.PROBE_TIMEOUT), "https://" .. vip .. "/healthz" }, { check = false }) }
  end)
  local conds, err = results[1][1], results[1][2]
  if not conds then
    local lb = c:endpoint_node(all)
    out[#out + 1] = { node = cp.name, what = "the API server does not answer: " .. tostring(err):gsub("%s+$", ""),
      hint = lb.role == loadbalancer.ROLE
        and ("look at the load balancer's loop and the control planes' logs: %s; %s"):format(
          c.provider:user_command({ "exec", lb.name, "journalctl", "-u", loadbalancer.UNIT }), c.provider:user_command({ "logs", cp.name }))
        or ("look at the control plane's log: " .. c.provider:user_command({ "logs", cp.name })) }
    return out
  end
  for i, n in ipairs(nodes) do
    local cond = conds[n.name]
    if not (cond and cond.ready) then
      out[#out + 1] = { node = n.name, what = "not Ready: " .. (cond and cond.reason or "not registered"),
        hint = "its kubelet's log: " .. c.provider:user_command({ "exec", n.name, "journalctl", "-u", "kubelet", "--no-pager" }) }
    end
    local vip, r = results[i + 1][1], results[i + 1][2]
    if r.code ~= 0 then
      out[#out + 1] = { node = n.name, what = ("the kubernetes Service (%s) does not answer from this node (curl: exit status %d%s): kube-proxy there cannot reach the API server")
        :format(vip, r.code, r.stderr ~= "" and (", " .. r.stderr:gsub("%s+$", "")) or ""),
        hint = "recreate its kube-proxy pod: " .. c.provider:user_command({ "exec", cp.name, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf",
          "-n", "kube-system", "delete", "pod", "-l", "k8s-app=kube-proxy", "--field-selector", "spec.nodeName=" .. n.name }) }
    end
  end
  table.sort(out, function(a, b) return a.node < b.node end)
  return out
end

--- Start the cluster and wait until it is healthy. opts.wait: seconds to wait (default
-- DEFAULT_WAIT). Returns a report {changes = {"node X: IP a (was b)", ...}, repairs = {...},
-- kubeconfig = path}; raises a CreateError-like failure naming what is not healthy.
function M.start(c, opts)
  opts = opts or {}
  local wait = opts.wait or M.DEFAULT_WAIT
  local nodes = sorted(c:nodes())
  if #nodes == 0 then c.fail(("unknown cluster %q"):format(c.name)) end
  c:each(nodes, function(n)
    if n.state ~= "running" then c.provider:start(n.name) end
    c:wait_for_boot(n.name)
  end)
  local now = sorted(c:nodes())
  -- 1. what a boot loses: sysctls and iptables rules; and what the nodes remember
  local saved, texts = prepare_and_read(c, now)
  -- a node whose /etc/hosts lacks kina's block booted since kina last saw it (Apple's runtime
  -- wrote the file anew): kina's start, or one behind its back (`container start`)
  local fresh = {}
  for _, n in ipairs(now) do
    if not next(hosts.parse(texts[n.name])) then fresh[#fresh + 1] = n.name end
  end
  local report = { changes = {}, repairs = {} }
  local cp_moved = false
  for _, n in ipairs(now) do
    local was, is = saved[n.name].ip and bare_ip(saved[n.name].ip), bare_ip(n.ip)
    if was and is and was ~= is then
      report.changes[#report.changes + 1] = ("node %s: IP %s (was %s)"):format(n.name, is, was)
      if n.role == "control-plane" then cp_moved = true end
    end
  end
  if #fresh > 0 and c:has_boot_preparation() then
    report.repairs[#report.repairs + 1] = ("sysctls and iptables rules set again on %s, which booted"):format(table.concat(fresh, ", "))
  end
  -- an older kina's cluster names the control plane's IP at create everywhere
  local legacy = {}
  for _, n in ipairs(now) do
    if saved[n.name].format ~= M.STATE_FORMAT then legacy[#legacy + 1] = n.name end
  end
  if #legacy > 0 and cp_moved then
    c.fail(("cluster %q was created by an older kina, which wrote the control plane's IP at create time (%s) into every kubeconfig and the kube-proxy ConfigMap; the control plane now has another IP, so kube-proxy and the other nodes cannot reach the API server, and kina cannot move them without rewriting the cluster's configuration")
      :format(c.name, tostring(saved[c:control_plane(now).name].endpoint or "?")),
      ("recreate it (its workloads are lost): kina delete cluster --name %s && kina create cluster --name %s [--config FILE]; clusters made by this kina survive restarts"):format(c.name, c.name))
  end
  -- the node kube-proxy and the kubelets reach the API server at; with several control planes,
  -- too few of them for etcd's quorum is said at once, before any wait
  local endpoint = c:endpoint_node(now)
  local has_lb = endpoint.role == loadbalancer.ROLE
  if has_lb then
    -- the control planes create made (the load balancer's backends), also those now gone
    local problem = ha.quorum_problem(now, (saved[endpoint.name] or {}).backends)
    if problem then
      c.fail(("cluster %q cannot start: %s"):format(c.name, problem),
        "start the stopped control planes (kina start starts every node it finds; a deleted control plane cannot come back: recreate the cluster)")
    end
  end
  -- 2. the node names, at their addresses now, and what the next start compares with: one
  -- round trip per node that needs either
  local rewritten = {}
  if #legacy == 0 then
    local entries = hosts.entries(now)
    c:each(now, function(n)
      local b, writes = batch.new(), 0
      local wanted = hosts.merge(texts[n.name], entries)
      if wanted ~= texts[n.name] then
        b:write("/etc/hosts", wanted)
        rewritten[n.name] = hosts.parse(texts[n.name])
        writes = writes + 1
      end
      local s = saved[n.name]
      if s.format == M.STATE_FORMAT and n.ip and s.ip ~= n.ip then
        s.ip = n.ip
        b:write(c.STATE_FILE, json.encode(s))
        writes = writes + 1
      end
      if writes > 0 then c:run_batch(n.name, b) end
    end)
    local count = 0
    for _ in pairs(rewritten) do count = count + 1 end
    if count > 0 then report.repairs[#report.repairs + 1] = ("/etc/hosts: node names written again on %d node(s)"):format(count) end
  end
  -- 2b. several control planes: etcd on the control planes that booted started before their
  -- names were written, with a copy of /etc/hosts that lacks its peers: restart it (kina.ha),
  -- before anything below waits for the API server
  if has_lb then
    local role = {}
    for _, n in ipairs(now) do role[n.name] = n.role end
    local booted = {}
    for _, name in ipairs(fresh) do if role[name] == "control-plane" then booted[#booted + 1] = name end end
    if #booted > 0 then
      local restarted = ha.refresh_etcd(c, booted)
      if #restarted > 0 then
        report.repairs[#report.repairs + 1] = ("etcd: restarted on %s, so that it finds its peers at their new addresses"):format(table.concat(restarted, ", "))
      end
    end
  end
  -- 3. kube-proxy pods that kept an old copy of /etc/hosts: on the nodes that did not boot
  -- since kina last wrote their block (it is still there) and whose block named a control
  -- plane at another address. A node that booted has Apple's fresh file, and its kube-proxy
  -- starts only once the kubelet reaches the API server, so after this block is written.
  do
    local cp = c:control_plane(now)
    local current = {}
    for _, n in ipairs(now) do current[n.name] = bare_ip(n.ip) end
    local stale = {}
    for _, n in ipairs(now) do
      local before = rewritten[n.name]
      if before and next(before) then
        for _, m in ipairs(now) do
          -- kube-proxy's server: the load balancer with several control planes
          if m.role == endpoint.role and before[m.name] and before[m.name] ~= current[m.name] then
            stale[#stale + 1] = n.name
            break
          end
        end
      end
    end
    if #stale > 0 then
      M.wait_for_api(c, cp.name, wait)
      c:each(stale, function(name)
        c:exec(cp.name, c.kubectl{ "-n", "kube-system", "delete", "pod", "-l", "k8s-app=kube-proxy",
          "--field-selector", "spec.nodeName=" .. name })
      end)
      report.repairs[#report.repairs + 1] = ("kube-proxy: pods recreated on %s, which kept running while the control plane moved"):format(table.concat(stale, ", "))
    end
  end
  -- 4. healthy, within the wait
  local deadline = async.now() + wait
  local problems
  while true do
    problems = M.problems(c, now, saved)
    if #problems == 0 or async.now() >= deadline then break end
    c.sched:sleep(1)
  end
  if #problems > 0 then
    local lines = {}
    for _, p in ipairs(problems) do lines[#lines + 1] = ("  %s: %s\n    hint: %s"):format(p.node, p.what, p.hint) end
    c.fail(("cluster %q is not healthy after %ds:\n%s"):format(c.name, wait, table.concat(lines, "\n")),
      ("`kina export logs --name %s` collects every node's logs; a longer --wait may be all it needs"):format(c.name))
  end
  -- 5. the kubeconfig
  report.kubeconfig = c:export_kubeconfig()
  return report
end

--- Wait until kubectl on control plane `cp` gets an answer (bounded by `wait` seconds).
function M.wait_for_api(c, cp, wait)
  local deadline = async.now() + wait
  while true do
    local conds = c:node_conditions(cp)
    if conds then return end
    if async.now() >= deadline then
      c.fail(("the API server on %s did not answer within %ds"):format(cp, wait),
        "look at its log: " .. c.provider:user_command({ "logs", cp }))
    end
    c.sched:sleep(1)
  end
end

return M
