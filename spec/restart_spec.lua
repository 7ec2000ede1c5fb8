-- Clusters that survive the laptop (kina.lifecycle): `kina start cluster` after `kina stop
-- cluster`, after nodes stopped behind kina's back, after a runtime restart and after a reboot,
-- every node with a new IP, twice in a row, for 1 node (macOS 15 and 26) and 1 + 3 (macOS 26).
-- "Works" is what the simulator can tell: every node Ready (its kubelet reaches the API server
-- by the name in its kubelet.conf, through its own /etc/hosts, at a control plane whose
-- manifests and certificate carry its current address), the `kubernetes` Service answering
-- from every node (kube-proxy there reaches the API server), objects still there, and the
-- kubeconfig rewritten.
local json = require "kina.json"
local lyaml = require "lyaml"
local World = dofile("spec/support/world.lua")

local ADMIN = "--kubeconfig=/etc/kubernetes/admin.conf"

local in_world = World.in_world

local ok = World.ok

local ips = World.node_ips

-- The checks of a working cluster, from inside it.
local function assert_healthy(w, cluster, names)
  local cp = cluster .. "-control-plane"
  local nodes = json.decode(ok(w.sim{ "exec", cp, "kubectl", ADMIN, "get", "nodes", "-o", "json" }, "get nodes").stdout)
  local ready = {}
  for _, item in ipairs(nodes.items) do
    for _, c in ipairs(item.status.conditions) do
      if c.type == "Ready" then ready[item.metadata.name] = c.status end
    end
  end
  local now = ips(w, cluster)
  for _, name in ipairs(names) do
    assert.equal("True", ready[name], name .. " is not Ready")
    local r = w.sim{ "exec", name, "curl", "-sSk", "-m", "2", "https://10.96.0.1/healthz" }
    assert.equal(0, r.code, name .. ": the kubernetes Service does not answer: " .. r.stderr)
    assert.equal("ok", r.stdout)
    -- the node knows every node at its address now
    local hosts = ok(w.sim{ "exec", name, "cat", "/etc/hosts" }).stdout
    for other, ip in pairs(now) do
      assert.truthy(hosts:find("\n" .. ip .. " " .. other .. "\n", 1, true), name .. "'s /etc/hosts lacks " .. other .. " " .. ip .. ":\n" .. hosts)
    end
  end
  -- what was made before is still there
  ok(w.sim{ "exec", cp, "kubectl", ADMIN, "get", "configmap", "survivor" }, "the ConfigMap made at create")
end

