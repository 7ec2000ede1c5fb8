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
nodeRegistration:
  kubeletExtraArgs:
  - name: node-ip
    value: 192.168.64.2
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
    assert(node.init_rootfs(r.rootfs, r, self.env))
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
  -- stop and start: a new boot, maybe with another address (Apple allocates one per start)
  function world:reboot(r, ip)
    r.started = self.clock
    if ip == "none" then r.ip = nil elseif ip then r.ip = ip end
    self.clock = self.clock + 1
  end
  function world:log(r) return node.boot_log(r, self.clock, self.env, self:ctx(r)) end
  function world:read(r, path)
    local f = io.open(r.rootfs .. path, "rb")
    if not f then return nil end
    local t = f:read("a"); f:close(); return t
  end
  function world:cleanup() os.execute("rm -rf '" .. base .. "'") end
  return world
end

describe("kina.sim.node", function()
  local w
  after_each(function() if w then w:cleanup(); w = nil end end)

  describe("boot", function()
    it("reaches Multi-User System exactly when the boot delay has passed", function()
      w = new_world({ env = { KINA_SIM_BOOT_DELAY = "2000" } })
      local rec = w:add("kind-control-plane", "192.168.64.2")
      assert.equal(w.clock + 2, node.boot_complete_at(rec, w.env))
      local function has(lines, pat)
        for _, l in ipairs(lines) do if l:match(pat) then return true end end
        return false
      end
      local early = node.boot_log(rec, w.clock + 1, w.env, w:ctx(rec))
      local full = node.boot_log(rec, w.clock + 2, w.env, w:ctx(rec))
      assert.is_false(has(early, "Reached target .*Multi%-User System"))
      assert.is_true(has(full, "Reached target .*Multi%-User System"))
      assert.is_true(#early < #full)
      for i, l in ipairs(early) do assert.equal(full[i], l) end -- the console only grows
      assert.same({}, node.boot_log({ image = "alpine:3", started = 0 }, 50, w.env))
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
      -- pkg/build/nodeimage/buildcontext.go: /kind/version is written without a newline
      local _, version = w:exec(w.cp, { "cat", "/kind/version" })
      assert.equal("v1.35.5", version)
      local _, cni = w:exec(w.cp, { "cat", "/kind/manifests/default-cni.yaml" })
      assert.truthy(cni:find("{{ .PodSubnet }}", 1, true))
      assert.truthy(cni:find("would you kindly template this file", 1, true))
      assert.equal(0, (w:exec(w.cp, { "test", "-f", "/kind/manifests/default-storage.yaml" })))
      assert.equal(0, (w:exec(w.cp, { "test", "-f", "/etc/containerd/config.toml" })))
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
      assert.equal(1, code); assert.equal('sysctl: permission denied on key "net.ipv4.ip_forward"\n', err)
      code, _, err = w:exec(r, { "sysctl", "-w", "net.bogus.key=1" })
      assert.equal(1, code); assert.equal("sysctl: cannot stat /proc/sys/net/bogus/key: No such file or directory\n", err)
      -- the other keys of the command line are still written (oracle, procps 4.0.2 / 4.0.7)
      code, out, err = w:exec(r, { "sysctl", "-w", "net.bogus.key=1", "net.ipv4.ip_forward=1" })
      assert.equal(1, code); assert.equal("net.ipv4.ip_forward = 1\n", out)
      assert.equal("sysctl: cannot stat /proc/sys/net/bogus/key: No such file or directory\n", err)
      assert.same({ 0, "", "" }, { w:exec(r, { "sysctl", "-e", "-w", "net.bogus.key=1" }) })
    end)

    it("fails iptables-nft on the 6.12 kernel but keeps legacy iptables working", function()
      w = new_world({ version = "0.8.0" })
      local r = w:add("n1", "192.168.64.2")
      w.clock = w.clock + 1
      local rule = { "-t", "mangle", "-A", "OUTPUT", "-p", "tcp", "--tcp-flags", "SYN,RST", "SYN", "-j", "TCPMSS", "--set-mss", "1220" }
      local code, _, err = w:exec(r, { "iptables-nft", table.unpack(rule) })
      assert.equal(4, code)
      assert.equal("iptables v1.8.11 (nf_tables): Could not fetch rule set generation id: Invalid argument\n", err)
      assert.equal(0, (w:exec(r, { "iptables", table.unpack(rule) })))
      local _, out = w:exec(r, { "iptables", "-t", "mangle", "-S", "OUTPUT" })
      assert.equal("-P OUTPUT ACCEPT\n-A OUTPUT -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1220\n", out)
      -- the entrypoint's select_iptables finds no rules at all on a fresh VM: legacy
      assert.equal("iptables v1.8.11 (legacy)\n", select(2, w:exec(r, { "iptables", "--version" })))
    end)

    it("lists, checks and refuses rules as iptables-nft does (oracle, iptables 1.8.9 / 1.8.13)", function()
      w = new_world()
      local r = w:add("n1", "192.168.64.2")
      w.clock = w.clock + 1
      local function rule(chain, mss) return { "-t", "mangle", "-A", chain, "-p", "tcp", "--tcp-flags", "SYN,RST", "SYN", "-j", "TCPMSS", "--set-mss", mss or "1220" } end
      assert.same({ 0, "", "" }, { w:exec(r, { "iptables-nft", table.unpack(rule("OUTPUT")) }) })
      assert.same({ 0, "", "" }, { w:exec(r, { "iptables-nft", table.unpack(rule("FORWARD")) }) })
      -- canonical form (-m tcp), grouped by chain in the table's order
      assert.same({ 0, "-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n"
        .. "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1220\n"
        .. "-A OUTPUT -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1220\n", "" },
        { w:exec(r, { "iptables-nft", "-t", "mangle", "-S" }) })
      local check = rule("OUTPUT"); check[3] = "-C"
      assert.equal(0, (w:exec(r, { "iptables-nft", table.unpack(check) })))
      local explicit = { "-t", "mangle", "-C", "FORWARD", "-p", "tcp", "-m", "tcp", "--tcp-flags", "SYN,RST", "SYN", "-j", "TCPMSS", "--set-mss", "1220" }
      assert.equal(0, (w:exec(r, { "iptables-nft", table.unpack(explicit) })))
      local miss = rule("OUTPUT", "1300"); miss[3] = "-C"
      assert.same({ 1, "", "iptables: Bad rule (does a matching rule exist in that chain?).\n" }, { w:exec(r, { "iptables-nft", table.unpack(miss) }) })
      assert.same({ 1, "", "iptables: No chain/target/match by that name.\n" }, { w:exec(r, { "iptables-nft", table.unpack(rule("NOCHAIN")) }) })
      local code, _, err = w:exec(r, { "iptables-nft", "-t", "mangle", "-A", "OUTPUT", "-p", "tcp", "--tcp-flags", "SYN,RST", "SYN", "-j", "TCPMSS" })
      assert.equal(2, code)
      assert.equal("iptables v1.8.11 (nf_tables): TCPMSS target: At least one parameter is required\nTry `iptables -h' or 'iptables --help' for more information.\n", err)
      -- once legacy tables exist, the nft listing warns about them
      assert.equal(0, (w:exec(r, { "iptables-legacy", table.unpack(rule("OUTPUT")) })))
      code, _, err = w:exec(r, { "iptables-nft", "-t", "mangle", "-S" })
      assert.equal(0, code)
      assert.equal("# Warning: iptables-legacy tables present, use iptables-legacy to see them\n", err)
    end)

    it("accepts iptables-nft on 6.18 kernels and rejects unknown tables", function()
      w = new_world()
      local r = w:add("n1", "192.168.64.2")
      w.clock = w.clock + 1
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

    it("names the node's first nameserver when a server's name does not resolve, as Go's resolver does", function()
      init()
      w:sh(w.worker, "cp /dev/stdin /etc/resolv.conf", "nameserver 10.89.0.1\nnameserver 10.89.0.2\n")
      local code, _, err = w:exec(w.worker, { "kubeadm", "join", "nowhere.invalid:6443", "--token", "abcdef.0123456789abcdef",
        "--discovery-token-unsafe-skip-ca-verification", "--ignore-preflight-errors=all" })
      assert.are_not.equal(0, code)
      assert.truthy(err:find("lookup nowhere.invalid on 10.89.0.1:53: no such host", 1, true), err)
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

    it("serves only with manifests that carry the current IP, and a certificate that covers it", function()
      init()
      w.cp.ip = "192.168.64.7" -- restarted with another address, without kind's entrypoint fix-up
      local code, _, err = w:exec(w.cp, { "kubectl", "--server-side", ADMIN, "get", "nodes" })
      assert.equal(1, code); assert.truthy(err:find("dial tcp 192.168.64.2:6443: connect: no route to host", 1, true))
      w:sh(w.cp, "cp /dev/stdin /etc/kubernetes/admin2.conf", "apiVersion: v1\nclusters:\n- cluster:\n    server: https://192.168.64.7:6443\n")
      -- etcd.yaml still listens on the old address: etcd cannot bind, the API server never serves
      code, _, err = w:exec(w.cp, { "kubectl", "--kubeconfig=/etc/kubernetes/admin2.conf", "get", "nodes" })
      assert.equal(1, code)
      assert.truthy(err:find("The connection to the server 192.168.64.7:6443 was refused", 1, true), err)
      -- the manifests moved to the new address (what the entrypoint's sed does): TLS is next
      local etcd = select(2, w:exec(w.cp, { "cat", "/etc/kubernetes/manifests/etcd.yaml" }))
      w:sh(w.cp, "cp /dev/stdin /etc/kubernetes/manifests/etcd.yaml", (etcd:gsub("192%.168%.64%.2", "192.168.64.7")))
      code, _, err = w:exec(w.cp, { "kubectl", "--kubeconfig=/etc/kubernetes/admin2.conf", "get", "nodes" })
      assert.equal(1, code)
      assert.truthy(err:find("x509: certificate is valid for 10.96.0.1, 192.168.64.2, not 192.168.64.7", 1, true), err)
    end)

    it("reset removes the control plane state", function()
      init()
      assert.equal(0, (w:exec(w.cp, { "kubeadm", "reset", "-f" })))
      assert.equal(1, (w:exec(w.cp, { "test", "-f", "/etc/kubernetes/admin.conf" })))
      assert.equal(0, (w:exec(w.cp, { "kubeadm", "init", "--config", "/kind/kubeadm.conf" })))
    end)

    it("runs kubeadm's preflight checks with their texts unless skipPhases names preflight", function()
      -- a control plane below kubeadm's minimum (checks.go NumCPU, checks_linux.go Mem)
      local small = w:add("small", "192.168.64.9", nil, { cpus = 1, memory = 1024 * 1024 * 1024 })
      w.clock = w.clock + 1
      local conf = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\n"
      w:sh(small, "cp /dev/stdin /kind/kubeadm.conf", conf)
      local code, out, err = w:exec(small, { "kubeadm", "init", "--config", "/kind/kubeadm.conf" })
      assert.equal(1, code)
      assert.truthy(out:find("[preflight] Running pre-flight checks\n", 1, true))
      assert.equal(table.concat({
        "error execution phase preflight: [preflight] Some fatal errors occurred:",
        "\t[ERROR NumCPU]: the number of available CPUs 1 is less than the required 2",
        "\t[ERROR Mem]: the system RAM (1024 MB) is less than the minimum 1700 MB",
        "\t[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward contents are not set to 1",
        "[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`",
        "To see the stack trace of this error execute with --v=5 or higher", "" }, "\n"), err)
      -- --ignore-preflight-errors still turns them into warnings
      w:exec(small, { "sysctl", "-w", "net.ipv4.ip_forward=1" })
      code, out = w:exec(small, { "kubeadm", "init", "--config", "/kind/kubeadm.conf", "--ignore-preflight-errors=NumCPU,Mem" })
      assert.equal(0, code)
      assert.truthy(out:find("\t[WARNING NumCPU]: the number of available CPUs 1 is less than the required 2\n", 1, true))
      -- kind's skipPhases: [preflight] runs none of them
      local other = w:add("small2", "192.168.64.10", nil, { cpus = 1, memory = 1024 * 1024 * 1024 })
      w.clock = w.clock + 1
      w:sh(other, "cp /dev/stdin /kind/kubeadm.conf", conf .. "skipPhases: [preflight]\n")
      code, out = w:exec(other, { "kubeadm", "init", "--config", "/kind/kubeadm.conf" })
      assert.equal(0, code)
      assert.is_nil(out:find("pre-flight", 1, true))
    end)

    it("names the node by nodeRegistration.name and leaves kube-proxy out when addon/kube-proxy is skipped", function()
      local conf = table.concat({
        "apiVersion: kubeadm.k8s.io/v1beta3", "kind: ClusterConfiguration", "kubernetesVersion: v1.35.5",
        "apiServer:", "  extraArgs:", "    runtime-config: \"\"", "---",
        "apiVersion: kubeadm.k8s.io/v1beta3", "kind: InitConfiguration",
        "bootstrapTokens:", "- token: abcdef.0123456789abcdef",
        "nodeRegistration:", "  name: kina-cp", "  kubeletExtraArgs:", "    node-ip: 192.168.64.2",
        "skipPhases: [preflight, addon/kube-proxy]", "" }, "\n")
      w:sh(w.cp, "cp /dev/stdin /kind/kubeadm.conf", conf)
      local code, out, err = w:exec(w.cp, { "kubeadm", "init", "--config", "/kind/kubeadm.conf" })
      assert.equal(0, code, err)
      assert.truthy(out:find("[addons] Applied essential addon: CoreDNS\n", 1, true))
      assert.is_nil(out:find("kube-proxy", 1, true))
      local _, names = w:exec(w.cp, { "kubectl", ADMIN, "get", "nodes", "-o", "name" })
      assert.equal("node/kina-cp\n", names)
      local _, pods = w:exec(w.cp, { "kubectl", ADMIN, "get", "pods", "-A" })
      assert.is_nil(pods:find("kube-proxy", 1, true))
      assert.truthy(pods:find("kube-apiserver-kina-cp", 1, true))
      -- v1beta3 takes maps for extraArgs, v1beta4 lists (kubeadm's unmarshal errors otherwise)
      w:sh(w.cp, "cp /dev/stdin /kind/v3.conf", "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n  - name: a\n    value: b\n")
      code, _, err = w:exec(w.cp, { "kubeadm", "init", "--config", "/kind/v3.conf" })
      assert.equal(1, code)
      assert.truthy(err:find("cannot unmarshal array into Go struct field NodeRegistrationOptions.nodeRegistration.kubeletExtraArgs of type map[string]string", 1, true))
    end)

    it("reports the node's containerd and Debian as the kubelet does", function()
      init()
      local _, json = w:exec(w.cp, { "kubectl", ADMIN, "get", "nodes", "-o", "json" })
      local info = require("cjson").decode(json).items[1].status.nodeInfo
      assert.equal("containerd://2.3.1", info.containerRuntimeVersion) -- kindest/node:v1.35.5 on kind v0.32's base
      assert.equal("Debian GNU/Linux 13 (trixie)", info.osImage)
    end)
  end)


  describe("the node image of each kind release", function()
    local release = require("kina.sim.node.release")

    it("maps node image tags to kind releases, unless KINA_SIM_NODE_BASE says otherwise", function()
      assert.equal("v0.32", release.for_kubernetes("v1.35.5")) -- kina's default image
      assert.equal("v0.31", release.for_kubernetes("v1.35.0")) -- kind v0.31.0's default
      assert.equal("v0.32", release.for_kubernetes("v1.36.1")) -- kind v0.32.0's default
      assert.equal("main", release.for_kubernetes("v1.37.0-rc.1"))
      assert.equal("main", release.for_kubernetes("v1.35.8"))
      assert.equal("v0.30", release.for_kubernetes("v1.34.0")) -- kind v0.30.0's default
      assert.equal("v0.26", release.for_kubernetes("v1.32.0"))
      assert.equal("v0.31", release.for_image("kindest/node:v1.35.5", function() return "v0.31" end).name)
      assert.equal("v0.32", release.for_image("kindest/node:v1.35.5@sha256:ce97", function() return nil end).name)
      local none, err = release.for_image("kindest/node:v1.35.5", function() return "v9" end)
      assert.is_nil(none)
      assert.equal('KINA_SIM_NODE_BASE must be one of v0.26, v0.30, v0.31, v0.32, main, got "v9"', err)
    end)

    -- kind images/base/Dockerfile at v0.26.0, v0.31.0, v0.32.0 and main (fed26882);
    -- containerd: cmd/containerd/command/main.go VersionPrinter, ctr version.go
    local BASES = {
      ["v0.26"] = { "containerd github.com/containerd/containerd v1.7.24 88bf19b2105c8b17560993bee28a01ddc2f97182\n",
        "crictl version v1.32.0\n", "iptables v1.8.9 (legacy)\n", "Debian GNU/Linux 12 (bookworm)", "systemd 252.", "go1.23.4" },
      ["v0.30"] = { "containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376\n",
        "crictl version v1.33.0\n", "iptables v1.8.9 (legacy)\n", "Debian GNU/Linux 12 (bookworm)", "systemd 252.", "go1.24.6" },
      ["v0.31"] = { "containerd github.com/containerd/containerd/v2 v2.2.0 1c4457e00facac03ce1d75f7b6777a7a851e5c41\n",
        "crictl version v1.33.0\n", "iptables v1.8.9 (legacy)\n", "Debian GNU/Linux 12 (bookworm)", "systemd 252.", "go1.25.5" },
      ["v0.32"] = { "containerd github.com/containerd/containerd/v2 v2.3.1 64b425cf570b3b8dd1d4cc46da7c1fce65c6651a\n",
        "crictl version v1.36.0\n", "iptables v1.8.11 (legacy)\n", "Debian GNU/Linux 13 (trixie)", "systemd 257.", "go1.26.3" },
      ["main"] = { "containerd github.com/containerd/containerd/v2 v2.3.4 db8809540e1a7a9da5d518876894933ff55692ab\n",
        "crictl version v1.36.0\n", "iptables v1.8.11 (legacy)\n", "Debian GNU/Linux 13 (trixie)", "systemd 257.", "go1.26.7" },
    }
    for base, want in pairs(BASES) do
      it("carries the versions of the " .. base .. " base", function()
        w = new_world({ env = { KINA_SIM_BOOT_DELAY = "200", KINA_SIM_NODE_BASE = base } })
        local r = w:add("kind-control-plane", "192.168.64.2")
        w.clock = w.clock + 1
        assert.same({ 0, want[1], "" }, { w:exec(r, { "containerd", "--version" }) })
        assert.equal(want[2], select(2, w:exec(r, { "crictl", "--version" })))
        assert.equal(want[3], select(2, w:exec(r, { "iptables", "--version" })))
        local _, ctr = w:exec(r, { "ctr", "version" })
        assert.truthy(ctr:find("  Go version: " .. want[6] .. "\n", 1, true))
        local _, osr = w:exec(r, { "cat", "/etc/os-release" })
        assert.truthy(osr:find('PRETTY_NAME="' .. want[4] .. '"\n', 1, true))
        -- base-files: trixie adds DEBIAN_VERSION_FULL, bookworm has none
        assert.equal(want[4]:find("trixie") ~= nil, osr:find("DEBIAN_VERSION_FULL=", 1, true) ~= nil)
        local banner
        for _, l in ipairs(w:log(r)) do if l:match("^systemd %d") then banner = l end end
        assert.truthy(banner and banner:sub(1, #want[5]) == want[5], banner)
        assert.truthy(w:log(r)[#w:log(r)]:find("Record Runlevel Change", 1, true))
        local welcome = false
        for _, l in ipairs(w:log(r)) do if l == "Welcome to " .. want[4] .. "!" then welcome = true end end
        assert.is_true(welcome)
      end)
    end

    it("ships kind's config.toml: version 2, no imports, the CRI settings under the grpc plugin", function()
      w = new_world()
      local r = w:add("kind-control-plane", "192.168.64.2")
      w.clock = w.clock + 1
      local _, text = w:exec(r, { "cat", "/etc/containerd/config.toml" })
      local t = assert(require("kina.toml").parse(text))
      assert.equal(2, t.version)
      assert.is_nil(t.imports)
      local cri = t.plugins["io.containerd.grpc.v1.cri"]
      assert.equal("overlayfs", cri.containerd.snapshotter)
      assert.is_true(cri.containerd.discard_unpacked_layers)
      assert.equal("runc", cri.containerd.default_runtime_name)
      for _, rt in ipairs({ "runc", "test-handler" }) do
        assert.equal("io.containerd.runc.v2", cri.containerd.runtimes[rt].runtime_type)
        assert.equal("/etc/containerd/cri-base.json", cri.containerd.runtimes[rt].base_runtime_spec)
        assert.is_true(cri.containerd.runtimes[rt].options.SystemdCgroup)
      end
      assert.equal("registry.k8s.io/pause:3.10", cri.sandbox_image)
      assert.is_true(cri.tolerate_missing_hugepages_controller)
      assert.is_false(cri.restrict_oom_score_adj)
      assert.same({ type = "snapshot", address = "/run/containerd-fuse-overlayfs.sock" }, t.proxy_plugins["fuse-overlayfs"])
      -- the entrypoint seds exactly this line
      assert.truthy(text:find('\n  snapshotter = "overlayfs"\n', 1, true))
      -- nothing creates /etc/containerd/conf.d in kind's image
      assert.equal(1, (w:exec(r, { "test", "-d", "/etc/containerd/conf.d" })))
      -- cri-base.json: `ctr oci spec` plus the createContainer hook, without rlimits
      local spec = require("cjson").decode((select(2, w:exec(r, { "cat", "/etc/containerd/cri-base.json" }))))
      assert.equal("1.3.0", spec.ociVersion) -- runtime-spec v1.3.0 in containerd v2.3.1's go.mod
      assert.equal("/kind/bin/mount-product-files.sh", spec.hooks.createContainer[1].path)
      assert.is_nil(spec.process.rlimits)
      assert.equal(14, #spec.process.capabilities.bounding)
    end)

    it("ships kind's units, /kind files and sysctl.d, and applies the sysctls at boot", function()
      w = new_world()
      local r = w:add("kind-control-plane", "192.168.64.2")
      local ro = w:add("ro", "192.168.64.3", nil, { readonly_proc_sys = true })
      w.clock = w.clock + 1
      local unit = w:read(r, "/etc/systemd/system/containerd.service")
      assert.truthy(unit:find("\nType=notify\n", 1, true) and unit:find("\nRestart=always\nRestartSec=1\n", 1, true))
      assert.truthy(w:read(r, "/etc/systemd/system/kubelet.service"):find("\nConditionPathExists=/var/lib/kubelet/config.yaml\n", 1, true))
      assert.truthy(w:read(r, "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"):find("EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env", 1, true))
      assert.truthy(w:read(r, "/etc/systemd/system/kubelet.service.d/11-kind.conf"):find("create-kubelet-cgroup-v2.sh", 1, true))
      assert.equal("runtime-endpoint: unix:///run/containerd/containerd.sock", w:read(r, "/etc/crictl.yaml"))
      assert.equal("KUBELET_EXTRA_ARGS=--runtime-cgroups=/system.slice/containerd.service", w:read(r, "/etc/default/kubelet"))
      for _, f in ipairs({ "create-kubelet-cgroup-v2.sh", "mount-product-files.sh", "undo-mount-hacks.sh" }) do
        assert.equal(0, (w:exec(r, { "test", "-x", "/kind/bin/" .. f })))
      end
      assert.truthy(w:read(r, "/kind/README.txt"):find("reserved for KIND", 1, true))
      assert.truthy(w:read(r, "/kind/manifests/default-cni.yaml"):find("image: docker.io/kindest/kindnetd:v20260528-9350166c\n", 1, true))
      assert.truthy(w:read(r, "/kind/manifests/default-storage.yaml"):find("docker.io/kindest/local-path-provisioner:v20260521-9fb22683", 1, true))
      -- systemd-sysctl applies /etc/sysctl.d at boot, unless /proc/sys is read-only
      assert.equal("1\n", select(2, w:exec(r, { "sysctl", "-n", "net.ipv4.conf.all.route_localnet" })))
      assert.equal("1\n", select(2, w:exec(r, { "sysctl", "-n", "net.ipv4.conf.all.rp_filter" })))
      assert.equal("0\n", select(2, w:exec(ro, { "sysctl", "-n", "net.ipv4.conf.all.route_localnet" })))
      -- kind's build preloads containerd's sandbox_image, not kubeadm's pause
      assert.equal(0, (w:exec(r, { "crictl", "inspecti", "registry.k8s.io/pause:3.10" })))
      assert.equal(1, (w:exec(r, { "crictl", "inspecti", "registry.k8s.io/pause:3.10.1" })))
      -- clean-install empties /var/log; the entrypoint's update-alternatives logs there
      assert.is_nil(w:read(r, "/var/log/dpkg.log"))
      assert.truthy(w:read(r, "/var/log/alternatives.log"):find("run with --set iptables /usr/sbin/iptables-legacy", 1, true))
    end)
  end)

  describe("boot (Apple's runtime, then kind's entrypoint, then systemd)", function()
    it("prints the entrypoint's lines in its order and writes what Apple's runtime writes", function()
      w = new_world()
      local r = w:add("kind.control-plane", "192.168.64.2")
      w.clock = w.clock + 1
      local log = w:log(r)
      assert.same({
        "INFO: ensuring we can execute mount/umount even with userns-remap",
        "INFO: remounting /sys read-only",
        "INFO: making mounts shared",
        "INFO: detected cgroup v2",
        "INFO: clearing and regenerating /etc/machine-id",
        "Initializing machine ID from random generator.",
        "INFO: setting iptables to detected mode: legacy",
        "INFO: detected IPv4 address: 192.168.64.2",
        "INFO: detected IPv6 address: ::ffff:192.168.64.2",
        "INFO: starting init",
      }, { table.unpack(log, 1, 10) })
      -- the hostname is the container ID up to its first "."
      assert.equal("kind\n", select(2, w:exec(r, { "hostname" })))
      assert.equal("127.0.0.1 localhost\n192.168.64.2 kind\n", w:read(r, "/etc/hosts"))
      assert.equal("192.168.64.2", w:read(r, "/kind/old-ipv4")) -- echo -n
      assert.equal(0, (w:exec(r, { "test", "-f", "/kind/product_uuid" })))
      -- the kubelet has no config yet: systemd skips it
      local started = false
      for _, l in ipairs(log) do if l:find("Started kubelet.service", 1, true) then started = true end end
      assert.is_false(started)
      assert.same({ 3, "inactive\n", "" }, { w:exec(r, { "systemctl", "is-active", "kubelet" }) })
    end)

    it("switches the snapshotter when KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER is set", function()
      w = new_world()
      local r = w:add("kind-control-plane", "192.168.64.2", nil, { env = { KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER = "native" } })
      w.clock = w.clock + 1
      local log = table.concat(w:log(r), "\n")
      assert.truthy(log:find('^INFO: changing snapshotter from "overlayfs" to "native"\n'))
      assert.truthy(w:read(r, "/etc/containerd/config.toml"):find('\n  snapshotter = "native"\n', 1, true))
      assert.truthy(select(2, w:exec(r, { "crictl", "imagefsinfo" })):find('"mountpoint": "/var/lib/containerd/io.containerd.snapshotter.v1.native"', 1, true))
    end)

    it("fails the boot without CAP_SYS_ADMIN: fix_mount cannot remount /sys", function()
      w = new_world()
      local r = w:add("kind-control-plane", "192.168.64.2", nil, { caps_all = false })
      w.clock = w.clock + 1
      local log = w:log(r)
      assert.equal("mount: /sys: permission denied.", log[#log])
      assert.equal(1, (w:exec(r, { "test", "-S", "/run/containerd/containerd.sock" })))
    end)

    it("moves the node to its new IP at the next boot, as enable_network_magic does", function()
      w = new_world()
      local cp = w:add("kind-control-plane", "192.168.64.2")
      w.clock = w.clock + 1
      assert.equal(0, (w:sh(cp, "mkdir -p /kind && cp /dev/stdin /kind/kubeadm.conf", KUBEADM_CONF ..
        "---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  certSANs: [192.168.64.2, 192.168.64.25]\n")))
      assert.equal(0, (w:exec(cp, { "kubeadm", "init", "--config=/kind/kubeadm.conf" })))
      w:reboot(cp, "192.168.64.7")
      local log = table.concat(w:log(cp), "\n")
      assert.truthy(log:find("INFO: detected IPv4 address: 192.168.64.7\nINFO: detected old IPv4 address: 192.168.64.2\n", 1, true))
      assert.truthy(log:find("INFO: clearing and regenerating the certificate for serving the Kubernetes API\n[certs] Generating \"apiserver\" certificate and key\n", 1, true))
      -- word-bounded: .25 is another address and stays
      local conf = w:read(cp, "/kind/kubeadm.conf")
      assert.truthy(conf:find("[192.168.64.7, 192.168.64.25]", 1, true))
      assert.is_nil(conf:find("192.168.64.2,", 1, true))
      assert.truthy(w:read(cp, "/var/lib/kubelet/kubeadm-flags.env"):find("--node-ip=192.168.64.7 ", 1, true))
      assert.truthy(w:read(cp, "/etc/kubernetes/manifests/kube-apiserver.yaml"):find("--advertise-address=192.168.64.7\n", 1, true))
      assert.equal("192.168.64.7", w:read(cp, "/kind/old-ipv4"))
      -- the new serving certificate covers the new address
      w:sh(cp, "cp /dev/stdin /etc/kubernetes/new.conf", "apiVersion: v1\nclusters:\n- cluster:\n    server: https://192.168.64.7:6443\n")
      assert.equal(0, (w:exec(cp, { "kubectl", "--kubeconfig=/etc/kubernetes/new.conf", "get", "nodes" })))
      -- and the kubelet registers the node's new address
      local _, json = w:exec(cp, { "kubectl", "--kubeconfig=/etc/kubernetes/new.conf", "get", "nodes", "-o", "json" })
      assert.equal("192.168.64.7", require("cjson").decode(json).items[1].status.addresses[1].address)
      -- no address at all but an old one: the entrypoint exits
      w:reboot(cp, "none")
      local lines = w:log(cp)
      assert.equal("ERROR: have an old IPv4 address but no current IPv4 address (!)", lines[#lines])
    end)
  end)

  describe("containerd: the config it reads at (re)start, and its dump", function()
    local function world_for(base)
      w = new_world({ env = { KINA_SIM_BOOT_DELAY = "200", KINA_SIM_NODE_BASE = base } })
      local r = w:add("kind-control-plane", "192.168.64.2")
      w.clock = w.clock + 1
      return r
    end
    local function fsinfo(r) return select(2, w:exec(r, { "crictl", "imagefsinfo" })):match('"mountpoint": "([^"]+)"') end
    -- what kina writes: kind's config.toml with the snapshotter and kind's local-registry patch
    -- merged in (kind pkg/internal/patch/toml.go; kina.containerd.patch_config)
    local PATCHED = require("kina.sim.node.files").containerd_config()
      :gsub('snapshotter = "overlayfs"', 'snapshotter = "native"')
      .. '\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n'

    it("dumps kind's config as containerd 2.3 does: migrated to version 4, single quotes", function()
      local r = world_for("v0.32")
      local code, dump, err = w:exec(r, { "containerd", "config", "dump" })
      assert.equal(0, code)
      assert.equal("version = 4\n", dump:match("^[^\n]*\n"))
      assert.truthy(dump:find("\n  [plugins.'io.containerd.cri.v1.images']\n    snapshotter = 'overlayfs'\n", 1, true))
      assert.truthy(dump:find("\n    [plugins.'io.containerd.cri.v1.images'.pinned_images]\n      sandbox = 'registry.k8s.io/pause:3.10'\n", 1, true))
      assert.truthy(dump:find("\n    [plugins.'io.containerd.cri.v1.images'.registry]\n      config_path = ''\n", 1, true))
      assert.truthy(dump:find("\n          [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n", 1, true))
      -- 2.2+ shows its default imports in the dump (never loaded, as the file has none)
      assert.truthy(dump:find("\nimports = ['/etc/containerd/conf.d/*.toml']\n", 1, true))
      assert.truthy(err:find("key=tolerate_missing_hugepages_controller plugin=io.containerd.cri.v1.runtime", 1, true))
      local t = assert(require("kina.toml").parse(dump))
      assert.equal("overlayfs", t.plugins["io.containerd.cri.v1.images"].snapshotter)
      assert.is_true(t.plugins["io.containerd.cri.v1.runtime"].containerd.runtimes["test-handler"].options.SystemdCgroup)
    end)

    it("dumps as containerd 2.2 (version 3, its certs.d default) and 1.7 (version 2, go-toml v1)", function()
      local r = world_for("v0.31")
      local _, dump = w:exec(r, { "containerd", "config", "dump" })
      assert.equal("version = 3\n", dump:match("^[^\n]*\n"))
      assert.truthy(dump:find("\n      config_path = '/etc/containerd/certs.d:/etc/docker/certs.d'\n", 1, true))
      w:cleanup()
      r = world_for("v0.26")
      _, dump = w:exec(r, { "containerd", "config", "dump" })
      assert.truthy(dump:find('\nimports = ["/etc/containerd/config.toml"]\n', 1, true))
      assert.truthy(dump:find('\nversion = 2\n', 1, true))
      assert.truthy(dump:find('\n    [plugins."io.containerd.grpc.v1.cri".containerd]\n', 1, true))
      assert.truthy(dump:find('\n      snapshotter = "overlayfs"\n', 1, true))
      assert.truthy(dump:find('\n    sandbox_image = "registry.k8s.io/pause:3.10"\n', 1, true))
    end)

    it("reads a drop-in only through imports, and a changed config only at a restart", function()
      local r = world_for("v0.32")
      -- kina's old way: a drop-in beside kind's config (oracle: not seen on 1.6.20 nor 2.1.9)
      assert.equal(0, (w:sh(r, "mkdir -p /etc/containerd/conf.d && cp /dev/stdin /etc/containerd/conf.d/kina.toml",
        'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "native"\n')))
      assert.equal(0, (w:exec(r, { "systemctl", "restart", "containerd" })))
      assert.truthy(select(2, w:exec(r, { "containerd", "config", "dump" })):find("    snapshotter = 'overlayfs'\n", 1, true))
      assert.equal("/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs", fsinfo(r))
      -- kina's way: config.toml itself; the running CRI keeps its snapshotter until the restart
      assert.equal(0, (w:exec(r, { "cp", "/dev/stdin", "/etc/containerd/config.toml" }, PATCHED)))
      local dump = select(2, w:exec(r, { "containerd", "config", "dump" }))
      assert.truthy(dump:find("    snapshotter = 'native'\n", 1, true))
      assert.truthy(dump:find("\n      config_path = '/etc/containerd/certs.d'\n", 1, true))
      assert.equal("/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs", fsinfo(r))
      assert.equal(0, (w:exec(r, { "systemctl", "restart", "containerd" })))
      assert.equal(0, (w:exec(r, { "test", "-S", "/run/containerd/containerd.sock" })))
      assert.equal("/var/lib/containerd/io.containerd.snapshotter.v1.native", fsinfo(r))
    end)

    it("loses a version-2 drop-in's snapshotter in 2.3's per-file migration when it has no runtimes table", function()
      local r = world_for("v0.32")
      local root = w:read(r, "/etc/containerd/config.toml"):gsub("version = 2\n", 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n')
      w:exec(r, { "cp", "/dev/stdin", "/etc/containerd/config.toml" }, root)
      w:sh(r, "mkdir -p /etc/containerd/conf.d")
      w:exec(r, { "cp", "/dev/stdin", "/etc/containerd/conf.d/a.toml" }, 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "native"\n')
      assert.truthy(select(2, w:exec(r, { "containerd", "config", "dump" })):find("    snapshotter = 'overlayfs'\n", 1, true))
      w:exec(r, { "cp", "/dev/stdin", "/etc/containerd/conf.d/a.toml" }, 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "native"\n'
        .. '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n')
      local dump = select(2, w:exec(r, { "containerd", "config", "dump" }))
      assert.truthy(dump:find("    snapshotter = 'native'\n", 1, true))
      assert.truthy(dump:find("\nimports = ['/etc/containerd/conf.d/*.toml']\n", 1, true))
    end)

    it("does not start on a config it rejects, retries every second, and starts once it is fixed", function()
      local r = world_for("v0.32")
      local root = w:read(r, "/etc/containerd/config.toml"):gsub("version = 2\n", 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n')
      w:exec(r, { "cp", "/dev/stdin", "/etc/containerd/config.toml" }, root)
      w:sh(r, "mkdir -p /etc/containerd/conf.d")
      w:exec(r, { "cp", "/dev/stdin", "/etc/containerd/conf.d/v3.toml" }, "version = 3\n[plugins.'io.containerd.cri.v1.images']\n  snapshotter = 'native'\n")
      local code, _, err = w:exec(r, { "systemctl", "restart", "containerd" })
      assert.equal(1, code)
      assert.equal("Job for containerd.service failed because the control process exited with error code.\n"
        .. 'See "systemctl status containerd.service" and "journalctl -xeu containerd.service" for details.\n', err)
      assert.equal(1, (w:exec(r, { "test", "-S", "/run/containerd/containerd.sock" })))
      local _, journal = w:exec(r, { "journalctl", "--no-pager", "-u", "containerd.service", "-n", "20" })
      -- cmd/containerd/server/config/config.go (v2.3.1), printed by cmd/containerd/main.go
      assert.truthy(journal:find("containerd[142]: containerd: drop-in config version 3 higher than root config version 2\n", 1, true))
      assert.truthy(journal:find("systemd[1]: containerd.service: Failed with result 'exit-code'.\n", 1, true))
      assert.same({ 1, "", "containerd: drop-in config version 3 higher than root config version 2\n" },
        { w:exec(r, { "containerd", "config", "dump" }) })
      assert.same({ 3, "activating\n", "" }, { w:exec(r, { "systemctl", "is-active", "containerd" }) })
      -- malformed TOML fails the same way
      w:exec(r, { "rm", "/etc/containerd/conf.d/v3.toml" })
      w:exec(r, { "cp", "/dev/stdin", "/etc/containerd/conf.d/bad.toml" }, "version = 2\n[plugins\n")
      w.clock = w.clock + 1.5
      assert.equal(1, (w:exec(r, { "test", "-S", "/run/containerd/containerd.sock" })))
      assert.truthy(select(2, w:exec(r, { "journalctl", "-u", "containerd" })):find("containerd: failed to unmarshal TOML at row 2", 1, true))
      -- fixed: systemd's next automatic restart (RestartSec=1) brings it up
      w:exec(r, { "rm", "/etc/containerd/conf.d/bad.toml" })
      w.clock = w.clock + 1.5
      assert.equal(0, (w:exec(r, { "test", "-S", "/run/containerd/containerd.sock" })))
      assert.truthy(select(2, w:exec(r, { "journalctl", "-u", "containerd" })):find("Scheduled restart job, restart counter is at", 1, true))
    end)

    it("refuses versions newer than it knows (2.2: up to 3; 1.7: up to 2)", function()
      local r = world_for("v0.31")
      w:exec(r, { "cp", "/dev/stdin", "/etc/containerd/config.toml" }, "version = 4\n")
      assert.same({ 1, "", "containerd: failed to load TOML from /etc/containerd/config.toml: expected containerd config version equal to or less than `3`, got `4`\n" },
        { w:exec(r, { "containerd", "config", "dump" }) })
      w:cleanup()
      r = world_for("v0.26")
      w:exec(r, { "cp", "/dev/stdin", "/etc/containerd/config.toml" }, "version = 3\n")
      assert.same({ 1, "", "containerd: failed to load TOML from /etc/containerd/config.toml: unsupported config version `3`\n" },
        { w:exec(r, { "containerd", "config", "dump" }) })
    end)
  end)

  describe("ctr images import (oracle matrix: containerd 1.6.20 and 2.1.9)", function()
    local archives = dofile("spec/support/oracle/archives.lua")
    local DATE = os.date("!%Y-%m-%d", 1000001)
    local function setup(base)
      w = new_world({ env = { KINA_SIM_BOOT_DELAY = "200", KINA_SIM_NODE_BASE = base or "v0.32" } })
      w.cp = w:add("kind-control-plane", "192.168.64.2")
      w.clock = w.clock + 1
      return w.cp
    end
    local function import(r, stdin, ...)
      return w:exec(r, { "ctr", "--namespace=k8s.io", "images", "import", ... }, stdin)
    end
    local function names(r)
      local list = {}
      for l in select(2, w:exec(r, { "ctr", "-n", "k8s.io", "images", "ls", "-q" })):gmatch("[^\n]+") do
        if not l:find("^registry%.k8s%.io/") and not l:find("^docker%.io/kindest/") then list[#list + 1] = l end
      end
      return list
    end
    local function without_preloaded(list, preloaded)
      local skip, out = {}, {}
      for _, x in ipairs(preloaded) do skip[x] = true end
      for _, x in ipairs(list) do if not skip[x] then out[#out + 1] = x end end
      return out
    end
    local KINA = { "--digests", "--platform=linux/arm64", "--snapshotter=native", "--local", "-" }

    it("imports every archive form with kina's argv on 2.x and names them as real ctr does", function()
      local cases = {
        { archives.docker_save("oracle-docker:v1", "linux/arm64"), "docker.io/library/oracle-docker:v1", true },
        { archives.oci_layout("v1", "linux/arm64"), "import-" .. DATE .. ":v1", false },
        { archives.apple_save("docker.io/library/oracle-apple:v1", "linux/arm64"), "docker.io/library/oracle-apple:v1", true },
        { archives.apple_save("oracle-short:v1", "linux/arm64"), "oracle-short:v1", false },
        { archives.multi_platform("docker.io/library/oracle-multi:v1", "linux/arm64", "linux/amd64"), "docker.io/library/oracle-multi:v1", true },
      }
      for _, c in ipairs(cases) do
        local r = setup("v0.32")
        local before = names(r)
        local bytes, d = c[1], select(2, table.unpack({ c[1] }))
        local code, out, err = import(r, bytes, table.unpack(KINA))
        assert.equal(0, code, err)
        assert.equal("", err)
        assert.truthy(out:find("^unpacking " .. c[2]:gsub("%p", "%%%0") .. " %(sha256:%x+%)%.%.%.done\n"), out)
        local got = without_preloaded(names(r), before)
        table.sort(got)
        -- the name, the import-<date>@sha256: digest name (--digests), the CRI's image ID record
        assert.equal(3, #got, table.concat(got, " "))
        local expect_name, digest_name, id_name = false, false, false
        for _, g in ipairs(got) do
          if g == c[2] then expect_name = true
          elseif g:match("^import%-" .. DATE:gsub("%-", "%%-") .. "@sha256:%x+$") then digest_name = true
          elseif g:match("^sha256:%x+$") then id_name = true end
        end
        assert.is_true(expect_name and digest_name and id_name, table.concat(got, " "))
        -- the kubelet's lookup (CRI ImageStatus) normalises the name it asks for
        assert.equal(c[3] and 0 or 1, (w:exec(r, { "crictl", "inspecti", c[2] })), c[2])
        w:cleanup(); w = nil
        local _ = d
      end
    end)

    it("names a docker save image's digest after the manifest containerd makes for it", function()
      local r = setup("v0.32")
      local bytes = archives.docker_save("oracle-docker:v1", "linux/arm64")
      assert.equal(0, (import(r, bytes, table.unpack(KINA))))
      local archive = require("kina.sim.oci").read_archive((function() local f = io.tmpfile(); f:write(bytes); f:seek("set"); return f end)())
      local md = archive.index.manifests[1].digest
      local _, json = w:exec(r, { "crictl", "inspecti", "oracle-docker:v1" })
      local st = require("cjson").decode(json).status
      assert.same({ "docker.io/library/oracle-docker:v1" }, st.repoTags)
      assert.same({ "docker.io/library/import-" .. DATE .. "@" .. md }, st.repoDigests)
    end)

    it("fails on 2.x through the transfer service with a snapshotter other than overlayfs (containerd issue 11606)", function()
      local r = setup("v0.32")
      local before = names(r)
      local bytes = archives.apple_save("docker.io/library/oracle-apple:v1", "linux/arm64")
      assert.same({ 1, "", "ctr: unable to initialize unpacker: no unpack platforms defined: invalid argument\n" },
        { import(r, bytes, "--all-platforms", "--digests", "--snapshotter=native", "-") })
      assert.same(before, names(r))
      -- the transfer service's own unpack config (host platform, overlayfs) works
      local code, out = import(r, bytes, "--all-platforms", "--digests", "--snapshotter=overlayfs", "-")
      assert.equal(0, code)
      assert.truthy(out:find("docker.io/library/oracle-apple:v1\tsaved\t\n", 1, true))
    end)

    it("fails with --all-platforms on an index whose other platforms' blobs are absent", function()
      local r = setup("v0.32")
      local before = names(r)
      local bytes, d = archives.multi_platform("docker.io/library/oracle-multi:v1", "linux/arm64", "linux/amd64")
      assert.same({ 1, "", "ctr: content digest " .. d.missing_manifest .. ": not found\n" },
        { import(r, bytes, "--all-platforms", "--digests", "--snapshotter=native", "--local", "-") })
      assert.same(before, names(r))
    end)

    it("takes --local on 1.7 (its default) and refuses unknown flags as urfave/cli does", function()
      local r = setup("v0.26")
      local bytes = archives.apple_save("docker.io/library/oracle-apple:v1", "linux/arm64")
      assert.equal(0, (import(r, bytes, "--digests", "--platform=linux/arm64", "--snapshotter=native", "--local", "-")))
      assert.equal(0, (import(r, bytes, "--digests", "--platform=linux/arm64", "--snapshotter=native", "-")))
      local code, out, err = import(r, bytes, "--bogus", "-")
      assert.equal(1, code)
      assert.equal("ctr: flag provided but not defined: -bogus\n", err)
      assert.truthy(out:find("^Incorrect Usage: flag provided but not defined: %-bogus\n\nNAME:\n   ctr images import "))
    end)

    it("reports archives that are not images as containerd's importer does", function()
      local r = setup("v0.32")
      assert.same({ 1, "", "ctr: archive/tar: invalid tar header\n" }, { import(r, string.rep("garbage!", 200), "--local", "-") })
      assert.same({ 1, "", "ctr: unrecognized image format\n" }, { import(r, "", "--local", "-") })
      local bytes = archives.apple_save("docker.io/library/oracle-apple:v1", "linux/arm64")
      local code, _, err = import(r, bytes, "--local", "--snapshotter=bogus", "-")
      assert.equal(1, code); assert.equal("ctr: snapshotter not loaded: bogus: invalid argument\n", err)
    end)

    it("needs a running containerd", function()
      w = new_world()
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
      assert.truthy(log:find("systemd[1]: Stopped containerd.service - containerd container runtime.", 1, true))
      assert.truthy(log:find(' level=info msg="starting containerd" revision=64b425cf570b3b8dd1d4cc46da7c1fce65c6651a version=v2.3.1\n', 1, true))
      assert.truthy(log:find('containerd[142]: time="', 1, true))
      assert.equal(0, (w:exec(r, { "systemctl", "stop", "containerd" })))
      assert.equal(1, (w:exec(r, { "test", "-S", "/run/containerd/containerd.sock" })))
      local code, _, err = w:exec(r, { "systemctl", "restart", "nosuch" })
      assert.equal(5, code); assert.equal("Failed to restart nosuch.service: Unit nosuch.service not found.\n", err)
    end)
  end)
end)
