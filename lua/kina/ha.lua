--- kina.ha — clusters with several control planes (stacked etcd), on Apple's runtime.
--
-- Create, as kind does (kind-and-peers §3.2 kubeadmjoin) with kubeadm's own certificate
-- transfer instead of kind's file copies: the bootstrap control plane runs `kubeadm init
-- --upload-certs` with a certificate key in its InitConfiguration, so kubeadm stores the
-- cluster's CAs and keys encrypted in the Secret kube-system/kubeadm-certs (kubeadm
-- phases/copycerts; the Secret lives 2 hours, DefaultCertTokenDuration); every other control
-- plane joins with the same key in JoinConfiguration.controlPlane.certificateKey and downloads
-- them. No private key passes through the Mac. The joins run one at a time (kind: "not safe
-- currently"; kubeadm adds each etcd member as a learner and promotes it, phases/etcd/local.go),
-- while the workers join all at once beside them: they reach the API through the load
-- balancer, which only sends them to control planes that answer.
--
-- Restarts. kubeadm registers every etcd member by its peer URL `https://<advertise IP>:2380`
-- (phases/etcd/local.go, etcdutil.GetPeerURL), and etcd dials its peers at the URLs of its
-- member list, which its flags do not change after the first start. On Apple's runtime every
-- start gives every node a new IP, so after a restart of the whole cluster no member would find
-- another: etcd loses quorum, and `etcdctl member update` cannot fix it then, because a member
-- update itself needs quorum. So once the control planes have joined, while the addresses are
-- still right, kina re-registers every member by name (`etcdctl member update <id>
-- --peer-urls=https://<node>:2380`): names that kina.hosts keeps in every node's /etc/hosts. etcd's TLS allows it:
-- kubeadm's etcd peer and server certificates name the node (pkiutil GetEtcdPeerAltNames:
-- DNSNames [node name, localhost]), and etcd accepts a peer whose address is not among its
-- certificate's IPs when one of the certificate's DNS names resolves to it (etcd
-- client/pkg/transport/listener_tls.go checkCertSAN). One thing is left for `kina start`: etcd
-- runs as a static Pod with host networking, whose /etc/hosts is the kubelet's copy of the
-- node's, taken when the container starts (kubelet_pods.go ensureHostsFile) — at boot, before
-- kina has written the new addresses. So on each control plane that booted, kina restarts the
-- etcd container (`crictl stop`; the kubelet starts it again with a fresh copy), and quorum
-- returns once a majority of members run.
--
-- What cannot work, and `kina start` says so: fewer than a majority of the control planes
-- running (a member deleted behind kina's back, a node that does not boot); with 2 control
-- planes that means both (etcd needs floor(n/2)+1 members).
local M = {}

M.ETCDCTL = { "etcdctl", "--endpoints=https://127.0.0.1:2379", "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
  "--cert=/etc/kubernetes/pki/etcd/server.crt", "--key=/etc/kubernetes/pki/etcd/server.key" }
M.PEER_PORT = 2380

--- Members etcd needs for quorum out of `n`.
function M.quorum(n) return n // 2 + 1 end

--- A certificate key as `kubeadm certs certificate-key` makes one: 32 random bytes in hex
-- (copycerts.CreateCertificateKey, constants.CertificateKeySize), from the OS's generator.
function M.certificate_key(random)
  random = random or function(n)
    local uv = require "luv"
    if uv.random then return uv.random(n, 0) end
    local f <close> = assert(io.open("/dev/urandom", "rb"))
    return f:read(n)
  end
  local bytes = random(32)
  if type(bytes) ~= "string" or #bytes ~= 32 then error("kina.ha: no random bytes for the certificate key", 2) end
  return (bytes:gsub(".", function(ch) return ("%02x"):format(ch:byte()) end))
end

-- The names of the model's nodes of `role`, sorted.
local function names_of(model, role)
  local out = {}
  for _, n in ipairs(model.nodes) do if n.role == role then out[#out + 1] = n.name end end
  table.sort(out)
  return out
end

--- The control planes of the model, by name: the bootstrap (first) and the others.
function M.control_planes(model) return names_of(model, "control-plane") end

-- `etcdctl ...` in the etcd Pod of control plane `cp`, through the API server (kubectl exec
-- into the static Pod's mirror, etcd-<node>; the etcd image carries etcdctl).
local function etcdctl(c, cp, args)
  local argv = c.kubectl{ "-n", "kube-system", "exec", "etcd-" .. cp, "--" }
  for _, a in ipairs(M.ETCDCTL) do argv[#argv + 1] = a end
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return c:exec(cp, argv)
end

--- etcd's members as `etcdctl member list -w simple` prints them (printer_simple.go: ID in hex,
-- status, name, peer URLs, client URLs, learner): {{id, status, name, peer_urls = {...}, learner}}.
function M.parse_members(text)
  local out = {}
  for line in (text or ""):gmatch("[^\n]+") do
    -- fields are joined by ", "; the URLs inside a field by "," alone
    local fields = {}
    for f in (line .. ", "):gmatch("(.-), ") do fields[#fields + 1] = f end
    if #fields == 6 and fields[1]:match("^%x+$") then
      local peers = {}
      for u in fields[4]:gmatch("[^,]+") do peers[#peers + 1] = u end
      out[#out + 1] = { id = fields[1], status = fields[2], name = fields[3], peer_urls = peers, learner = fields[6] == "true" }
    end
  end
  return out
end

--- The peer URL kina registers for a member: its node name, which kina.hosts resolves.
function M.peer_url(name) return ("https://%s:%d"):format(name, M.PEER_PORT) end

--- Register the etcd members of the control planes `names` by name, asking through control
-- plane `via`: one `member list`, then the updates of those not so yet, at once.
function M.name_members(c, via, names)
  local members = M.parse_members(etcdctl(c, via, { "member", "list", "-w", "simple" }).stdout)
  local by_name = {}
  for _, m in ipairs(members) do by_name[m.name] = m end
  local by_address = {} -- members still registered otherwise (kubeadm: by advertise address)
  for _, name in ipairs(names) do
    local m = by_name[name]
    if not m then
      c.fail(("etcd has no member named %s (members: %d)"):format(name, #members),
        ("look at etcd on %s: %s"):format(via, c.provider:user_command({ "exec", via, "crictl", "ps", "--name", "etcd" })))
    end
    if not (#m.peer_urls == 1 and m.peer_urls[1] == M.peer_url(name)) then by_address[#by_address + 1] = m end
  end
  c:each(by_address, function(m) etcdctl(c, via, { "member", "update", m.id, "--peer-urls=" .. M.peer_url(m.name) }) end)
end

--- The create step "Joining more control-plane nodes 🎮": the secondary control planes join one
-- at a time while the workers join all at once beside them (their tasks are in
-- ctx.worker_joins, awaited by the worker step); then every member is registered by name
-- (while the addresses kubeadm registered are still right, so etcd keeps its quorum).
function M.join_control_planes(c, ctx, join_node)
  local cps = M.control_planes(c.model)
  local workers = names_of(c.model, "worker")
  ctx.worker_joins = {}
  for _, w in ipairs(workers) do ctx.worker_joins[#ctx.worker_joins + 1] = c.sched:go(join_node, c, w) end
  local ok, err = pcall(function()
    for i = 2, #cps do join_node(c, cps[i]) end
    M.name_members(c, ctx.bootstrap, cps)
  end)
  if not ok then
    -- nothing of create may still run when cleanup deletes the nodes; the control plane's
    -- failure is the one to report
    pcall(c.sched.await_all, c.sched, ctx.worker_joins)
    ctx.worker_joins = nil
    error(err, 0)
  end
end

--- The worker step after join_control_planes: wait for the joins it started; raise the first
-- failure. Returns false when there were none (the caller joins the workers itself).
function M.await_worker_joins(c, ctx)
  if not ctx.worker_joins then return false end
  local tasks = ctx.worker_joins
  ctx.worker_joins = nil
  c.sched:await_all(tasks)
  return true
end

--- On `kina start`: restart etcd on the control planes in `booted` (names) so that its Pod's
-- /etc/hosts is the node's as kina has just written it. Returns the names restarted.
function M.refresh_etcd(c, booted)
  local done = {}
  c:each(booted, function(name)
    local ids = c:exec(name, { "crictl", "ps", "-q", "--name", "^etcd$" }).stdout
    local argv = { "crictl", "stop" }
    for id in ids:gmatch("%S+") do argv[#argv + 1] = id end
    if #argv > 2 then
      c:exec(name, argv)
      done[#done + 1] = name
    end
  end)
  table.sort(done)
  return done
end

--- Why an HA cluster cannot serve, from the control planes' states (provider nodes) and the
-- names of all its control planes (`expected`, as create made them; default: those listed),
-- or nil.
function M.quorum_problem(nodes, expected)
  local state = {}
  for _, n in ipairs(nodes) do if n.role == "control-plane" then state[n.name] = n.state end end
  local cps = expected
  if type(cps) ~= "table" or #cps == 0 then
    cps = {}
    for name in pairs(state) do cps[#cps + 1] = name end
  end
  table.sort(cps)
  local running, missing = {}, {}
  for _, name in ipairs(cps) do
    if state[name] == "running" then running[#running + 1] = name
    elseif state[name] == nil then missing[#missing + 1] = name end
  end
  local need = M.quorum(#cps)
  if #cps > 1 and #running < need then
    return ("etcd needs %d of its %d members and only %d control plane(s) run (%s)%s: the API server cannot serve without quorum")
      :format(need, #cps, #running, #running > 0 and table.concat(running, ", ") or "none",
        #missing > 0 and ("; gone: " .. table.concat(missing, ", ")) or "")
  end
end

return M
