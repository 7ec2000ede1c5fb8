-- Specs for kina.sim.node: commands inside a simulated kindest/node, driven through
-- node.exec with a fake ctx (the simulator CLI builds the real one).
local node = require("kina.sim.node")
local oci = require("kina.sim.oci")

local KUBEADM_CONF = [[
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.35.5
networking:
  podSubnet: 10.244.0.0/16
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: abcdef.0123456789abcdef
skipPhases: [preflight]
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: 192.168.64.2:6443
    token: abcdef.0123456789abcdef
    unsafeSkipCAVerification: true
skipPhases: [preflight]
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
]]

local ADMIN = "--kubeconfig=/etc/kubernetes/admin.conf"

local function new_world(opts)
  opts = opts or {}
  local base = os.tmpname(); os.remove(base)
  local world = { base = base, clock = opts.clock or 1000000, recs = {}, version = opts.version or "1.2.2",
    env = opts.env or { KINA_SIM_BOOT_DELAY = "200", KINA_SIM_READY_DELAY = "300" }, reachable = opts.reachable }
  function world:add(id, ip, image, extra)
    local r = { id = id, ip = ip, image = image or "docker.io/kindest/node:v1.35.5", rootfs = base .. "/" .. id,
      started = self.clock, state = "running", caps_all = true, env = {} }
    for k, v in pairs(extra or {}) do r[k] = v end
    assert(node.init_rootfs(r.rootfs, r))
    self.recs[#self.recs + 1] = r
    return r
  end
  function world:ctx(r)
    return {
      container = r, version = self.version, now = function() return self.clock end,
      env = function(k) return self.env[k] end,
      containers = function() return self.recs end,
      find_by_ip = function(ip) for _, c in ipairs(self.recs) do if c.ip == ip then return c end end end,
      reachable = function(a, b) if self.reachable then return self.reachable(a, b) end return true end,
      lock = function() return { unlock = function() end } end,
    }
  end
  function world:exec(r, argv, stdin)
    local out, err = io.tmpfile(), io.tmpfile()
    local input
    if stdin then input = io.tmpfile(); input:write(stdin); input:seek("set") end
    local code = node.exec(self:ctx(r), argv, { stdout = out, stderr = err, stdin = input })
    out:seek("set"); err:seek("set")
    return code, out:read("a"), err:read("a")
  end
  function world:sh(r, script, stdin) return self:exec(r, { "sh", "-c", script }, stdin) end
  function world:cleanup() os.execute("rm -rf '" .. base .. "'") end
  return world
end

describe("kina.sim.node", function()
  local w
  after_each(function() if w then w:cleanup(); w = nil end end)

  describe("boot", function()
    it("reaches Multi-User System exactly when the boot delay has passed", function()
      local rec = { image = "kindest/node:v1.35.5", started = 100, ip = "192.168.64.2" }
      local env = { KINA_SIM_BOOT_DELAY = "2000" }
      assert.equal(102, node.boot_complete_at(rec, env))
      local early = node.boot_log(rec, 101, env)
      local full = node.boot_log(rec, 102, env)
      local function has(lines, pat)
        for _, l in ipairs(lines) do if l:match(pat) then return true end end
        return false
      end
      assert.is_false(has(early, "Reached target .*Multi%-User System"))
      assert.is_true(has(full, "Reached target .*Multi%-User System"))
      assert.is_true(#early < #full)
      assert.same({}, node.boot_log({ image = "alpine:3", started = 0 }, 50, env))
    end)

    it("only offers the containerd socket once boot has completed", function()
      w = new_world()
      local cp = w:add("kind-control-plane", "192.168.64.2")
      assert.equal(1, (w:exec(cp, { "test", "-S", "/run/containerd/containerd.sock" })))
      local code, out = w:exec(cp, { "systemctl", "is-active", "containerd" })
      assert.equal(3, code); assert.equal("activating\n", out)
      w.clock = w.clock + 0.25
      assert.equal(0, (w:exec(cp, { "test", "-S", "/run/containerd/containerd.sock" })))
      code, out = w:exec(cp, { "systemctl", "is-active", "containerd" })
      assert.equal(0, code); assert.equal("active\n", out)
    end)
  end)

  describe("basic commands", function()
    before_each(function()
      w = new_world()
      w.cp = w:add("kind-control-plane", "192.168.64.2")
      w.clock = w.clock + 1
    end)

    it("writes files with cp /dev/stdin and reads them with cat", function()
      assert.equal(0, (w:exec(w.cp, { "mkdir", "-p", "/kind/x/y" })))
      assert.equal(0, (w:exec(w.cp, { "cp", "/dev/stdin", "/kind/x/y/file" }, "payload\n")))
      local code, out = w:exec(w.cp, { "cat", "/kind/x/y/file" })
      assert.equal(0, code); assert.equal("payload\n", out)
      local f = assert(io.open(w.cp.rootfs .. "/kind/x/y/file")); assert.equal("payload\n", f:read("a")); f:close()
      local err
      code, _, err = w:exec(w.cp, { "cat", "/nope" })
      assert.equal(1, code); assert.equal("cat: /nope: No such file or directory\n", err)
      code, _, err = w:exec(w.cp, { "cp", "/dev/stdin", "/missing/dir/f" }, "x")
      assert.equal(1, code); assert.equal("cp: cannot create regular file '/missing/dir/f': No such file or directory\n", err)
    end)

    it("ships the kindest/node files kind reads", function()
      local _, version = w:exec(w.cp, { "cat", "/kind/version" })
      assert.equal("v1.35.5\n", version)
      local _, cni = w:exec(w.cp, { "cat", "/kind/manifests/default-cni.yaml" })
      assert.truthy(cni:find("{{ .PodSubnet }}", 1, true))
      assert.truthy(cni:find("would you kindly template this file", 1, true))
      assert.equal(0, (w:exec(w.cp, { "test", "-f", "/kind/manifests/default-storage.yaml" })))
      assert.equal(0, (w:exec(w.cp, { "test", "-f", "/etc/containerd/config.toml" })))
      -- containerd 2.x dumps through go-toml v2: single-quoted keys and strings
      local _, dump = w:exec(w.cp, { "containerd", "config", "dump" })
      assert.truthy(dump:find("[plugins.'io.containerd.cri.v1.images']\n    snapshotter = 'overlayfs'\n", 1, true))
      w:sh(w.cp, "printf '[plugins]\\nsnapshotter = \"native\"\\n' > /etc/containerd/conf.d/native.toml")
      _, dump = w:exec(w.cp, { "containerd", "config", "dump" })
      assert.truthy(dump:find("    snapshotter = 'native'\n", 1, true))
      assert.truthy(dump:find("imports = ['/etc/containerd/config.toml', '/etc/containerd/conf.d/native.toml']", 1, true))
    end)

    it("runs sh -c lists with &&, ||, ;, quoting and redirects", function()
      local code, out = w:sh(w.cp, "mkdir -p /a && echo 'one two' > /a/f; echo \"three $HOME\" >> /a/f && cat /a/f")
      assert.equal(0, code); assert.equal("one two\nthree /root\n", out)
      code, out = w:sh(w.cp, "false || echo recovered; test -d /a && echo dir")
      assert.equal(0, code); assert.equal("recovered\ndir\n", out)
      code = w:sh(w.cp, "true && false")
      assert.equal(1, code)
      code, out = w:sh(w.cp, "false; echo $?")
      assert.equal("1\n", out)
      code = w:sh(w.cp, "! test -e /nothing")
      assert.equal(0, code)
    end)

    it("refuses unsupported shell syntax loudly and reports missing commands as dash does", function()
      local code, _, err = w:sh(w.cp, "echo a | cat")
      assert.equal(2, code); assert.matches('^sh: 1: Syntax error: "|"', err)
      code, _, err = w:sh(w.cp, "echo $(hostname)")
      assert.equal(2, code); assert.truthy(err:find("Syntax error", 1, true))
      code, _, err = w:sh(w.cp, "echo 'unterminated")
      assert.equal(2, code); assert.equal("sh: 1: Syntax error: Unterminated quoted string\n", err)
      code, _, err = w:sh(w.cp, "nosuchtool --flag")
      assert.equal(127, code); assert.equal("sh: 1: nosuchtool: not found\n", err)
      code, _, err = w:sh(w.cp, "echo x > /no/such/dir/f")
      assert.equal(2, code); assert.equal("sh: 1: cannot create /no/such/dir/f: Directory nonexistent\n", err)
      code, _, err = w:exec(w.cp, { "bash", "-c", "nosuchtool" })
      assert.equal(127, code); assert.equal("bash: line 1: nosuchtool: command not found\n", err)
    end)

    it("fails exec of a missing executable with the runtime's error", function()
      local code, out, err = w:exec(w.cp, { "nosuchtool", "x" })
      assert.equal(1, code); assert.equal("", out)
      assert.matches("^Error: failed to start process %x+%-[%x-]+ in container kind%-control%-plane %(cause: ", err)
      assert.truthy(err:find('failed to find target executable nosuchtool"', 1, true))
    end)

    it("keeps node tools out of plain images", function()
      local plain = w:add("plain", "192.168.64.9", "docker.io/library/alpine:3.20")
      assert.equal(0, (w:exec(plain, { "echo", "hi" })))
      local code, _, err = w:exec(plain, { "kubeadm", "version" })
      assert.equal(1, code); assert.truthy(err:find("failed to find target executable kubeadm", 1, true))
    end)
  end)

  describe("kernel, sysctl and iptables", function()
    it("reports the Kata kernel of each CLI version", function()
      for version, kernel in pairs({ ["0.8.0"] = "6.12.28", ["0.9.0"] = "6.18.5", ["0.11.0"] = "6.18.5", ["0.12.0"] = "6.18.15", ["1.2.2"] = "6.18.15" }) do
        w = new_world({ version = version })
        local r = w:add("n1", "192.168.64.2")
        local code, out = w:exec(r, { "uname", "-r" })
        assert.equal(0, code); assert.equal(kernel .. "\n", out)
        w:cleanup(); w = nil
      end
    end)

    it("sets sysctls, resets them on reboot, and refuses when /proc/sys is read-only", function()
      w = new_world()
      local r = w:add("n1", "192.168.64.2")
      local code, out = w:exec(r, { "sysctl", "-n", "net.ipv4.ip_forward" })
      assert.equal(0, code); assert.equal("0\n", out)
      code, out = w:exec(r, { "sysctl", "-w", "net.ipv4.ip_forward=1" })
      assert.equal(0, code); assert.equal("net.ipv4.ip_forward = 1\n", out)
      assert.equal("1\n", select(2, w:exec(r, { "cat", "/proc/sys/net/ipv4/ip_forward" })))
      r.started = r.started + 60 -- stop/start: a new boot
      assert.equal("0\n", select(2, w:exec(r, { "sysctl", "-n", "net.ipv4.ip_forward" })))
      local ro = w:add("n2", "192.168.64.3", nil, { readonly_proc_sys = true })
      local err
      code, _, err = w:exec(ro, { "sysctl", "-w", "net.ipv4.ip_forward=1" })
      assert.equal(255, code); assert.equal('sysctl: permission denied on key "net.ipv4.ip_forward"\n', err)
      code, _, err = w:exec(r, { "sysctl", "-w", "net.bogus.key=1" })
      assert.equal(255, code); assert.equal("sysctl: cannot stat /proc/sys/net/bogus/key: No such file or directory\n", err)
    end)

    it("fails iptables-nft on the 6.12 kernel but keeps legacy iptables working", function()
      w = new_world({ version = "0.8.0" })
      local r = w:add("n1", "192.168.64.2")
      local rule = { "-t", "mangle", "-A", "OUTPUT", "-p", "tcp", "--tcp-flags", "SYN,RST", "SYN", "-j", "TCPMSS", "--set-mss", "1220" }
      local code, _, err = w:exec(r, { "iptables-nft", table.unpack(rule) })
      assert.equal(4, code)
      assert.equal("iptables v1.8.11 (nf_tables): Could not fetch rule set generation id: Invalid argument\n", err)
      assert.equal(0, (w:exec(r, { "iptables", table.unpack(rule) })))
      local _, out = w:exec(r, { "iptables", "-t", "mangle", "-S", "OUTPUT" })
      assert.equal("-P OUTPUT ACCEPT\n-A OUTPUT -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1220\n", out)
      assert.equal("iptables v1.8.11 (legacy)\n", select(2, w:exec(r, { "iptables", "--version" })))
    end)

    it("accepts iptables-nft on 6.18 kernels and rejects unknown tables", function()
      w = new_world()
      local r = w:add("n1", "192.168.64.2")
      assert.equal(0, (w:exec(r, { "iptables-nft", "-t", "mangle", "-A", "FORWARD", "-j", "TCPMSS", "--set-mss", "1220" })))
      local code, _, err = w:exec(r, { "iptables", "-t", "bogus", "-S" })
      assert.equal(3, code); assert.truthy(err:find("can't initialize iptables table `bogus'", 1, true))
    end)
  end)

  describe("kubeadm and kubectl", function()
    before_each(function()
      w = new_world()
      w.cp = w:add("kind-control-plane", "192.168.64.2")
      w.worker = w:add("kind-worker", "192.168.64.3")
      w.clock = w.clock + 1
      for _, r in ipairs({ w.cp, w.worker }) do
        assert.equal(0, (w:sh(r, "mkdir -p /kind && cp /dev/stdin /kind/kubeadm.conf", KUBEADM_CONF)))
      end
    end)

    local function init()
      local code, out, err = w:exec(w.cp, { "kubeadm", "init", "--config=/kind/kubeadm.conf", "--skip-token-print", "--v=6" })
      assert.equal(0, code, err)
      return out
    end

    it("init writes admin.conf pointing at the node IP with certificate data", function()
      local out = init()
      assert.truthy(out:find("Your Kubernetes control-plane has initialized successfully!", 1, true))
      local _, admin = w:exec(w.cp, { "cat", "/etc/kubernetes/admin.conf" })
      assert.truthy(admin:find("server: https://192.168.64.2:6443\n", 1, true))
      local ca = admin:match("certificate%-authority%-data: (%S+)")
      assert.truthy(ca and #ca > 100)
      assert.matches("^LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t", ca) -- base64 of "-----BEGIN CERTIFICATE-----"
      assert.truthy(admin:find("client-key-data: ", 1, true))
    end)

    it("init fails without a config file, with a non-kubeadm config, and twice", function()
      local code, _, err = w:exec(w.cp, { "kubeadm", "init", "--config", "/kind/missing.conf" })
      assert.equal(1, code); assert.truthy(err:find("open /kind/missing.conf: no such file or directory", 1, true))
      w:sh(w.cp, "cp /dev/stdin /kind/bad.conf", "apiVersion: kubeadm.k8s.io/v1beta9\nkind: InitConfiguration\n")
      code, _, err = w:exec(w.cp, { "kubeadm", "init", "--config", "/kind/bad.conf" })
      assert.equal(1, code); assert.truthy(err:find('no kind "InitConfiguration" is registered for version "kubeadm.k8s.io/v1beta9"', 1, true))
      w:sh(w.cp, "cp /dev/stdin /kind/bad.conf", "kind: [unclosed\n")
      code, _, err = w:exec(w.cp, { "kubeadm", "init", "--config", "/kind/bad.conf" })
      assert.equal(1, code); assert.matches("^error converting YAML to JSON: yaml: ", err)
      init()
      w:sh(w.cp, "cp /dev/stdin /kind/pf.conf", "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n")
      code, _, err = w:exec(w.cp, { "kubeadm", "init", "--config", "/kind/pf.conf" })
      assert.equal(1, code)
      assert.truthy(err:find("[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]", 1, true))
      assert.truthy(err:find("[ERROR FileContent--proc-sys-net-ipv4-ip_forward]", 1, true))
    end)

    it("join needs an initialised, reachable control plane and a valid token", function()
      local code, _, err = w:exec(w.worker, { "kubeadm", "join", "--config", "/kind/kubeadm.conf" })
      assert.equal(1, code); assert.truthy(err:find("connect: connection refused", 1, true))
      init()
      code, _, err = w:exec(w.worker, { "kubeadm", "join", "192.168.64.2:6443", "--token", "zzzzzz.0123456789abcdef",
        "--discovery-token-unsafe-skip-ca-verification", "--ignore-preflight-errors=all" })
      assert.equal(1, code); assert.truthy(err:find('could not find a JWS signature in the cluster-info ConfigMap for token ID "zzzzzz"', 1, true))
      local _, join = w:exec(w.cp, { "kubeadm", "token", "create", "--print-join-command" })
      local argv = {}
      for word in join:gmatch("%S+") do argv[#argv + 1] = word end
      assert.equal("kubeadm", argv[1]); assert.equal("192.168.64.2:6443", argv[3])
      w:exec(w.worker, { "sysctl", "-w", "net.ipv4.ip_forward=1" })
      code, _, err = w:exec(w.worker, argv)
      assert.equal(0, code, err)
      local _, nodes = w:exec(w.cp, { "kubectl", ADMIN, "get", "nodes", "-o", "name" })
      assert.equal("node/kind-control-plane\nnode/kind-worker\n", nodes)
    end)

    it("join fails when the control plane cannot be reached (macOS 15)", function()
      init()
      w.reachable = function() return false end
      local code, _, err = w:exec(w.worker, { "kubeadm", "join", "--config", "/kind/kubeadm.conf" })
      assert.equal(1, code); assert.truthy(err:find("dial tcp 192.168.64.2:6443: connect: no route to host", 1, true))
    end)

    it("nodes become Ready only after a CNI is applied and the ready delay passes", function()
      init()
      assert.equal(0, (w:exec(w.worker, { "kubeadm", "join", "--config", "/kind/kubeadm.conf" })))
      local jp = "-o=jsonpath='{.items..status.conditions[-1:].status}'"
      local _, out = w:exec(w.cp, { "kubectl", ADMIN, "get", "nodes", "--selector=node-role.kubernetes.io/control-plane", jp })
      assert.equal("'False'", out)
      -- the manifest must be templated first: {{ .PodSubnet }} is not valid Kubernetes YAML
      local _, cni = w:exec(w.cp, { "cat", "/kind/manifests/default-cni.yaml" })
      local code, _, terr = w:exec(w.cp, { "kubectl", "create", ADMIN, "-f", "-" }, cni)
      assert.equal(1, code); assert.truthy(terr:find("error converting YAML to JSON: yaml: invalid map key", 1, true))
      local templated = cni:gsub("{{ %.PodSubnet }}", "10.244.0.0/16")
      local created
      code, created = w:exec(w.cp, { "kubectl", "create", ADMIN, "-f", "-" }, templated)
      assert.equal(0, code); assert.truthy(created:find("daemonset.apps/kindnet created", 1, true))
      local code2, _, err = w:exec(w.cp, { "kubectl", "create", ADMIN, "-f", "-" }, templated)
      assert.equal(1, code2); assert.truthy(err:find('daemonsets.apps "kindnet" already exists', 1, true))
      _, out = w:exec(w.cp, { "kubectl", ADMIN, "get", "nodes", "--selector=node-role.kubernetes.io/control-plane", jp })
      assert.equal("'False'", out)
      w.clock = w.clock + 0.5
      _, out = w:exec(w.cp, { "kubectl", ADMIN, "get", "nodes", "--selector=node-role.kubernetes.io/control-plane", jp })
      assert.equal("'True'", out)
      local _, json = w:exec(w.cp, { "kubectl", ADMIN, "get", "nodes", "-o", "json" })
      local doc = require("cjson").decode(json)
      assert.equal(2, #doc.items)
      assert.equal("kind-worker", doc.items[2].metadata.name)
      assert.equal("192.168.64.3", doc.items[2].status.addresses[1].address)
      assert.equal("Ready", doc.items[2].status.conditions[4].type)
      assert.equal("True", doc.items[2].status.conditions[4].status)
      local wcode, wout = w:exec(w.cp, { "kubectl", ADMIN, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=1s" })
      assert.equal(0, wcode); assert.equal("node/kind-control-plane condition met\nnode/kind-worker condition met\n", wout)
      local _, pods = w:exec(w.cp, { "kubectl", ADMIN, "get", "pods", "-A" })
      assert.truthy(pods:find("coredns%-%S+%s+1/1%s+Running"))
    end)

    it("wait times out on NotReady nodes", function()
      init()
      w.env.KINA_SIM_READY_DELAY = "0"
      local code, _, err = w:exec(w.cp, { "kubectl", ADMIN, "wait", "--for=condition=Ready", "node/kind-control-plane", "--timeout=0.05s" })
      assert.equal(1, code); assert.equal("error: timed out waiting for the condition on nodes/kind-control-plane\n", err)
    end)

    it("taints and untaints the control plane", function()
      init()
      local code, out = w:exec(w.cp, { "kubectl", ADMIN, "taint", "nodes", "--all", "node-role.kubernetes.io/control-plane-" })
      assert.equal(0, code); assert.equal("node/kind-control-plane untainted\n", out)
      local err
      code, _, err = w:exec(w.cp, { "kubectl", ADMIN, "taint", "nodes", "--all", "node-role.kubernetes.io/control-plane-" })
      assert.equal(1, code); assert.equal('error: taint "node-role.kubernetes.io/control-plane" not found\n', err)
    end)

    it("refuses an API server whose certificate does not cover a new IP", function()
      init()
      w.cp.ip = "192.168.64.7" -- restarted with another address
      local code, _, err = w:exec(w.cp, { "kubectl", "--server-side", ADMIN, "get", "nodes" })
      assert.equal(1, code); assert.truthy(err:find("dial tcp 192.168.64.2:6443: connect: no route to host", 1, true))
      w:sh(w.cp, "cp /dev/stdin /etc/kubernetes/admin2.conf", "apiVersion: v1\nclusters:\n- cluster:\n    server: https://192.168.64.7:6443\n")
      code, _, err = w:exec(w.cp, { "kubectl", "--kubeconfig=/etc/kubernetes/admin2.conf", "get", "nodes" })
      assert.equal(1, code)
      assert.truthy(err:find("x509: certificate is valid for 10.96.0.1, 192.168.64.2, not 192.168.64.7", 1, true))
    end)

    it("reset removes the control plane state", function()
      init()
      assert.equal(0, (w:exec(w.cp, { "kubeadm", "reset", "-f" })))
      assert.equal(1, (w:exec(w.cp, { "test", "-f", "/etc/kubernetes/admin.conf" })))
      assert.equal(0, (w:exec(w.cp, { "kubeadm", "init", "--config", "/kind/kubeadm.conf" })))
    end)
  end)

  describe("images", function()
    before_each(function()
      w = new_world()
      w.cp = w:add("kind-control-plane", "192.168.64.2")
      w.clock = w.clock + 1
    end)

    it("imports an OCI archive from stdin with ctr and shows it in crictl", function()
      local f = io.tmpfile()
      assert(oci.write(f, { { reference = "docker.io/library/hello:1" }, { reference = "example.com/team/app:v2" } }))
      f:seek("set")
      local tar = f:read("a")
      local code, out, err = w:exec(w.cp, { "ctr", "--namespace=k8s.io", "images", "import", "--all-platforms", "--digests", "--snapshotter=overlayfs", "-" }, tar)
      assert.equal(0, code, err)
      assert.matches("^unpacking docker%.io/library/hello:1 %(sha256:%x+%)%.%.%.done\n", out)
      local _, ls = w:exec(w.cp, { "ctr", "-n", "k8s.io", "images", "ls", "-q" })
      assert.truthy(ls:find("docker.io/library/hello:1\n", 1, true))
      assert.truthy(ls:find("example.com/team/app:v2\n", 1, true))
      local icode, inspect = w:exec(w.cp, { "crictl", "inspecti", "hello:1" })
      assert.equal(0, icode)
      local doc = require("cjson").decode(inspect)
      assert.equal("docker.io/library/hello:1", doc.status.repoTags[1])
      local _, json = w:exec(w.cp, { "crictl", "images", "-o", "json" })
      assert.truthy(json:find('"docker.io/library/hello:1"', 1, true))
      local mcode, _, merr = w:exec(w.cp, { "crictl", "inspecti", "docker.io/library/absent:1" })
      assert.equal(1, mcode); assert.truthy(merr:find('no such image \\"docker.io/library/absent:1\\" present', 1, true))
    end)

    it("rejects a stdin that is not a tar", function()
      local code, _, err = w:exec(w.cp, { "ctr", "-n", "k8s.io", "images", "import", "-" }, string.rep("garbage!", 200))
      assert.equal(1, code); assert.equal("ctr: get next file: archive/tar: invalid tar header\n", err)
      code, _, err = w:exec(w.cp, { "ctr", "-n", "k8s.io", "images", "import", "--snapshotter=bogus", "-" }, "")
      assert.equal(1, code); assert.equal("ctr: snapshotter not loaded: bogus: invalid argument\n", err)
    end)

    it("needs a running containerd", function()
      local r = w:add("fresh", "192.168.64.4") -- started at the current clock: still booting
      local code, _, err = w:exec(r, { "ctr", "-n", "k8s.io", "images", "ls" })
      assert.equal(1, code); assert.truthy(err:find("containerd.sock: connect: no such file or directory", 1, true))
    end)
  end)

  describe("systemd", function()
    it("restarts services and records it in the journal", function()
      w = new_world()
      local r = w:add("n1", "192.168.64.2")
      w.clock = w.clock + 1
      assert.equal(0, (w:exec(r, { "systemctl", "restart", "containerd" })))
      local _, log = w:exec(r, { "journalctl", "-u", "containerd", "--no-pager" })
      assert.truthy(log:find("Stopped containerd.service - containerd container runtime.", 1, true))
      assert.equal(0, (w:exec(r, { "systemctl", "stop", "containerd" })))
      assert.equal(1, (w:exec(r, { "test", "-S", "/run/containerd/containerd.sock" })))
      local code, _, err = w:exec(r, { "systemctl", "restart", "nosuch" })
      assert.equal(5, code); assert.equal("Failed to restart nosuch.service: Unit nosuch.service not found.\n", err)
    end)
  end)
end)
