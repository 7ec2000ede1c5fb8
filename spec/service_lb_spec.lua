-- Services of type LoadBalancer (kina.service_lb): the controller kina installs on the control
-- plane is the bash script of the module itself, run here with the host's bash for one pass
-- (`--once`) against the simulated cluster, through a `kubectl` on PATH that forwards to the
-- control plane (`container exec -i CP kubectl ...`). "Serves" is what the simulator can tell:
-- `curl http://ADDRESS:PORT` from a node reaches the Service (kube-proxy's rule for its
-- LoadBalancer ingress IP, kina.sim.node.kube curl_http).
local async = require "kina.async"
local json = require "kina.json"
local service_lb = require "kina.service_lb"
local World = dofile("spec/support/world.lua")

local ADMIN = "--kubeconfig=/etc/kubernetes/admin.conf"

local CONFIG = {
  [0] = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n",
  [2] = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n",
}

local ok = World.ok

-- Run fn(w, sched) in a fresh world whose scheduler also runs the script.
local function in_world(opts, fn)
  return async.run(function(sched)
    local w = World.new(sched, opts)
    local done, err = pcall(fn, w, sched)
    w.close()
    if not done then error(err, 0) end
  end)
end

local ips = World.node_ips

local function service(name, ports, extra)
  local lines = { "apiVersion: v1", "kind: Service", "metadata:", "  name: " .. name, "spec:", "  type: LoadBalancer",
    "  selector:", "    app: " .. name, "  ports:" }
  for _, p in ipairs(ports) do lines[#lines + 1] = "  - port: " .. p end
  for _, l in ipairs(extra or {}) do lines[#lines + 1] = "  " .. l end
  return table.concat(lines, "\n") .. "\n"
end

local function kubectl(w, cp, args, stdin)
  local argv = { "exec", "-i", cp, "kubectl", ADMIN }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return w.sim_in(stdin or "", argv)
end

local function apply(w, cp, text) ok(kubectl(w, cp, { "apply", "-f", "-" }, text), "kubectl apply") end

-- One pass of the real script with the host's bash, its kubectl forwarding to control plane `cp`.
local function one_pass(w, sched, cp)
  local bin = w.dir .. "/bin"
  os.execute("mkdir -p '" .. bin .. "'")
  World.write(bin .. "/kubectl", '#!/bin/bash\nexec "$KINA_LB_SIM" exec -i "$KINA_LB_NODE" kubectl "$@"\n')
  os.execute("chmod 0755 '" .. bin .. "/kubectl'")
  World.write(w.dir .. "/kina-lb", service_lb.SCRIPT)
  local env = { PATH = bin .. ":" .. os.getenv("PATH"), KINA_LB_SIM = World.SIM, KINA_LB_NODE = cp }
  for k, v in pairs(w.env) do env[k] = v end
  env.KINA_SIM_LOG = false
  local r = assert(sched:exec{ argv = { "bash", w.dir .. "/kina-lb", "--once" }, env = env, stdin = "", timeout = 120 })
  return r
end

-- namespace/name -> the ingress IPs (comma-joined) of every Service, "<none>" for none
local function ingress(w, cp)
  local out = {}
  local text = ok(kubectl(w, cp, { "get", "svc", "-A", "--no-headers",
    "-o", "custom-columns=NS:.metadata.namespace,NAME:.metadata.name,IP:.status.loadBalancer.ingress[*].ip" })).stdout
  for ns, name, ip in text:gmatch("(%S+)%s+(%S+)%s+(%S+)\n") do out[ns .. "/" .. name] = ip end
  return out
end

-- the Events on Service `name`: { {reason, message} }
local function events(w, cp, name)
  local out = {}
  local r = kubectl(w, cp, { "get", "events", "--no-headers",
    "-o", "custom-columns=OBJECT:.involvedObject.name,KIND:.involvedObject.kind,TYPE:.type,REASON:.reason,MESSAGE:.message" })
  for line in ok(r).stdout:gmatch("[^\n]+") do
    local obj, kind, typ, reason, message = line:match("^(%S+)%s+(%S+)%s+(%S+)%s+(%S+)%s+(.-)%s*$")
    if obj == name and kind == "Service" then out[#out + 1] = { type = typ, reason = reason, message = message } end
  end
  return out
end

local function curl(w, node, ip, port)
  return w.sim{ "exec", node, "curl", "-sS", "-m", "2", ("http://%s:%d/"):format(ip, port) }
end

describe("Services of type LoadBalancer", function()
  it("loadBalancerServices is a boolean in both config forms; absent means on", function()
    local config = require "kina.config"
    local head = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
    assert.is_nil(config.from_yaml(head, "c.yaml").load_balancer_services)
    assert.is_false(config.from_yaml(head .. "loadBalancerServices: false\n", "c.yaml").load_balancer_services)
    assert.is_false(config.from_table({ load_balancer_services = false }, "c.lua").load_balancer_services)
    local okay, err = pcall(config.from_yaml, head .. "loadBalancerServices: 3\n", "c.yaml")
    assert.is_false(okay)
    assert.matches("loadBalancerServices: must be true or false, not ", tostring(err), 1, true)
  end)

  it("a Service gets the node's address, which serves its port; the controller runs as a unit", function()
    in_world({ prefix = "kina-lb", cluster = "lb", config = CONFIG[0] }, function(w, sched)
      local cp = "lb-control-plane"
      ok(w.kina{ "create", "cluster", "--name", "lb", "--config", w.config, "--wait", "60s" }, "create")
      -- installed by create, enabled and running
      assert.equal(service_lb.SCRIPT, ok(w.sim{ "exec", cp, "cat", service_lb.SCRIPT_PATH }).stdout)
      assert.equal(service_lb.UNIT_TEXT, ok(w.sim{ "exec", cp, "cat", service_lb.UNIT_PATH }).stdout)
      assert.equal("enabled\n", ok(w.sim{ "exec", cp, "systemctl", "is-enabled", service_lb.UNIT }).stdout)
      assert.equal("active\n", ok(w.sim{ "exec", cp, "systemctl", "is-active", service_lb.UNIT }).stdout)

      apply(w, cp, service("web", { 80 }))
      -- not ours: another class, and a loadBalancerIP that is no node's
      apply(w, cp, service("metal", { 80 }, { "loadBalancerClass: example.com/metal" }))
      apply(w, cp, service("pinned", { 81 }, { "loadBalancerIP: 192.0.2.10" }))
      -- a name the API server would refuse, were it let through: never shell code, never used
      local pwned = w.dir .. "/pwned"
      apply(w, cp, (service("x", { 82 }):gsub("name: x", ("name: 'a$(touch${IFS}%s)'"):format(pwned))))
      local cp_ip = ips(w, "lb")[cp]
      assert.are_not.equal(0, curl(w, cp, cp_ip, 80).code, "port 80 answered before any address was given")
      ok(one_pass(w, sched, cp), "kina-lb --once")
      local got = ingress(w, cp)
      assert.equal(cp_ip, got["default/web"])
      assert.equal("<none>", got["default/metal"])
      assert.equal("<none>", got["default/pinned"])
      assert.equal("<none>", got["default/a$(touch${IFS}" .. pwned .. ")"])
      assert.is_nil(World.read(pwned))
      local r = curl(w, cp, cp_ip, 80)
      assert.equal(0, r.code, r.stderr)
      assert.equal("default/web\n", r.stdout)
      -- only its ports
      assert.equal(7, curl(w, cp, cp_ip, 81).code)
      -- a second pass changes nothing
      ok(one_pass(w, sched, cp))
      assert.same(got, ingress(w, cp))
    end)
  end)

  it("gives two Services on one port different nodes, an Event to the third, and skips excluded nodes", function()
    in_world({ prefix = "kina-lb", cluster = "lb", config = CONFIG[2] }, function(w, sched)
      local cp = "lb-control-plane"
      ok(w.kina{ "create", "cluster", "--name", "lb", "--config", w.config, "--wait", "60s" }, "create")
      local now = ips(w, "lb")
      apply(w, cp, service("one", { 80 }))
      apply(w, cp, service("two", { 80, 443 }))
      apply(w, cp, service("other-port", { 8080 }))
      ok(one_pass(w, sched, cp))
      local got = ingress(w, cp)
      -- the control plane keeps kubeadm's exclude-from-external-load-balancers label
      assert.equal(now["lb-worker"], got["default/one"])
      assert.equal(now["lb-worker2"], got["default/two"])
      assert.equal(now["lb-worker"], got["default/other-port"])
      for _, from in ipairs({ cp, "lb-worker", "lb-worker2" }) do
        assert.equal("default/one\n", ok(curl(w, from, now["lb-worker"], 80)).stdout)
        assert.equal("default/two\n", ok(curl(w, from, now["lb-worker2"], 80)).stdout)
        assert.equal("default/two\n", ok(curl(w, from, now["lb-worker2"], 443)).stdout)
      end

      -- a third on port 80: no node left
      apply(w, cp, service("three", { 80 }))
      ok(one_pass(w, sched, cp))
      assert.equal("<none>", ingress(w, cp)["default/three"])
      local ev = events(w, cp, "three")
      assert.equal(1, #ev)
      assert.equal("Warning", ev[1].type)
      assert.equal("NoFreeNode", ev[1].reason)
      assert.equal("no node is free for TCP/80: taken on lb-worker (TCP/80: default/one), lb-worker2 (TCP/80: default/two)", ev[1].message)
      -- said once, not at every pass (the script remembers while it runs; a pass is a new run)
      assert.equal(0, #events(w, cp, "one"))

      -- a node labelled to be excluded is no longer used: its Service moves or waits
      ok(kubectl(w, cp, { "label", "node", "lb-worker2", "node.kubernetes.io/exclude-from-external-load-balancers=" }))
      ok(one_pass(w, sched, cp))
      got = ingress(w, cp)
      assert.equal(now["lb-worker"], got["default/one"])
      assert.equal("<none>", got["default/two"])
      ev = events(w, cp, "two")
      assert.equal(1, #ev)
      assert.equal("no node is free for TCP/80 TCP/443: taken on lb-worker (TCP/80: default/one)", ev[1].message)
      assert.equal(7, curl(w, "lb-worker", now["lb-worker2"], 443).code)
    end)
  end)

  it("moves the addresses to the nodes' new IPs after kina stop + kina start", function()
    in_world({ prefix = "kina-lb", cluster = "lb", config = CONFIG[2] }, function(w, sched)
      local cp = "lb-control-plane"
      ok(w.kina{ "create", "cluster", "--name", "lb", "--config", w.config, "--wait", "60s" }, "create")
      apply(w, cp, service("one", { 80 }))
      apply(w, cp, service("two", { 80 }))
      ok(one_pass(w, sched, cp))
      local before = ips(w, "lb")
      assert.equal(before["lb-worker"], ingress(w, cp)["default/one"])
      ok(w.kina{ "stop", "cluster", "--name", "lb" }, "kina stop")
      ok(w.kina{ "start", "cluster", "--name", "lb", "--wait", "60s" }, "kina start")
      -- the unit is enabled: systemd starts it at boot
      assert.equal("active\n", ok(w.sim{ "exec", cp, "systemctl", "is-active", service_lb.UNIT }).stdout)
      local after = ips(w, "lb")
      for name, ip in pairs(after) do assert.are_not.equal(before[name], ip, name .. " kept its IP: the restart proves nothing") end
      -- until the next pass the Service still has the old address: the new one does not serve it
      assert.are_not.equal(0, curl(w, "lb-worker", after["lb-worker"], 80).code)
      ok(one_pass(w, sched, cp))
      local got = ingress(w, cp)
      assert.equal(after["lb-worker"], got["default/one"])
      assert.equal(after["lb-worker2"], got["default/two"])
      assert.equal("default/one\n", ok(curl(w, "lb-worker2", after["lb-worker"], 80)).stdout)
      assert.equal("default/two\n", ok(curl(w, cp, after["lb-worker2"], 80)).stdout)
    end)
  end)

  it("--no-lb and loadBalancerServices: false install no unit", function()
    in_world({ prefix = "kina-lb", cluster = "off", config = CONFIG[0] .. "loadBalancerServices: false\n" }, function(w)
      local r = ok(w.kina{ "create", "cluster", "--name", "off", "--no-lb" }, "create --no-lb")
      assert.falsy(r.stderr:find("LoadBalancer", 1, true), r.stderr)
      assert.equal(1, w.sim{ "exec", "off-control-plane", "test", "-e", service_lb.UNIT_PATH }.code)
      assert.equal(1, w.sim{ "exec", "off-control-plane", "test", "-e", service_lb.SCRIPT_PATH }.code)
      r = ok(w.kina{ "create", "cluster", "--name", "off2", "--config", w.config }, "create with loadBalancerServices: false")
      assert.falsy(r.stderr:find("LoadBalancer", 1, true), r.stderr)
      assert.equal(1, w.sim{ "exec", "off2-control-plane", "test", "-e", service_lb.UNIT_PATH }.code)
    end)
  end)
end)
