--- kina.sim.node.etcd — the stacked etcd of a simulated cluster: its members, their peer
-- connections, quorum, and the `etcdctl` kina runs in an etcd Pod.
--
-- Kept in cluster.json (`etcd`), which stands for etcd's replicated data: it lives in the
-- bootstrap control plane's rootfs and is read from there even while that node is stopped,
-- as the other members would have their own copies.
--
-- * Members: `kubeadm init` registers itself, each `kubeadm join --control-plane` adds one as
--   a learner and promotes it, each by peer URL `https://<advertise address>:2380`
--   (kubeadm phases/etcd/local.go: CreateStackedEtcdStaticPodManifestFile, GetPeerURL); the
--   member list carries only what `member update` changes afterwards.
-- * A peer connection from member A to member B (etcd dials the peer URL of its member list):
--   the URL's host resolves through A's etcd Pod's /etc/hosts — the kubelet's copy of the
--   node's, taken when the etcd container started (kubelet_pods.go ensureHostsFile; etcd
--   runs with host networking) — to the address B's VM has now; B's etcd listens there
--   (--listen-peer-urls of its manifest, which kind's entrypoint moves at boot); B's peer
--   certificate names the host dialled (kubeadm pkiutil GetEtcdPeerAltNames: the node name,
--   localhost and the advertise address at the time it was made); and B accepts A's client
--   certificate: A's address is among its IPs, or one of its DNS names resolves (through B's
--   copy of /etc/hosts) to A's address (etcd client/pkg/transport/listener_tls.go
--   checkCertSAN). Both directions must work.
-- * Quorum: a member serves when it and the members it connects with both ways are a majority
--   of the voting members (learners do not vote); a lone member needs no peer.
local rootfs = require "kina.sim.node.rootfs"
local digest = require "kina.core.digest"

local E = {}

E.PEER_PORT = 2380

local function bare(ip) return ip and (ip:gsub("/%d+$", "")) or nil end

--- A member ID (a uint64) as etcdctl prints it with %x — no leading zeros — stable for a seed.
function E.member_id(seed)
  local id = digest.sha256("etcd member " .. seed):sub(1, 16):gsub("^0+", "")
  return id ~= "" and id or "1"
end

function E.peer_url(host) return ("https://%s:%d"):format(host, E.PEER_PORT) end

--- A new member record: name, id, peer URLs, client URLs, the container and the address its
-- peer certificate names.
function E.new_member(name, ip, node_id, learner)
  return {
    id = E.member_id(node_id .. "/" .. name), name = name, node_id = node_id, cert_ip = ip,
    peer_urls = { E.peer_url(ip) }, client_urls = { ("https://%s:2379"):format(ip) }, learner = learner or false,
  }
end

local function lookup(text, name) return require("kina.sim.node.kube").hosts_lookup(text, name) end

local function container(ctx, id)
  for _, c in ipairs(ctx.containers and ctx.containers() or {}) do
    if c.id == id then return c end
  end
end

--- The state of member `m`'s etcd: {rec, ip, hosts} when its container runs, its kubelet runs
-- the static Pod and etcd listens on the VM's address; else nil and why.
function E.member_state(ctx, m, known)
  local rec = (known and known.id == m.node_id) and known or container(ctx, m.node_id)
  if not rec or (rec.state and rec.state ~= "running") then return nil, "its node is stopped" end
  local view = require("kina.sim.node").context(ctx, rec)
  if view:service_state("kubelet") ~= "active" then return nil, "the kubelet does not run" end
  local manifest = rootfs.read(rec.rootfs, "/etc/kubernetes/manifests/etcd.yaml")
  local listen = manifest and manifest:match("%-%-listen%-peer%-urls=https://([%d%.]+):2380")
  local ip = bare(rec.ip)
  if not listen or listen ~= ip then return nil, "etcd cannot listen on " .. tostring(listen) end
  return { rec = rec, ip = ip, hosts = view:runtime().etcd_hosts or "" }
end