local function node_names(cluster, workers)
  local names = { cluster .. "-control-plane" }
  for i = 1, workers do names[#names + 1] = cluster .. "-worker" .. (i > 1 and i or "") end
  return names
end

local CONFIG = {
  [0] = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n",
  [3] = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n- role: worker\n",
}

-- How many containers must start first for the nodes to get none of the addresses `before`
-- ({name = ip}) held, when addresses are handed out from .2 up.
local function squatters(before)
  local top = 1
  for _, ip in pairs(before) do top = math.max(top, tonumber(ip:match("(%d+)$"))) end
  return top - 1
end

-- The ways a cluster's nodes stop, each followed by `kina start cluster`.
local PATHS = {
  { "kina stop cluster", function(w, cluster) ok(w.kina{ "stop", "cluster", "--name", cluster }, "kina stop") end },
  { "nodes stopped behind kina's back (container stop)", function(w, cluster, names)
    -- one at a time, the control plane last: the order a user might type them in
    for i = #names, 1, -1 do ok(w.sim{ "stop", names[i] }) end
    local _ = cluster
  end },
  -- after a runtime restart addresses are handed out from the bottom again: containers started
  -- first take the addresses the nodes had, so that every node's address changes
  { "a runtime restart (container system stop / start)", function(w, _, _, before)
    ok(w.sim{ "system", "stop" }); ok(w.sim{ "system", "start" })
    for i = 1, squatters(before) do ok(w.sim{ "run", "-d", "--rm", "--name", "early-" .. i, "alpine", "sleep", "1000" }) end
  end },
  { "a reboot (every node stopped, addresses handed out anew, other containers first)", function(w, _, _, before)
    ok(w.sim{ "system", "stop" }); ok(w.sim{ "system", "start" })
    for i = 1, squatters(before) + 1 do ok(w.sim{ "run", "-d", "--rm", "--name", "app-" .. i, "alpine", "sleep", "1000" }) end
  end },
}

describe("kina start cluster: clusters survive new IPs", function()
  for _, shape in ipairs({ { workers = 0, macos = "26" }, { workers = 0, macos = "15" }, { workers = 3, macos = "26" } }) do
    for _, path in ipairs(PATHS) do
      local title = ("%d node(s), macOS %s: %s, twice"):format(1 + shape.workers, shape.macos, path[1])
      it(title, function()
        local cluster = "rs"
        in_world({ prefix = "kina-restart", cluster = cluster, config = CONFIG[shape.workers],
          env = { KINA_SIM_MACOS = shape.macos } }, function(w)
          local names = node_names(cluster, shape.workers)
          ok(w.kina{ "create", "cluster", "--name", cluster, "--config", w.config, "--wait", "60s" }, "create")
          ok(w.sim{ "exec", cluster .. "-control-plane", "kubectl", ADMIN, "create", "configmap", "survivor" })
          assert_healthy(w, cluster, names)
          local before = ips(w, cluster)
          for round = 1, 2 do
            path[2](w, cluster, names, before)
            local r = w.kina{ "start", "cluster", "--name", cluster, "--wait", "60s" }
            assert.equal(0, r.code, ("round %d: %s"):format(round, r.stderr))
            local after = ips(w, cluster)
            for _, name in ipairs(names) do
              assert.are_not.equal(before[name], after[name], name .. " kept its IP: the restart proves nothing")
            end
            assert.truthy(r.stderr:find(("node %s-control-plane: IP %s (was %s)"):format(cluster, after[cluster .. "-control-plane"],
              before[cluster .. "-control-plane"]), 1, true), r.stderr)
            -- Apple's VMs lose the sysctls and MSS rules at every boot
            assert.truthy(r.stderr:find("sysctls and iptables rules set again on", 1, true), r.stderr)
            assert_healthy(w, cluster, names)
            -- the kubeconfig kina wrote names the published API server port
            local cfg = lyaml.load(World.read(w.kubeconfig))
            assert.matches("^https://127%.0%.0%.1:%d+$", cfg.clusters[1].cluster.server)
            before = after
          end
        end)
      end)
    end
  end

  it("recreates kube-proxy on the nodes that kept running while the control plane moved", function()
    in_world({ prefix = "kina-restart", cluster = "kp", config = CONFIG[3] }, function(w)
      local names = node_names("kp", 3)
      ok(w.kina{ "create", "cluster", "--name", "kp", "--config", w.config, "--wait", "60s" })
      ok(w.sim{ "exec", "kp-control-plane", "kubectl", ADMIN, "create", "configmap", "survivor" })
      ok(w.sim{ "stop", "kp-control-plane" }); ok(w.sim{ "start", "kp-control-plane" })
      -- the workers' kube-proxy pods keep their copy of /etc/hosts: the Service is dead there
      for _, name in ipairs({ "kp-worker", "kp-worker2", "kp-worker3" }) do
        ok(w.sim{ "exec", name, "true" })
      end
      local r = w.kina{ "start", "cluster", "--name", "kp" }
      assert.equal(0, r.code, r.stderr)
      assert.truthy(r.stderr:find("repaired kube-proxy: pods recreated on kp-worker, kp-worker2, kp-worker3, which kept running while the control plane moved", 1, true), r.stderr)
      -- with the cluster's own tool, one node at a time
      assert.equal(3, w.calls("exec", "kp-control-plane", "kubectl", ADMIN, "-n", "kube-system", "delete", "pod", "-l", "k8s-app=kube-proxy"))
      assert_healthy(w, "kp", names)
    end)
  end)

  it("exits 1 naming each node that is not healthy within --wait, and what to do", function()
    in_world({ prefix = "kina-restart", cluster = "slow", config = CONFIG[3] }, function(w)
      ok(w.kina{ "create", "cluster", "--name", "slow", "--config", w.config, "--wait", "60s" })
      ok(w.kina{ "stop", "cluster", "--name", "slow" })
      -- kubelets that take a minute to report Ready after their boot
      local r = w.kina({ "start", "cluster", "--name", "slow", "--wait", "2s" }, { KINA_SIM_READY_DELAY = "60000" })
      assert.equal(1, r.code)
      assert.truthy(r.stderr:find('cluster "slow" is not healthy after 2s:', 1, true), r.stderr)
      for _, name in ipairs(node_names("slow", 3)) do
        assert.truthy(r.stderr:find("  " .. name .. ": not Ready: ", 1, true), r.stderr)
      end
      assert.truthy(r.stderr:find("kina export logs --name slow", 1, true), r.stderr)
      -- given the time, it is healthy
      r = w.kina{ "start", "cluster", "--name", "slow", "--wait", "60s" }
      assert.equal(0, r.code, r.stderr)
    end)
  end)

  it("tells a cluster of an older kina (the control plane's IP everywhere) how to recreate it", function()
    in_world({ prefix = "kina-restart", cluster = "old", config = CONFIG[3] }, function(w)
      ok(w.kina{ "create", "cluster", "--name", "old", "--config", w.config, "--wait", "60s" })
      local cp_ip = ips(w, "old")["old-control-plane"]
      -- what kina wrote before format 2: the endpoint was the control plane's IP
      for _, name in ipairs(node_names("old", 3)) do
        ok(w.sim_in(json.encode({ ip = ips(w, "old")[name], cert_sans = { cp_ip }, endpoint = cp_ip }),
          { "exec", "-i", name, "cp", "/dev/stdin", "/kind/kina-state.json" }))
      end
      ok(w.kina{ "stop", "cluster", "--name", "old" })
      local r = w.kina{ "start", "cluster", "--name", "old" }
      assert.equal(1, r.code)
      assert.truthy(r.stderr:find(('cluster "old" was created by an older kina, which wrote the control plane\'s IP at create time (%s)'):format(cp_ip), 1, true), r.stderr)
      assert.truthy(r.stderr:find("kina delete cluster --name old && kina create cluster --name old", 1, true), r.stderr)
    end)
  end)

  it("get clusters: running, stopped, or partly running with the command that helps", function()
    in_world({ prefix = "kina-restart", cluster = "gc", config = CONFIG[3] }, function(w)
      ok(w.kina{ "create", "cluster", "--name", "gc", "--config", w.config })
      assert.equal("NAME  STATE    NODES\ngc    running  4\n", ok(w.kina{ "get", "clusters" }).stdout)
      ok(w.sim{ "stop", "gc-worker2" })
      assert.equal("NAME  STATE                                                  NODES\n"
        .. "gc    partly running (3 of 4): kina start cluster --name gc  4\n", ok(w.kina{ "get", "clusters" }).stdout)
      local js = json.decode(ok(w.kina{ "get", "clusters", "-o", "json" }).stdout)
      assert.same({ { name = "gc", state = "partly running", nodes = 4, running = 3 } }, js)
      ok(w.kina{ "stop", "cluster", "--name", "gc" })
      assert.equal("stopped", json.decode(ok(w.kina{ "get", "clusters", "-o", "json" }).stdout)[1].state)
    end)
  end)
end)
