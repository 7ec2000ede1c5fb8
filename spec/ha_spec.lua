-- Clusters with several control planes (kina.ha, kina.loadbalancer) on the simulator: kind's
-- HA configs create a stacked-etcd cluster behind kina's load balancer; the API survives a
-- stopped control plane; restarts with every IP changed keep etcd's quorum; every command
-- handles the control planes and the load balancer; nothing is left after delete.
--
-- "Works" is what the simulator can tell (lua/kina/sim/README.md "Several control planes"):
-- kubectl through the load balancer reaches a control plane whose etcd has quorum (its peers
-- dial each other by the names in their etcd Pod's copy of /etc/hosts), whose certificate
-- names the load balancer, and every node is Ready through it.
local json = require "kina.json"
local lyaml = require "lyaml"
local ha = require "kina.ha"
local World = dofile("spec/support/world.lua")

local ADMIN = "--kubeconfig=/etc/kubernetes/admin.conf"
local KUBELET = "--kubeconfig=/etc/kubernetes/kubelet.conf"
local ok, ips, in_world = World.ok, World.node_ips, World.in_world

local function config(cps, workers)
  local lines = { "kind: Cluster", "apiVersion: kind.x-k8s.io/v1alpha4", "nodes:" }
  for _ = 1, cps do lines[#lines + 1] = "- role: control-plane" end
  for _ = 1, workers do lines[#lines + 1] = "- role: worker" end
  return table.concat(lines, "\n") .. "\n"
end

local function names_of(cluster, cps, workers)
  local out = {}
  for i = 1, cps do out[#out + 1] = cluster .. "-control-plane" .. (i > 1 and i or "") end
  for i = 1, workers do out[#out + 1] = cluster .. "-worker" .. (i > 1 and i or "") end
  return out
end

-- kubectl on node `from` with its kubelet's kubeconfig (server: the load balancer's name)
local function kubectl_via_lb(w, from, ...)
  return w.sim{ "exec", from, "kubectl", KUBELET, ... }
end

local function ready_nodes(w, from)
  local r = ok(kubectl_via_lb(w, from, "get", "nodes", "-o", "json"), "kubectl get nodes through the load balancer")
  local out = {}
  for _, item in ipairs(json.decode(r.stdout).items) do
    for _, c in ipairs(item.status.conditions) do
      if c.type == "Ready" then out[item.metadata.name] = c.status end
    end
  end
  return out
end

local function etcd_members(w, via)
  local r = ok(w.sim{ "exec", via, "kubectl", ADMIN, "-n", "kube-system", "exec", "etcd-" .. via, "--",
    table.unpack(ha.ETCDCTL), "member", "list", "-w", "simple" }, "etcdctl member list")
  local out = {}
  for _, m in ipairs(ha.parse_members(r.stdout)) do out[m.name] = table.concat(m.peer_urls, ",") end
  return out
end

-- Every node Ready through the load balancer, the `kubernetes` Service answering from each,
-- every etcd member by name, and a ConfigMap made at create still there.
local function assert_healthy(w, cluster, names, from)
  local ready = ready_nodes(w, from)
  for _, name in ipairs(names) do
    assert.equal("True", ready[name], name .. " is not Ready")
    local r = w.sim{ "exec", name, "curl", "-sSk", "-m", "2", "https://10.96.0.1/healthz" }
    assert.equal(0, r.code, name .. ": the kubernetes Service does not answer: " .. r.stderr)
  end
  local members = etcd_members(w, from:match("control%-plane") and from or (cluster .. "-control-plane"))
  for _, name in ipairs(names) do
    if name:match("%-control%-plane%d*$") then assert.equal("https://" .. name .. ":2380", members[name]) end
  end
  ok(kubectl_via_lb(w, from, "get", "configmap", "survivor"), "the ConfigMap made at create")
end

-- the log's argv index of the first call after index `after` with all `words` in order (0: none)
local function first_call(w, after, ...)
  local words = { ... }
  for i, argv in ipairs(w.log()) do
    if i <= after then goto next end
    local at = 1
    for _, a in ipairs(argv) do if a == words[at] then at = at + 1 end end
    if at > #words then return i end
    ::next::
  end
  return 0
end

describe("kina create cluster with several control planes", function()
  it("creates kind's 3 control planes + 2 workers (examples/ha.yaml) behind the load balancer, with kind's progress lines", function()
    local cluster = "ha"
    in_world({ prefix = "kina-ha", cluster = cluster, config = World.read(World.ROOT .. "/examples/ha.yaml") }, function(w)
      local r = ok(w.kina{ "create", "cluster", "--name", cluster, "--config", w.config, "--wait", "60s" }, "create")
      local lb = cluster .. "-external-load-balancer"
      local names = names_of(cluster, 3, 2)
      local all = table.move(names, 1, #names, 1, {})
      all[#all + 1] = lb
      table.sort(all)
      assert.same(all, w.node_names())
      -- kind's lines, in kind's order (kind-and-peers §3.4)
      local at = 0
      for _, line in ipairs{ "Preparing nodes 📦 📦 📦 📦 📦", "Configuring the external load balancer ⚖️",
        "Writing configuration 📜", "Starting control-plane 🕹️", "Joining more control-plane nodes 🎮",
        "Joining worker nodes 🚜", "Ready after" } do
        local pos = r.stderr:find(line, at + 1, true)
        assert.truthy(pos, line .. " missing or out of order:\n" .. r.stderr)
        at = pos
      end
      -- get nodes: every control plane, the load balancer with its role
      local listed = {}
      for _, n in ipairs(json.decode(ok(w.kina{ "get", "nodes", "--name", cluster, "-o", "json" }).stdout)) do listed[n.name] = n.role end
      assert.equal("external-load-balancer", listed[lb])
      assert.equal("control-plane", listed[cluster .. "-control-plane3"])
      -- only the load balancer publishes the API server; the kubeconfig names its port
      local inspect = json.decode(ok(w.sim{ "inspect", lb }).stdout)
      local published = json.encode(inspect)
      assert.truthy(published:find("6443", 1, true), published)
      for _, cp in ipairs{ cluster .. "-control-plane", cluster .. "-control-plane2" } do
        assert.falsy(json.encode(json.decode(ok(w.sim{ "inspect", cp }).stdout)):find('"containerPort":6443', 1, true))
      end
      local cfg = lyaml.load(World.read(w.kubeconfig))
      assert.matches("^https://127%.0%.0%.1:%d+$", cfg.clusters[1].cluster.server)
      local internal = ok(w.kina{ "get", "kubeconfig", "--name", cluster, "--internal" }).stdout
      assert.truthy(internal:find("server: https://" .. lb .. ":6443", 1, true), internal)
      -- every kubeconfig and certificate name the load balancer; the control planes share
      -- the certificate key, the workers do not have it
      local keys = {}
      for _, name in ipairs(names) do
        local conf = ok(w.sim{ "exec", name, "cat", "/kind/kubeadm.conf" }).stdout
        assert.truthy(conf:find("controlPlaneEndpoint: " .. lb .. ":6443", 1, true), name)
        keys[name] = conf:match("certificateKey: (%x+)")
      end
      assert.matches("^" .. ("%x"):rep(64) .. "$", keys[cluster .. "-control-plane"])
      assert.equal(keys[cluster .. "-control-plane"], keys[cluster .. "-control-plane2"])
      assert.equal(keys[cluster .. "-control-plane"], keys[cluster .. "-control-plane3"])
      assert.is_nil(keys[cluster .. "-worker"])
      assert.equal(1, w.calls("exec", cluster .. "-control-plane", "kubeadm", "init", "--upload-certs"))
      -- control planes one at a time, the workers' joins beside the first; then every etcd
      -- member registered by name, one update each
      local cp2 = first_call(w, 0, "exec", cluster .. "-control-plane2", "kubeadm", "join")
      local cp3 = first_call(w, 0, "exec", cluster .. "-control-plane3", "kubeadm", "join")
      local update = first_call(w, 0, "exec", cluster .. "-control-plane", "kubectl", "etcdctl", "member", "update")
      local worker = first_call(w, 0, "exec", cluster .. "-worker", "kubeadm", "join")
      assert.is_true(cp2 > 0 and cp2 < cp3 and cp3 < update, ("joins %d, %d; update %d"):format(cp2, cp3, update))
      assert.is_true(worker > 0 and worker < cp3, "the workers waited for the control planes")
      assert.equal(3, w.calls("exec", cluster .. "-control-plane", "kubectl", "etcdctl", "member", "update"))
      -- and the third joined once the second was a member: its etcd started with both
      local manifest = ok(w.sim{ "exec", cluster .. "-control-plane3", "cat", "/etc/kubernetes/manifests/etcd.yaml" }).stdout
      local initial = manifest:match("%-%-initial%-cluster=(%S+)")
      assert.truthy(initial:find(cluster .. "-control-plane2=", 1, true), initial)
      assert.truthy(manifest:find("--initial-cluster-state=existing", 1, true))
      ok(w.sim{ "exec", cluster .. "-control-plane", "kubectl", ADMIN, "create", "configmap", "survivor" })
      assert_healthy(w, cluster, names, cluster .. "-worker")
    end)
  end)

  for _, shape in ipairs{ { 2, 0 }, { 5, 1 } } do
    it(("creates %d control planes + %d worker(s)"):format(shape[1], shape[2]), function()
      local cluster = "h" .. shape[1]
      in_world({ prefix = "kina-ha", cluster = cluster, config = config(shape[1], shape[2]) }, function(w)
        local r = ok(w.kina{ "create", "cluster", "--name", cluster, "--config", w.config, "--wait", "60s" }, "create")
        assert.truthy(r.stderr:find("Joining more control-plane nodes", 1, true))
        ok(w.sim{ "exec", cluster .. "-control-plane", "kubectl", ADMIN, "create", "configmap", "survivor" })
        assert_healthy(w, cluster, names_of(cluster, shape[1], shape[2]), cluster .. "-control-plane2")
        -- as in kind, only a single-node cluster loses the control-plane taint
        local nodes = json.decode(ok(w.sim{ "exec", cluster .. "-control-plane", "kubectl", ADMIN, "get", "nodes", "-o", "json" }).stdout)
        for _, item in ipairs(nodes.items) do
          if item.metadata.name:match("control%-plane") then
            assert.truthy(json.encode(item.spec.taints or {}):find("node-role.kubernetes.io/control-plane", 1, true), item.metadata.name)
          end
        end
      end)
    end)
  end

  it("is refused on macOS 15, where containers cannot reach each other", function()
    in_world({ prefix = "kina-ha", cluster = "m15", config = config(3, 0), env = { KINA_SIM_MACOS = "15" } }, function(w)
      local r = w.kina{ "create", "cluster", "--name", "m15", "--config", w.config }
      assert.equal(1, r.code)
      assert.truthy(r.stderr:find("a cluster of 3 nodes needs macOS 26", 1, true), r.stderr)
      assert.same({}, w.node_names())
    end)
  end)
end)

describe("a cluster with several control planes, once made", function()
  local cluster = "hx"

  local function with_cluster(fn, opts)
    in_world({ prefix = "kina-ha", cluster = cluster, config = config(3, 2), env = opts and opts.env }, function(w)
      ok(w.kina{ "create", "cluster", "--name", cluster, "--config", w.config, "--wait", "60s" }, "create")
      ok(w.sim{ "exec", cluster .. "-control-plane", "kubectl", ADMIN, "create", "configmap", "survivor" })
      fn(w, names_of(cluster, 3, 2))
    end)
  end

  it("keeps the API when a control plane stops, loses it without etcd's quorum, and kina start brings it back", function()
    with_cluster(function(w, names)
      -- the bootstrap control plane, behind kina's back
      ok(w.sim{ "stop", cluster .. "-control-plane" })
      local listed = {}
      for _, n in ipairs(json.decode(ok(w.kina{ "get", "nodes", "--name", cluster, "-o", "json" }).stdout)) do listed[n.name] = n.state end
      assert.equal("stopped", listed[cluster .. "-control-plane"])
      local ready = ready_nodes(w, cluster .. "-worker")
      assert.equal("True", ready[cluster .. "-control-plane2"])
      assert.are_not.equal("True", ready[cluster .. "-control-plane"])
      ok(kubectl_via_lb(w, cluster .. "-worker2", "get", "configmap", "survivor"), "the API with 2 of 3 control planes")
      -- the kubeconfig comes from a control plane that runs
      ok(w.kina{ "get", "kubeconfig", "--name", cluster }, "get kubeconfig with the bootstrap control plane stopped")
      -- a second one: 1 of 3 members is no quorum, the load balancer has no healthy backend
      ok(w.sim{ "stop", cluster .. "-control-plane2" })
      local r = kubectl_via_lb(w, cluster .. "-worker", "get", "nodes")
      assert.are_not.equal(0, r.code)
      assert.truthy(r.stderr:find(cluster .. "-external-load-balancer:6443 was refused", 1, true), r.stderr)
      r = ok(w.kina{ "start", "cluster", "--name", cluster, "--wait", "60s" }, "start")
      assert.truthy(r.stderr:find("etcd: restarted on " .. cluster .. "-control-plane, " .. cluster .. "-control-plane2", 1, true), r.stderr)
      assert_healthy(w, cluster, names, cluster .. "-worker")
    end)
  end)

  it("loses the API with the load balancer, and kina start moves every node to its new address", function()
    with_cluster(function(w, names)
      local lb = cluster .. "-external-load-balancer"
      local before = ips(w, cluster)
      ok(w.sim{ "stop", lb })
      local r = kubectl_via_lb(w, cluster .. "-worker", "get", "nodes")
      assert.are_not.equal(0, r.code)
      assert.truthy(r.stderr:find("no route to host", 1, true), r.stderr)
      -- something else takes the load balancer's old address first
      ok(w.sim{ "run", "-d", "--rm", "--name", "squatter", "alpine", "sleep", "1000" })
      r = ok(w.kina{ "start", "cluster", "--name", cluster, "--wait", "60s" }, "start")
      local after = ips(w, cluster)
      assert.are_not.equal(before[lb], after[lb])
      -- kube-proxy on the nodes that kept running still had the old address in its copy
      assert.truthy(r.stderr:find("kube-proxy: pods recreated on", 1, true), r.stderr)
      assert_healthy(w, cluster, names, cluster .. "-worker")
    end)
  end)

  it("restarts etcd before waiting on the API, when a worker kept running through a restart of the rest", function()
    with_cluster(function(w, names)
      local kept = cluster .. "-worker2"
      local before = ips(w, cluster)
      for _, name in ipairs(w.node_names()) do
        if name ~= kept then ok(w.sim{ "stop", name }) end
      end
      ok(w.sim{ "run", "-d", "--rm", "--name", "squatter", "alpine", "sleep", "1000" })
      local r = ok(w.kina{ "start", "cluster", "--name", cluster, "--wait", "30s" }, "start")
      assert.are_not.equal(before[cluster .. "-external-load-balancer"], ips(w, cluster)[cluster .. "-external-load-balancer"])
      -- the kept worker's kube-proxy had the load balancer's old address: recreated, which
      -- needs the API server, which needs etcd restarted first
      assert.truthy(r.stderr:find("kube-proxy: pods recreated on " .. kept, 1, true), r.stderr)
      assert.truthy(r.stderr:find("etcd: restarted on", 1, true), r.stderr)
      assert_healthy(w, cluster, names, kept)
    end)
  end)

  local PATHS = {
    { "kina stop cluster", function(w) ok(w.kina{ "stop", "cluster", "--name", cluster }, "kina stop") end },
    { "a runtime restart, other containers first", function(w, before)
      ok(w.sim{ "system", "stop" }); ok(w.sim{ "system", "start" })
      local top = 1
      for _, ip in pairs(before) do top = math.max(top, tonumber(ip:match("(%d+)$"))) end
      for i = 1, top - 1 do ok(w.sim{ "run", "-d", "--rm", "--name", "early-" .. i, "alpine", "sleep", "1000" }) end
    end },
  }
  for _, path in ipairs(PATHS) do
    it("survives " .. path[1] .. " with every IP changed, twice", function()
      with_cluster(function(w, names)
        local lb = cluster .. "-external-load-balancer"
        local server = lyaml.load(World.read(w.kubeconfig)).clusters[1].cluster.server
        local before = ips(w, cluster)
        for round = 1, 2 do
          path[2](w, before)
          local r = w.kina{ "start", "cluster", "--name", cluster, "--wait", "60s" }
          assert.equal(0, r.code, ("round %d: %s"):format(round, r.stderr))
          local after = ips(w, cluster)
          for name, ip in pairs(before) do
            assert.are_not.equal(ip, after[name], name .. " kept its IP: the restart proves nothing")
          end
          assert.truthy(r.stderr:find(("node %s: IP %s (was %s)"):format(lb, after[lb], before[lb]), 1, true), r.stderr)
          assert.truthy(r.stderr:find("etcd: restarted on", 1, true), r.stderr)
          assert_healthy(w, cluster, names, cluster .. "-worker2")
          -- the host reaches the API through the load balancer's published port, as before
          assert.equal(server, lyaml.load(World.read(w.kubeconfig)).clusters[1].cluster.server)
          before = after
        end
      end)
    end)
  end

  it("needs the etcd restart: after new IPs etcd's copy of /etc/hosts names none of its peers until it restarts", function()
    with_cluster(function(w)
      local cps = { cluster .. "-control-plane", cluster .. "-control-plane2", cluster .. "-control-plane3" }
      local hosts_before = ok(w.sim{ "exec", cps[1], "cat", "/etc/hosts" }).stdout
      ok(w.kina{ "stop", "cluster", "--name", cluster })
      ok(w.sim{ "run", "-d", "--rm", "--name", "early", "alpine", "sleep", "1000" })
      for _, name in ipairs(w.node_names()) do ok(w.sim{ "start", name }) end
      -- kina's block written by hand at the new addresses, as kina start would
      local now = ips(w, cluster)
      local entries = {}
      for name, ip in pairs(now) do entries[#entries + 1] = { name, ip } end
      table.sort(entries, function(a, b) return a[1] < b[1] end)
      local hosts = require("kina.hosts")
      for name in pairs(now) do
        local current = ok(w.sim{ "exec", name, "cat", "/etc/hosts" }).stdout
        ok(w.sim_in(hosts.merge(current, entries), { "exec", "-i", name, "cp", "/dev/stdin", "/etc/hosts" }))
      end
      assert.are_not.equal(hosts_before, ok(w.sim{ "exec", cps[1], "cat", "/etc/hosts" }).stdout)
      -- the control planes serve nothing: etcd dials its peers by names its Pod cannot resolve
      local r = w.sim{ "exec", cps[1], "kubectl", ADMIN, "get", "nodes" }
      assert.are_not.equal(0, r.code)
      -- etcd restarted on two of three: quorum, the API answers
      for i = 1, 2 do
        local id = ok(w.sim{ "exec", cps[i], "crictl", "ps", "-q", "--name", "^etcd$" }).stdout:match("%S+")
        ok(w.sim{ "exec", cps[i], "crictl", "stop", id })
      end
      ok(w.sim{ "exec", cps[1], "kubectl", ADMIN, "get", "configmap", "survivor" }, "the API after etcd restarted on 2 of 3")
    end)
  end)

  it("says at start that etcd cannot have quorum when control planes are gone", function()
    with_cluster(function(w)
      ok(w.kina{ "stop", "cluster", "--name", cluster })
      ok(w.sim{ "delete", cluster .. "-control-plane2" })
      ok(w.sim{ "delete", cluster .. "-control-plane3" })
      local r = w.kina{ "start", "cluster", "--name", cluster, "--wait", "10s" }
      assert.equal(1, r.code)
      assert.truthy(r.stderr:find("etcd needs 2 of its 3 members and only 1 control plane(s) run (" .. cluster
        .. "-control-plane); gone: " .. cluster .. "-control-plane2, " .. cluster .. "-control-plane3", 1, true), r.stderr)
    end)
  end)

  it("loads images into the Kubernetes nodes only, exports the load balancer's logs, and deletes everything", function()
    with_cluster(function(w, names)
      local lb = cluster .. "-external-load-balancer"
      ok(w.sim{ "image", "pull", "busybox:1.36" })
      local r = ok(w.kina{ "load", "docker-image", "busybox:1.36", "--name", cluster }, "load")
      for _, name in ipairs(names) do
        local images = ok(w.sim{ "exec", name, "ctr", "-n", "k8s.io", "images", "ls", "-q" }).stdout
        assert.truthy(images:find("busybox:1.36", 1, true), name .. " lacks the image")
      end
      assert.equal(0, w.calls("exec", lb, "ctr"))
      r = w.kina{ "load", "docker-image", "busybox:1.36", "--name", cluster, "--nodes", lb }
      assert.equal(1, r.code)
      assert.truthy(r.stderr:find("is the cluster's load balancer, not a Kubernetes node", 1, true), r.stderr)
      local dir = w.dir .. "/logs"
      ok(w.kina{ "export", "logs", dir, "--name", cluster }, "export logs")
      local files = World.list_dir(dir .. "/" .. lb, "file")
      assert.truthy(World.read(dir .. "/" .. lb .. "/backends.txt"):find(cluster .. "-control-plane3", 1, true))
      for _, f in ipairs{ "kina-apiserver-lb.log", "serial.log", "journal.log", "inspect.json" } do
        assert.truthy(World.read(dir .. "/" .. lb .. "/" .. f), f .. " missing: " .. table.concat(files, " "))
      end
      assert.is_nil(World.read(dir .. "/" .. lb .. "/kubelet.log"))
      assert.truthy(World.read(dir .. "/" .. cluster .. "-control-plane3/kubelet.log"))
      ok(w.kina{ "delete", "cluster", "--name", cluster }, "delete")
      assert.same({}, w.node_names())
      local cfg = lyaml.load(World.read(w.kubeconfig) or "{}") or {}
      assert.same({}, World.names(cfg.clusters))
    end)
  end)
end)