-- Can member ma (state sa) connect to member mb (state sb)?
local function dials(sa, ma, sb, mb)
  local host = (mb.peer_urls[1] or ""):match("^https://([^:/]+):")
  if not host then return false end
  local ip = host:match("^%d+%.%d+%.%d+%.%d+$") and host or lookup(sa.hosts, host)
  if ip ~= sb.ip then return false end
  if host ~= mb.name and host ~= mb.cert_ip then return false end
  return sa.ip == ma.cert_ip or lookup(sb.hosts, ma.name) == sa.ip
end

--- The voting members.
function E.voters(cl)
  local out = {}
  for _, m in ipairs((cl.etcd or {}).members or {}) do if not m.learner then out[#out + 1] = m end end
  return out
end

--- Does the member on container `rec` have quorum? ok, how many it reaches (itself included),
-- how many it needs. A cluster without etcd members recorded (made before they were) or with
-- one member is its own quorum.
function E.quorum(ctx, cl, rec)
  local voters = E.voters(cl)
  if #voters <= 1 then return true, #voters, #voters end
  local need = #voters // 2 + 1
  local me
  for _, m in ipairs(voters) do if m.node_id == rec.id then me = m end end
  if not me then return false, 0, need end
  local sme = E.member_state(ctx, me, rec)
  if not sme then return false, 0, need end
  local count = 1
  for _, m in ipairs(voters) do
    if m ~= me then
      local sm = E.member_state(ctx, m)
      if sm and dials(sme, me, sm, m) and dials(sm, m, sme, me) then count = count + 1 end
    end
  end
  return count >= need, count, need
end

--- `etcdctl [global flags] member list|update ...` in the etcd Pod of the member on `rec`;
-- `update(fn)` changes cluster.json under its lock. Output as etcdctl 3.6 prints it
-- (etcdctl/ctlv3/command/printer_simple.go: MemberList joins makeMemberListTable's row — ID
-- %x, started, name, peer URLs, client URLs, is-learner — with ", "; MemberUpdate).
function E.etcdctl(n, cl, rec, argv, update)
  local words = {}
  for i = 2, #argv do
    local a = argv[i]
    if not a:match("^%-%-endpoints=") and not a:match("^%-%-cacert=") and not a:match("^%-%-cert=") and not a:match("^%-%-key=") then
      words[#words + 1] = a
    end
  end
  local ok = E.quorum(n.ctx, cl, rec)
  if not ok then
    n:err('{"level":"warn","msg":"retrying of unary invoker failed","error":"rpc error: code = DeadlineExceeded desc = context deadline exceeded"}\nError: context deadline exceeded\n')
    return 1
  end
  if words[1] == "member" and words[2] == "list" then
    for _, m in ipairs((cl.etcd or {}).members or {}) do
      n:out(("%s, started, %s, %s, %s, %s\n"):format(m.id, m.name, table.concat(m.peer_urls, ","),
        table.concat(m.client_urls, ","), tostring(m.learner == true)))
    end
    return 0
  elseif words[1] == "member" and words[2] == "update" then
    local id, urls = words[3], nil
    for i = 4, #words do urls = words[i]:match("^%-%-peer%-urls=(.+)$") or urls end
    if not id or not urls then n:err("Error: member ID and peer URLs must be given\n"); return 1 end
    local found = update(function(fresh)
      for _, m in ipairs((fresh.etcd or {}).members or {}) do
        if m.id == id then
          m.peer_urls = {}
          for u in urls:gmatch("[^,]+") do m.peer_urls[#m.peer_urls + 1] = u end
          return true
        end
      end
      return false
    end)
    if not found then n:err("Error: etcdserver: member not found\n"); return 1 end
    -- printer_simple.go: "Member %16x updated in cluster %16x" (space-padded to 16)
    n:out(("Member %16s updated in cluster %16s\n"):format(id, (cl.etcd or {}).cluster_id or "0"))
    return 0
  end
  n:err('Error: unknown command "' .. tostring(words[1]) .. '" for "etcdctl"\n')
  return 1
end

return E
