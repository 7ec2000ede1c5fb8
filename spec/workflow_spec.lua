-- End to end: build/kina's cluster commands against the `container` simulator, asserting what
-- users see, what kina ran (the simulator's argv log), and what is left behind.
local json = require "kina.json"
local batch = require "kina.batch"
local lyaml = require "lyaml"
local uv = require "luv"

local World = dofile("spec/support/world.lua")

local ROOT, KINA, SIM = World.ROOT, World.KINA, World.SIM
local read, write = World.read, World.write

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- A world: a fresh simulator state, HOME, KUBECONFIG and argv log.
local function world(extra)
  local dir = assert(uv.fs_mkdtemp("/tmp/kina-e2e-XXXXXX"))
  local w = { dir = dir, kubeconfig = dir .. "/kube/config", log = dir .. "/argv.log" }
  w.env = {
    KINA_CONTAINER = SIM, KINA_SIM_STATE = dir .. "/state", KINA_SIM_LOG = w.log,
    KINA_SIM_BOOT_DELAY = "20", KINA_SIM_READY_DELAY = "20", HOME = dir, KUBECONFIG = w.kubeconfig,
    KINA_CLUSTER_NAME = false, NO_COLOR = "1",
  }
  for k, v in pairs(extra or {}) do w.env[k] = v end
  local function envline(more)
    local unset, set = { "env" }, {}
    local all = {}
    for k, v in pairs(w.env) do all[k] = v end
    for k, v in pairs(more or {}) do all[k] = v end
    for k, v in pairs(all) do
      if v == false then unset[#unset + 1] = "-u " .. k else set[#set + 1] = q(k .. "=" .. v) end
    end
    return table.concat(unset, " ") .. " " .. table.concat(set, " ")
  end
  -- run build/kina; returns stdout, stderr, exit code
  function w.kina(args, more)
    local errf = dir .. "/stderr"
    local cmd = envline(more) .. " " .. q(KINA)
    for _, a in ipairs(args) do cmd = cmd .. " " .. q(a) end
    local p = assert(io.popen(cmd .. " 2>" .. q(errf) .. " </dev/null"))
    local out = p:read("a")
    local _, _, code = p:close()
    return out, read(errf) or "", code
  end
  function w.sim(args)
    local cmd = envline({ KINA_SIM_LOG = false }) .. " " .. q(SIM)
    for _, a in ipairs(args) do cmd = cmd .. " " .. q(a) end
    local p = assert(io.popen(cmd .. " 2>/dev/null"))
    local out = p:read("a")
    local _, _, code = p:close()
    return out, code
  end
  function w.containers()
    local out = w.sim{ "list", "--all", "--format", "json" }
    local names = {}
    for _, c in ipairs(json.decode(out) or {}) do names[#names + 1] = c.id or (c.configuration and c.configuration.id) end
    table.sort(names)
    return names
  end
  function w.calls(...)
    local words, out = { ... }, {}
    for line in (read(w.log) or ""):gmatch("[^\n]+") do
      local argv = json.decode(line)
      local match = true
      for i, word in ipairs(words) do if argv[i] ~= word then match = false end end
      if match then out[#out + 1] = argv end
    end
    return out
  end
  -- the commands run in `node` that start with the given words: each exec's, and each of a
  -- kina.batch's (one exec running several)
  function w.exec_calls(node, ...)
    local words, out = { ... }, {}
    for _, argv in ipairs(w.calls("exec")) do
      local i = 2
      if argv[i] == "-i" then i = 3 end
      if argv[i] == node then
        local cmd = { table.unpack(argv, i + 1) }
        for _, inner in ipairs(batch.commands(cmd) or { cmd }) do
          local match = true
          for j, word in ipairs(words) do if inner[j] ~= word then match = false end end
          if match then out[#out + 1] = inner end
        end
      end
    end
    return out
  end
  function w.kubectl(args)
    local cmd = "kubectl --kubeconfig " .. q(w.kubeconfig)
    for _, a in ipairs(args) do cmd = cmd .. " " .. q(a) end
    local p = assert(io.popen(cmd .. " 2>&1"))
    local out = p:read("a")
    local _, _, code = p:close()
    return out, code
  end
  function w.close() os.execute("rm -rf " .. q(dir)) end
  return w
end

local function has_kubectl()
  local p = io.popen("command -v kubectl")
  local out = p:read("a")
  p:close()
  return out ~= ""
end

describe("kina cluster workflows (against the simulator)", function()
  local w
  before_each(function() w = world() end)
  after_each(function() w.close() end)

  it("creates a single-node cluster, lists it, writes the kubeconfig, and deletes it", function()
    local out, err, code = w.kina{ "create", "cluster" }
    assert.equal(0, code, err)
    assert.matches('Creating cluster "kina" %.%.%.', err)
    assert.matches("✓ Ensuring node image %(docker%.io/kindest/node:v1%.35%.5%)", err)
    assert.matches("✓ Preparing nodes 📦", err)
    assert.matches("✓ Starting control%-plane", err)
    assert.matches('Set kubectl context to "kina%-kina"', err)
    assert.matches("kubectl cluster%-info %-%-context kina%-kina", err)
    assert.same({ "kina-control-plane" }, w.containers())

    out, err, code = w.kina{ "get", "clusters" }
    assert.equal(0, code, err)
    assert.equal("NAME  STATE    NODES\nkina  running  1\n", out)
    out, _, code = w.kina{ "get", "nodes" }
    assert.equal(0, code)
    assert.matches("^NAME%s+ROLE%s+STATE%s+IP\nkina%-control%-plane%s+control%-plane%s+running%s+192%.168%.64%.%d+\n$", out)
    out = w.kina{ "get", "nodes", "-o", "json" }
    local nodes = json.decode(out)
    assert.equal("kina-control-plane", nodes[1].name)
    assert.equal("kina", nodes[1].cluster)

    -- what ran: the node, kubeadm with kind's argv (preflight skipped in the config), the
    -- single-node taint and load-balancer label removal (kind kubeadminit/init.go)
    local run = table.concat(w.calls("run")[1], " ")
    assert.truthy(run:find("--cap-add ALL --masked-path NONE --read-only-path NONE", 1, true))
    assert.truthy(run:find("-l io.kina.cluster=kina -l io.kina.role=control-plane", 1, true))
    assert.truthy(run:find("-p 127.0.0.1:%d+:6443"))
    local init = w.exec_calls("kina-control-plane", "kubeadm", "init")
    assert.equal(1, #init)
    assert.same({ "kubeadm", "init", "--config=/kind/kubeadm.conf", "--skip-token-print", "--v=6" },
      { table.unpack(init[1], #init[1] - 4) })
    assert.equal(1, #w.exec_calls("kina-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "taint",
      "nodes", "--all", "node-role.kubernetes.io/control-plane-"))
    assert.equal(1, #w.exec_calls("kina-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "label",
      "nodes", "--all", "node.kubernetes.io/exclude-from-external-load-balancers-"))
    local conf = lyaml.load(w.sim{ "exec", "kina-control-plane", "cat", "/kind/kubeadm.conf" }, { all = true })
    assert.equal("kubeadm.k8s.io/v1beta3", conf[1].apiVersion) -- the default image is v1.35.5
    assert.same({ "preflight" }, conf[2].skipPhases)
    assert.equal("kina-control-plane", conf[2].nodeRegistration.name)
    assert.equal(1, #w.exec_calls("kina-control-plane", "sysctl", "-w", "net.ipv4.ip_forward=1"))

    -- the kubeconfig: mode 0600, read by a real kubectl
    local st = uv.fs_stat(w.kubeconfig)
    assert.equal(tonumber("600", 8), st.mode & tonumber("777", 8))
    local text = read(w.kubeconfig)
    assert.matches("server: https://127%.0%.0%.1:%d+", text)
    if has_kubectl() then
      local ctx = w.kubectl{ "config", "current-context" }
      assert.equal("kina-kina\n", ctx)
    end

    out, err, code = w.kina{ "delete", "cluster" }
    assert.equal(0, code, err)
    assert.matches('Deleted nodes: %["kina%-control%-plane"%]', err)
    assert.same({}, w.containers())
    assert.is_nil(read(w.kubeconfig):find("kina-kina", 1, true))
    -- deleting again is fine
    _, err, code = w.kina{ "delete", "cluster" }
    assert.equal(0, code, err)
  end)

  it("creates clusters on 1.3.0, 1.3.1, 1.4.1 and 1.5.0 with no untested-version warning, pulling from a plain-HTTP registry", function()
    -- releases after the mirror (updates-2026-12 §1); the node image on a local registry
    -- without TLS needs --scheme http from 1.3.0, where auto is gone
    local image = "localhost:5001/kindest/node:v1.35.5"
    for _, version in ipairs{ "1.3.0", "1.3.1", "1.4.1", "1.5.0" } do
      local vw = world{ KINA_SIM_VERSION = version }
      finally(vw.close)
      local _, err, code = vw.kina{ "create", "cluster", "--image", image }
      assert.equal(0, code, version .. ": " .. err)
      assert.is_nil(err:find("checked against", 1, true), err)
      assert.is_nil(err:lower():find("warn", 1, true), err)
      assert.matches("✓ Ensuring node image %(" .. image:gsub("%p", "%%%0") .. "%)", err)
      assert.same({ "image", "pull", "--scheme", "http", image }, vw.calls("image", "pull")[1])
      local run = vw.calls("run")[1]
      assert.same({ "--scheme", "http", image }, { table.unpack(run, #run - 2) })
      assert.same({ "kina-control-plane" }, vw.containers())
      local out = vw.kina{ "get", "nodes" }
      assert.matches("^NAME%s+ROLE%s+STATE%s+IP\nkina%-control%-plane%s+control%-plane%s+running%s+192%.168%.64%.%d+\n$", out)
      _, err, code = vw.kina{ "delete", "cluster" }
      assert.equal(0, code, err)
      assert.same({}, vw.containers())
    end
  end)

  it("pulls a node image from a plain-HTTP registry the config names in registrySchemes", function()
    -- a LAN registry under a host name: neither auto (before 1.3.0) nor kina's rule picks http
    local image = "registry.lan:5000/kindest/node:v1.35.5"
    local vw = world{ KINA_SIM_VERSION = "1.5.0", KINA_SIM_HTTP_REGISTRIES = "registry.lan:5000" }
    finally(vw.close)
    local _, err, code = vw.kina{ "create", "cluster", "--image", image }
    assert.equal(1, code, err)
    assert.matches("handshakeFailed", err)
    assert.same({}, vw.containers())
    local cfg = vw.dir .. "/cluster.yaml"
    write(cfg, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nregistrySchemes:\n  registry.lan:5000: http\n")
    _, err, code = vw.kina{ "create", "cluster", "--image", image, "--config", cfg }
    assert.equal(0, code, err)
    local pulls = vw.calls("image", "pull")
    assert.same({ "image", "pull", "--scheme", "http", image }, pulls[#pulls])
    local run = vw.calls("run")[1]
    assert.same({ "--scheme", "http", image }, { table.unpack(run, #run - 2) })
    -- an image missing from the host store: the hint's pull command works on this version
    _, err, code = vw.kina{ "load", "docker-image", "localhost:5001/app:9" }
    assert.equal(1, code)
    assert.truthy(err:find("container image pull --scheme http localhost:5001/app:9", 1, true), err)
    _, err, code = vw.kina{ "delete", "cluster" }
    assert.equal(0, code, err)
  end)

  it("creates a 1+2 cluster from a kind YAML config: workers join concurrently, control plane keeps its taint", function()
    local cfg = w.dir .. "/cluster.yaml"
    write(cfg, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n")
    local _, err, code = w.kina{ "create", "cluster", "--name", "three", "--config", cfg, "--wait", "30s" }
    assert.equal(0, code, err)
    assert.matches("✓ Joining worker nodes", err)
    assert.matches("Ready after", err)
    assert.same({ "three-control-plane", "three-worker", "three-worker2" }, w.containers())
    assert.equal(1, #w.exec_calls("three-worker", "kubeadm", "join"))
    assert.equal(1, #w.exec_calls("three-worker2", "kubeadm", "join"))
    assert.equal(0, #w.exec_calls("three-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "taint"))
    assert.equal(0, #w.exec_calls("three-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "label"))
    for _, worker in ipairs{ "three-worker", "three-worker2" } do
      local join = w.exec_calls(worker, "kubeadm", "join")[1]
      assert.same({ "kubeadm", "join", "--config", "/kind/kubeadm.conf", "--v=6" }, { table.unpack(join, #join - 4) })
    end
    -- the nodes reach the bootstrap control plane by its name, which every node's /etc/hosts
    -- resolves (kina.hosts), as kind's nodes do through Docker's DNS
    local conf = w.sim{ "exec", "three-worker", "cat", "/kind/kubeadm.conf" }
    assert.truthy(conf:find("apiServerEndpoint: three-control-plane:6443", 1, true), conf)
    assert.truthy(conf:find("controlPlaneEndpoint: three-control-plane:6443", 1, true), conf)
    local cp_ip = json.decode((w.kina{ "get", "nodes", "--name", "three", "-o", "json" }))[1].ip
    local hosts = w.sim{ "exec", "three-worker", "cat", "/etc/hosts" }
    assert.truthy(hosts:find("\n" .. cp_ip:gsub("/%d+$", "") .. " three-control-plane\n", 1, true), hosts)
  end)

  it("accepts the same cluster as a Lua config", function()
    local cfg = w.dir .. "/cluster.lua"
    write(cfg, 'return { name = "lua", nodes = { { role = "control-plane" }, { role = "worker", labels = { tier = "a" } } } }')
    local _, err, code = w.kina{ "create", "cluster", "--config", cfg }
    assert.equal(0, code, err)
    assert.same({ "lua-control-plane", "lua-worker" }, w.containers())
  end)

  it("refuses a multi-node cluster on macOS 15 before creating anything", function()
    local w15 = world{ KINA_SIM_MACOS = "15" }
    finally(w15.close)
    local cfg = w15.dir .. "/c.yaml"
    write(cfg, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n")
    local _, err, code = w15.kina{ "create", "cluster", "--config", cfg }
    assert.equal(1, code)
    assert.matches("needs macOS 26", err)
    assert.equal(0, #w15.calls("run"))
  end)

  it("refuses a name that is in use", function()
    assert.equal(0, select(3, w.kina{ "create", "cluster" }))
    local _, err, code = w.kina{ "create", "cluster" }
    assert.equal(1, code)
    assert.matches('node%(s%) already exist for a cluster with the name "kina"', err)
    assert.same({ "kina-control-plane" }, w.containers())
  end)

  it("rejects a bad config before running any container command", function()
    local cfg = w.dir .. "/bad.yaml"
    write(cfg, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: master\n")
    local _, err, code = w.kina{ "create", "cluster", "--config", cfg }
    assert.equal(1, code)
    assert.matches("nodes%[1%]%.role", err)
    assert.is_nil(read(w.log))
  end)

  it("cleans up everything when a step fails, and leaves the kubeconfig byte for byte", function()
    uv.fs_mkdir(w.dir .. "/kube", 448)
    write(w.kubeconfig, "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\ncurrent-context: \"\"\npreferences: {}\n")
    local before = read(w.kubeconfig)
    local cfg = w.dir .. "/c.yaml"
    write(cfg, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n")
    local _, err, code = w.kina({ "create", "cluster", "--config", cfg }, { KINA_SIM_FAIL = "exec:kubeadm init" })
    assert.equal(1, code)
    assert.matches('step "kubeadm_init"', err)
    assert.matches("kubeadm init failed on kina%-control%-plane", err)
    assert.matches("Deleted nodes:", err)
    assert.same({}, w.containers())
    assert.equal(before, read(w.kubeconfig))
  end)

  it("writes each node's kubeadm config with the cluster's and the node's patches, merge and RFC 6902", function()
    local cfg = w.dir .. "/patches.yaml"
    write(cfg, [[
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
kubeadmConfigPatchesJSON6902:
- group: kubeadm.k8s.io
  version: v1beta3
  kind: ClusterConfiguration
  patch: |
    - op: add
      path: /apiServer/certSANs/-
      value: my.host
nodes:
- role: control-plane
- role: worker
  kubeadmConfigPatches:
  - |
    kind: JoinConfiguration
    nodeRegistration:
      kubeletExtraArgs:
        v: "4"
]])
    local _, err, code = w.kina{ "create", "cluster", "--name", "pt", "--config", cfg }
    assert.equal(0, code, err)
    local worker = lyaml.load(w.sim{ "exec", "pt-worker", "cat", "/kind/kubeadm.conf" }, { all = true })
    assert.equal("my.host", worker[1].apiServer.certSANs[#worker[1].apiServer.certSANs])
    assert.equal("4", worker[3].nodeRegistration.kubeletExtraArgs.v)
    assert.equal("pt-worker", worker[3].nodeRegistration.name)
    local cp = lyaml.load(w.sim{ "exec", "pt-control-plane", "cat", "/kind/kubeadm.conf" }, { all = true })
    assert.is_nil(cp[3].nodeRegistration.kubeletExtraArgs.v)
  end)

  it("fails the config step naming a node's patch that matches no document, and cleans up", function()
    local cfg = w.dir .. "/v4.yaml"
    write(cfg, [[
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
  kubeadmConfigPatches:
  - |
    apiVersion: kubeadm.k8s.io/v1beta4
    kind: JoinConfiguration
]])
    local _, err, code = w.kina{ "create", "cluster", "--config", cfg }
    assert.equal(1, code)
    assert.matches('step "config"', err)
    assert.truthy(err:find("nodes[2].kubeadmConfigPatches[1]: apiVersion kubeadm.k8s.io/v1beta4 matches no document: "
      .. "this node image's Kubernetes v1.35.5 uses kubeadm.k8s.io/v1beta3", 1, true), err)
    assert.same({}, w.containers())
  end)

  it("keeps the nodes with --retain and says how to delete them", function()
    local _, err, code = w.kina({ "create", "cluster", "--retain" }, { KINA_SIM_FAIL = "exec:kubeadm init" })
    assert.equal(1, code)
    assert.matches("kept %(%-%-retain%)", err)
    assert.matches("kina delete cluster %-%-name kina", err)
    assert.same({ "kina-control-plane" }, w.containers())
  end)

  it("prints and exports the kubeconfig, external and internal", function()
    assert.equal(0, select(3, w.kina{ "create", "cluster", "--name", "kc" }))
    local out, err, code = w.kina{ "get", "kubeconfig", "--name", "kc" }
    assert.equal(0, code, err)
    assert.matches("server: https://127%.0%.0%.1:%d+", out)
    assert.matches("name: kina%-kc", out)
    local doc = json.decode((w.kina{ "get", "kubeconfig", "--name", "kc", "-o", "json" }))
    assert.equal("kina-kc", doc["current-context"])
    assert.equal("kina-kc", doc.contexts[1].name)
    assert.matches("^https://127%.0%.0%.1:%d+$", doc.clusters[1].cluster.server)
    -- as kind's --internal: the server kubeadm wrote, the control plane by name
    out = w.kina{ "get", "kubeconfig", "--name", "kc", "--internal" }
    assert.matches("server: https://kc%-control%-plane:6443", out)
    local other = w.dir .. "/other-kubeconfig"
    out, err, code = w.kina{ "export", "kubeconfig", "--name", "kc", "--kubeconfig", other }
    assert.equal(0, code, err)
    assert.matches('Set kubectl context to "kina%-kc"', err)
    assert.matches("current%-context: kina%-kc", read(other))
  end)

  it("refuses a host port that is taken, before creating anything, and exits 1", function()
    local listener = uv.new_tcp()
    assert(listener:bind("127.0.0.1", 0))
    assert(listener:listen(1, function() end))
    local port = listener:getsockname().port
    local cfg = w.dir .. "/taken.yaml"
    write(cfg, ("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraPortMappings:\n"
      .. "  - containerPort: 80\n    hostPort: %d\n    listenAddress: 127.0.0.1\n"):format(port))
    local _, err, code = w.kina{ "create", "cluster", "--config", cfg }
    listener:close()
    uv.run("nowait")
    -- exit 1, not a crash at exit (a handle left closing once made the host segfault here)
    assert.equal(1, code, err)
    -- named as the user wrote it, not as the node spec builder calls it
    assert.truthy(err:find(("nodes[1].extraPortMappings[1].hostPort: host port 127.0.0.1:%d/tcp is not free"):format(port), 1, true), err)
    assert.same({}, w.containers())
  end)

  it("loads image archives of every form, and says which names no pod can ask for", function()
    local A = dofile("spec/support/oracle/archives.lua")
    assert.equal(0, select(3, w.kina{ "create", "cluster" }))
    local forms = {
      { "docker.tar", A.docker_save("tools/probe:v1", "linux/arm64") },
      { "tag-only.tar", A.oci_layout("v1", "linux/arm64") },
      { "short.tar", A.apple_save("probe-short:v1", "linux/arm64") },
    }
    for _, f in ipairs(forms) do write(w.dir .. "/" .. f[1], f[2]) end
    local _, err, code = w.kina{ "load", "image-archive", w.dir .. "/docker.tar", w.dir .. "/tag-only.tar", w.dir .. "/short.tar" }
    assert.equal(0, code, err)
    local images = w.sim{ "exec", "kina-control-plane", "ctr", "--namespace=k8s.io", "images", "ls", "-q" }
    assert.truthy(images:find("docker.io/tools/probe:v1\n", 1, true), images)
    assert.is_nil(err:find(("image archive %q"):format(w.dir .. "/docker.tar"), 1, true)) -- a docker save names its image in full
    assert.truthy(err:find(("image archive %q names no repository for its image, only the tag v1: it was loaded as import-%s:v1")
      :format(w.dir .. "/tag-only.tar", os.date("!%Y-%m-%d")), 1, true), err)
    assert.truthy(err:find(("image archive %q names its image probe-short:v1; it was loaded under that name, but pods asking for probe-short:v1 look up docker.io/library/probe-short:v1")
      :format(w.dir .. "/short.tar"), 1, true), err)
  end)

  it("loads an image archive into every node, and images from the host store skipping nodes that have them", function()
    local cfg = w.dir .. "/c.yaml"
    write(cfg, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n")
    assert.equal(0, select(3, w.kina{ "create", "cluster", "--config", cfg }))
    local _, pc = w.sim{ "image", "pull", "registry.example/app:1" }
    assert.equal(0, pc)
    local tar = w.dir .. "/app.tar"
    assert.equal(0, select(2, w.sim{ "image", "save", "--output", tar, "registry.example/app:1" }))
    local _, err, code = w.kina{ "load", "image-archive", tar }
    assert.equal(0, code, err)
    for _, node in ipairs{ "kina-control-plane", "kina-worker" } do
      assert.equal(1, #w.exec_calls(node, "ctr", "--namespace=k8s.io", "images", "import"))
      local images = w.sim{ "exec", node, "crictl", "images" }
      assert.truthy(images:find("registry.example/app", 1, true))
    end
    -- docker-image: streamed from `image save` (one per node), skipped where present
    assert.equal(0, select(2, w.sim{ "image", "pull", "registry.example/web:2" }))
    _, err, code = w.kina{ "load", "docker-image", "registry.example/web:2", "--nodes", "kina-worker" }
    assert.equal(0, code, err)
    assert.matches('Loaded registry.example/web:2 into node "kina%-worker"', err)
    local saves = w.calls("image", "save")
    assert.truthy(#saves >= 1)
    assert.equal("--platform", saves[#saves][3])
    _, err, code = w.kina{ "load", "docker-image", "registry.example/web:2", "--nodes", "kina-worker" }
    assert.equal(0, code, err)
    assert.matches('already present on node "kina%-worker"', err)
    _, err, code = w.kina{ "load", "docker-image", "registry.example/web:2", "--nodes", "nope" }
    assert.equal(1, code)
    assert.matches('unknown node: "nope"', err)
  end)

  it("exports logs in kind's layout", function()
    assert.equal(0, select(3, w.kina{ "create", "cluster" }))
    local dir = w.dir .. "/logs"
    local out, err, code = w.kina{ "export", "logs", dir }
    assert.equal(0, code, err)
    assert.equal(dir .. "\n", out)
    -- Apple's counterpart of kind's docker-info.txt: the services are running
    assert.truthy((read(dir .. "/container-system-status.txt") or ""):find("running", 1, true))
    for _, f in ipairs{ "kina-version.txt", "kina-control-plane/serial.log", "kina-control-plane/kubelet.log",
      "kina-control-plane/containerd.log", "kina-control-plane/journal.log", "kina-control-plane/images.log",
      "kina-control-plane/inspect.json", "kina-control-plane/kubernetes-version.txt",
      "kina-control-plane/kubectl-get-nodes.txt" } do
      assert.is_not_nil(read(dir .. "/" .. f), f)
    end
    -- /var/log by kind's tar command, followed links and hard links included
    assert.equal(1, #w.exec_calls("kina-control-plane", "tar", "--hard-dereference", "-C", "/var/log", "-chf", "-", "."))
    assert.is_not_nil(read(dir .. "/kina-control-plane/var-log/alternatives.log"))
  end)

  it("passes the host's proxy to the nodes, with kind's NO_PROXY additions", function()
    local _, err, code = w.kina({ "create", "cluster" }, { HTTPS_PROXY = "http://proxy.lan:3128", NO_PROXY = "corp.lan" })
    assert.equal(0, code, err)
    local run, env = w.calls("run")[1], {}
    for i, a in ipairs(run) do
      if a == "-e" then
        local k, v = run[i + 1]:match("^([^=]+)=(.*)$")
        env[k] = v
      end
    end
    assert.equal("http://proxy.lan:3128", env.HTTPS_PROXY)
    -- the user's own first, then the cluster's ranges, the nodes' network and names, the
    -- service domains
    assert.matches("^corp%.lan,", env.NO_PROXY)
    for _, s in ipairs{ "10.244.0.0/16", "10.96.0.0/16", "192.168.0.0/16", "kina-control-plane", "localhost", ".svc.cluster.local" } do
      assert.truthy(("," .. env.NO_PROXY .. ","):find("," .. s .. ",", 1, true), s .. " not in " .. env.NO_PROXY)
    end
  end)

  it("stops and starts a cluster, rewriting the kubeconfig", function()
    assert.equal(0, select(3, w.kina{ "create", "cluster" }))
    local _, err, code = w.kina{ "stop", "cluster" }
    assert.equal(0, code, err)
    assert.same({ "stop", "--time", "30", "kina-control-plane" }, w.calls("stop")[1])
    local nodes = json.decode((w.kina{ "get", "nodes", "-o", "json" }))
    assert.equal("stopped", nodes[1].state)
    _, err, code = w.kina{ "start", "cluster" }
    assert.equal(0, code, err)
    nodes = json.decode((w.kina{ "get", "nodes", "-o", "json" }))
    assert.equal("running", nodes[1].state)
    -- the node was prepared again (sysctls do not survive a reboot); containerd's config is on
    -- the node's disk, so it is written once
    assert.equal(2, #w.exec_calls("kina-control-plane", "sysctl", "-w", "net.ipv4.ip_forward=1"))
    assert.equal(1, #w.exec_calls("kina-control-plane", "systemctl", "restart", "containerd"))
  end)

  it("says which node came back with a new IP, and the cluster follows it", function()
    assert.equal(0, select(3, w.kina{ "create", "cluster", "--config", ROOT .. "/spec/fixtures/good-configs/kind-multi-node.yaml" }))
    local before = {}
    for _, n in ipairs(json.decode((w.kina{ "get", "nodes", "-o", "json" }))) do before[n.name] = n.ip end
    assert.equal(0, select(3, w.kina{ "stop", "cluster" }))
    -- another container takes the first free address while the cluster is stopped
    assert.equal(0, select(2, w.sim{ "run", "-d", "--name", "squatter", "alpine" }))
    local _, err, code = w.kina{ "start", "cluster" }
    assert.equal(0, code, err)
    local after = {}
    for _, n in ipairs(json.decode((w.kina{ "get", "nodes", "-o", "json" }))) do after[n.name] = n.ip end
    assert.are_not.equal(before["kina-control-plane"], after["kina-control-plane"])
    assert.truthy(err:find(("node kina-control-plane: IP %s (was %s)")
      :format(after["kina-control-plane"]:gsub("/%d+$", ""), before["kina-control-plane"]:gsub("/%d+$", "")), 1, true), err)
    -- the kubeconfig follows the control plane
    local cfg = lyaml.load(read(w.kubeconfig))
    assert.matches("^https://127%.0%.0%.1:%d+$", cfg.clusters[1].cluster.server)
  end)

  it("deletes several clusters, or all of them", function()
    for _, n in ipairs{ "a1", "a2", "a3" } do assert.equal(0, select(3, w.kina{ "create", "cluster", "--name", n })) end
    local _, err, code = w.kina{ "delete", "clusters", "a1" }
    assert.equal(0, code, err)
    assert.same({ "a2-control-plane", "a3-control-plane" }, w.containers())
    _, err, code = w.kina{ "delete", "clusters", "--all" }
    assert.equal(0, code, err)
    assert.matches('Deleted clusters: %["a2" "a3"%]', err)
    assert.same({}, w.containers())
    local _, uerr, ucode = w.kina{ "delete", "clusters" }
    assert.equal(2, ucode)
    assert.matches("no cluster names provided", uerr)
  end)

  it("runs every example against the simulator", function()
    local examples = {
      { "run", ROOT .. "/examples/single-node.lua", "ex1" },
      { "run", ROOT .. "/examples/multi-node.lua", "ex2" },
      { "run", ROOT .. "/examples/ports-and-mounts.lua", "ex3", w.dir },
      { "create", "cluster", "--config", ROOT .. "/examples/kind-config.yaml" },
      { "run", ROOT .. "/examples/add-step.lua", "ex5" },
      { "run", ROOT .. "/examples/local-registry.lua", "ex6" },
    }
    for _, args in ipairs(examples) do
      local _, err, code = w.kina(args)
      assert.equal(0, code, table.concat(args, " ") .. ":\n" .. err)
    end
    assert.equal(1, #w.exec_calls("ex5-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "label",
      "nodes", "--all", "example.kina.io/created-by=add-step"))
    -- the example removed the storage step: nothing applied it
    assert.equal(0, #w.exec_calls("ex5-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "apply", "-f",
      "/kind/manifests/default-storage.yaml"))
    assert.equal(1, #w.exec_calls("ex6-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "apply", "-f",
      "/kind/manifests/default-storage.yaml"))
    local hosts = w.sim{ "exec", "ex6-control-plane", "cat", "/etc/containerd/certs.d/localhost:5001/hosts.toml" }
    assert.matches('%[host%."http://192%.168%.64%.%d+:5000"%]', hosts)
    local names = {}
    for _, c in ipairs(json.decode((w.kina{ "get", "clusters", "-o", "json" }))) do names[#names + 1] = c.name end
    assert.same({ "ex1", "ex2", "ex3", "ex5", "ex6", "from-yaml" }, names)
  end)
end)
