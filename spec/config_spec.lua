-- kina.config: kind's YAML and Lua tables into one validated model.
local config = require "kina.config"
local defaults = require "kina.defaults"
local uv = require "luv"

local BAD = "spec/fixtures/bad-configs/"
local GOOD = "spec/fixtures/good-configs/"

local function list_dir(dir)
  local names = {}
  local req = assert(uv.fs_scandir(dir))
  while true do
    local name, kind = uv.fs_scandir_next(req)
    if not name then break end
    if kind == "file" then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- The error raised by `fn(...)`; fails the test when nothing is raised.
local function error_of(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, "expected an error, got a model")
  return e
end

local function temp_file(contents, suffix)
  local path = os.tmpname() .. (suffix or "")
  local f = assert(io.open(path, "wb"))
  f:write(contents)
  f:close()
  return path
end

-- `-- expect: msg` / `# expect: msg` on the fixture's first line. The full message is
-- "<path>: msg", or "<path>:msg" when msg starts with a line number ("3: boom").
local function expected_message(path)
  local first = read(path):match("^[^\n]*")
  local expect = first:match("^%-%- expect: (.*)$") or first:match("^# expect: (.*)$")
  assert(expect, path .. ": the first line must be `# expect: ...` or `-- expect: ...`")
  if expect:match("^%d") then return path .. ":" .. expect, expect end
  return path .. ": " .. expect, expect
end

describe("kina.config", function()
  describe("bad configs (spec/fixtures/bad-configs)", function()
    local files = list_dir(BAD)

    it("has at least 40 fixtures, in both languages", function()
      local lua, yaml = 0, 0
      for _, f in ipairs(files) do
        if f:match("%.lua$") then lua = lua + 1 else yaml = yaml + 1 end
      end
      assert.is_true(#files >= 40, ("only %d fixtures"):format(#files))
      assert.is_true(lua >= 10 and yaml >= 10)
    end)

    for _, name in ipairs(files) do
      it(name, function()
        local path = BAD .. name
        local want, expect = expected_message(path)
        local e = error_of(config.load, path, { cwd = "/Users/me" })
        assert.is_true(config.is_error(e), "not a ConfigError: " .. tostring(e))
        assert.are.equal(want, tostring(e))
        assert.are.equal(path, e.source)
        local line = expect:match("^(%d+):")
        if line then
          assert.are.equal(tonumber(line), e.line)
          assert.is_nil(e.path)
        else
          -- a field is to blame: the message starts with its path (when there is one)
          if e.path then assert.are.equal(e.path .. ": " .. e.message, expect) end
        end
      end)
    end
  end)

  describe("good configs (spec/fixtures/good-configs)", function()
    local function load(name, opts)
      return config.load(GOOD .. name, opts)
    end

    for _, name in ipairs(list_dir(GOOD)) do
      it("loads " .. name, function()
        local model = load(name)
        assert.is_table(model.nodes)
        assert.is_true(#model.nodes >= 1)
        for _, node in ipairs(model.nodes) do
          assert.is_string(node.name)
          assert.is_string(node.image)
          assert.is_table(node.labels)
        end
      end)
    end

    it("names nodes with kind's namer (kind's multi-node example)", function()
      local model = load("kind-multi-node.yaml")
      assert.are.equal("kina", model.name)
      local names, roles = {}, {}
      for i, node in ipairs(model.nodes) do names[i], roles[i] = node.name, node.role end
      assert.are.same({ "kina-control-plane", "kina-worker", "kina-worker2" }, names)
      assert.are.same({ "control-plane", "worker", "worker" }, roles)
    end)

    it("takes kind's HA example: several control planes, with the load balancer's name in the length rule", function()
      local model = load("kind-ha.yaml")
      assert.is_true(model.high_availability)
      local names = {}
      for i, node in ipairs(model.nodes) do names[i] = node.name end
      assert.are.same({ "kina-control-plane", "kina-control-plane2", "kina-control-plane3", "kina-worker", "kina-worker2", "kina-worker3" }, names)
      assert.is_false(config.from_table({ nodes = { { role = "control-plane" }, { role = "worker" } } }, "t").high_availability)
      -- "<name>-external-load-balancer" is the longest name of an HA cluster: 63 characters at most
      local long = ("a"):rep(63 - #"-external-load-balancer" + 1)
      local ok, err = pcall(config.from_table, { name = long, nodes = { { role = "control-plane" }, { role = "control-plane" } } }, "t")
      assert.is_false(ok)
      assert.matches("its node \"" .. long .. "%-external%-load%-balancer\" would have 64 characters", tostring(err))
      assert.is_true(pcall(config.from_table, { name = long, nodes = { { role = "control-plane" } } }, "t"))
    end)

    it("reads kind's ingress example: ports on every address, the patch text kept", function()
      local node = load("kind-ingress.yaml").nodes[1]
      assert.are.same({
        { container_port = 80, host_port = 80, listen_address = "0.0.0.0", protocol = "tcp" },
        { container_port = 443, host_port = 443, listen_address = "0.0.0.0", protocol = "tcp" },
      }, node.extra_port_mappings)
      assert.are.same({ "kind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n    node-labels: \"ingress-ready=true\"\n" },
        node.kubeadm_config_patches)
    end)

    it("reads kind's extraMounts example", function()
      assert.are.same({ { host_path = "/path/to/my/files", container_path = "/files", readonly = true, propagation = "None" } },
        load("kind-extra-mounts.yaml").nodes[1].extra_mounts)
    end)

    it("reads kind's networking example", function()
      assert.are.same({
        ip_family = "ipv4", api_server_address = "127.0.0.1", api_server_port = 6443,
        pod_subnet = "10.244.0.0/16", service_subnet = "10.96.0.0/12",
        disable_default_cni = true, kube_proxy_mode = "ipvs",
      }, load("kind-networking.yaml").networking)
    end)

    it("reads feature gates, runtime config and containerd patches", function()
      local gates = load("kind-feature-gates.yaml")
      assert.are.same({ CSIMigration = true }, gates.feature_gates)
      assert.are.same({ ["api/alpha"] = "false" }, gates.runtime_config)
      assert.are.same({ '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"' },
        load("kind-local-registry.yaml").containerd_config_patches)
    end)

    it("keeps cluster-level and node-level kubeadm patches apart", function()
      local model = load("kind-kubeadm-patches.yaml")
      assert.are.equal(1, #model.kubeadm_config_patches)
      assert.truthy(model.kubeadm_config_patches[1]:find("kind: ClusterConfiguration", 1, true))
      assert.are.same({}, model.nodes[1].kubeadm_config_patches)
      assert.truthy(model.nodes[2].kubeadm_config_patches[1]:find("kind: JoinConfiguration", 1, true))
    end)

    it("reads node labels", function()
      local model = load("kind-node-labels.yaml")
      assert.are.same({}, model.nodes[1].labels)
      assert.are.same({ tier = "frontend" }, model.nodes[2].labels)
      assert.are.same({ tier = "backend" }, model.nodes[3].labels)
    end)

    it("gives the same model for the same cluster in YAML, Lua (camelCase and snake_case) and YAML with anchors", function()
      local yaml = load("same-cluster.yaml")
      assert.are.same(yaml, load("same-cluster.lua"))
      assert.are.same(yaml, load("same-cluster-snake.lua"))
      assert.are.same(yaml, load("same-cluster-anchors.yaml"))
      -- and the details of that model
      assert.are.equal("dev", yaml.name)
      assert.are.same({ "dev-control-plane", "dev-worker", "dev-worker2" },
        { yaml.nodes[1].name, yaml.nodes[2].name, yaml.nodes[3].name })
      assert.are.equal("4G", yaml.memory)                  -- 4096M, in Apple's canonical form
      assert.are.equal("8G", yaml.nodes[2].memory)         -- per-node override
      assert.are.equal(4, yaml.nodes[2].cpus)              -- inherited from the cluster
      assert.are.equal(2, yaml.nodes[3].cpus)
      assert.are.equal("docker.io/kindest/node:v1.34.0", yaml.nodes[3].image)
      assert.are.equal(defaults.image, yaml.nodes[1].image)
      assert.are.same({ container_port = 30053, host_port = 5353, listen_address = "127.0.0.1", protocol = "udp" },
        yaml.nodes[1].extra_port_mappings[2])
    end)

    it("inherits and overrides kina's resources per node", function()
      local model = load("kina-resources.yaml")
      assert.are.equal("kina-big", model.network)
      local cp, w1, w2 = model.nodes[1], model.nodes[2], model.nodes[3]
      assert.are.same({ 6, "6G", "/Users/me/kernels/vmlinux-6.18" }, { cp.cpus, cp.memory, cp.kernel })
      assert.are.same({ 8, "12G", "/Users/me/kernels/vmlinux-6.18" }, { w1.cpus, w1.memory, w1.kernel })
      assert.are.same({ 6, "12G", "/Users/me/kernels/other" }, { w2.cpus, w2.memory, w2.kernel })
    end)

    it("keeps hostile paths exactly as written", function()
      local model = load("hostile-paths.yaml")
      assert.are.equal("/Users/me/kernels/vmlinux; echo pwned", model.kernel)
      assert.are.same({
        { host_path = "/Users/me/My Projects/it's \"here\"", container_path = "/src/$(whoami)", readonly = false },
        { host_path = "/Users/me/données/日本語", container_path = "/data/a;b && rm -rf /", readonly = true },
      }, model.nodes[1].extra_mounts)
    end)

    it("reads kind's JSON 6902 example: kind's PatchJSON6902 fields, the operations as written", function()
      local model = load("kind-example-config.yaml")
      assert.are.same({ {
        group = "kubeadm.k8s.io", version = "v1beta3", kind = "ClusterConfiguration",
        patch = "- op: add\n  path: /apiServer/certSANs/-\n  value: my-hostname\n",
      } }, model.kubeadm_config_patches_json6902)
      assert.are.equal(1, #model.kubeadm_config_patches)
      for _, node in ipairs(model.nodes) do assert.are.same({}, node.kubeadm_config_patches_json6902) end
      assert.are.same({}, model.containerd_config_patches_json6902)
    end)

    it("keeps node-level JSON 6902 patches on their node (kind's workers-patches test case)", function()
      local model = load("kind-workers-json6902.yaml")
      assert.are.same({}, model.kubeadm_config_patches_json6902)
      assert.are.same({}, model.nodes[2].kubeadm_config_patches_json6902)
      local patches = model.nodes[3].kubeadm_config_patches_json6902
      assert.are.equal(1, #patches)
      assert.are.same({ "kubelet.config.k8s.io", "v1beta1", "KubeletConfiguration" },
        { patches[1].group, patches[1].version, patches[1].kind })
      assert.truthy(patches[1].patch:find('value: {"anonymous": {"enabled": true}}', 1, true))
    end)

    it("takes every RFC 6902 op, JSON text, no group, and containerd JSON 6902 patches as written", function()
      local model = load("json6902-every-op.yaml")
      local p = model.kubeadm_config_patches_json6902
      assert.are.same({ "", "", "ClusterConfiguration" }, { p[1].group, p[1].version, p[1].kind })
      assert.are.same({ "", "v1beta1", "KubeletConfiguration", '[{"op": "add", "path": "", "value": {}}]' },
        { p[2].group, p[2].version, p[2].kind, p[2].patch })
      assert.are.same({
        "- op: remove\n  path: /disabled_plugins\n",
        '[{"op": "add", "path": "/plugins/io.containerd.grpc.v1.cri/enable_selinux", "value": false}]',
      }, model.containerd_config_patches_json6902)
    end)

    it("gives the same JSON 6902 model from a Lua table, in both spellings", function()
      local ops = "- op: remove\n  path: /apiServer/certSANs\n"
      local want = { { group = "kubeadm.k8s.io", version = "v1beta4", kind = "ClusterConfiguration", patch = ops } }
      local camel = config.from_table({
        kubeadmConfigPatchesJSON6902 = { { group = "kubeadm.k8s.io", version = "v1beta4", kind = "ClusterConfiguration", patch = ops } },
        containerdConfigPatchesJSON6902 = { '[{"op": "remove", "path": "/x"}]' },
        nodes = { { kubeadmConfigPatchesJSON6902 = { { kind = "InitConfiguration", patch = ops } } } },
      })
      local snake = config.from_table({
        kubeadm_config_patches_json6902 = { { group = "kubeadm.k8s.io", version = "v1beta4", kind = "ClusterConfiguration", patch = ops } },
        containerd_config_patches_json6902 = { '[{"op": "remove", "path": "/x"}]' },
        nodes = { { kubeadm_config_patches_json6902 = { { kind = "InitConfiguration", patch = ops } } } },
      })
      assert.are.same(want, camel.kubeadm_config_patches_json6902)
      assert.are.same({ { group = "", version = "", kind = "InitConfiguration", patch = ops } }, camel.nodes[1].kubeadm_config_patches_json6902)
      assert.are.same(camel, snake)
      local e = error_of(config.from_table, { nodes = { { kubeadm_config_patches_json6902 = { { kind = "InitConfiguration", patch = "- op: nope\n  path: /a\n" } } } } })
      assert.are.equal('config: nodes[1].kubeadm_config_patches_json6902[1].patch: operation 1: op "nope" is not add, remove, replace, move, copy or test', tostring(e))
    end)

    it("keeps a patch of several YAML documents as written; split_documents cuts it as kind does", function()
      local patch = load("kubeadm-patch-documents.yaml").kubeadm_config_patches[1]
      assert.are.equal("---\nkind: ClusterConfiguration\napiServer:\n  certSANs: [my-host]\n--- # the kubelet\n"
        .. "kind: KubeletConfiguration\nmaxPods: 200\n---\nkind: InitConfiguration\nnodeRegistration:\n"
        .. "  kubeletExtraArgs:\n    v: \"4\"\n---\n", patch)
      assert.are.same({
        "---\nkind: ClusterConfiguration\napiServer:\n  certSANs: [my-host]",
        "kind: KubeletConfiguration\nmaxPods: 200",
        "kind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n    v: \"4\"",
      }, config.split_documents(patch))
      -- kind's splitter (pkg/internal/patch/resource.go), case by case
      assert.are.same({ "kind: A", "kind: B" }, config.split_documents("kind: A\n---\nkind: B"))
      assert.are.same({ "kind: A" }, config.split_documents("kind: A\n---"))
      assert.are.same({ "kind: A", "---\nkind: B\n" }, config.split_documents("kind: A\n---\n---\nkind: B\n"))
      assert.are.same({ "kind: A\n  ---\n  x: 1\n" }, config.split_documents("kind: A\n  ---\n  x: 1\n"))
      assert.are.same({}, config.split_documents(""))
      local docs, why = config.split_documents("kind: A\n---x\nkind: B\n")
      assert.is_nil(docs)
      assert.are.equal('line 2 of the patch ("---x") starts a new document but has text after "---"', why)
    end)

    it("reads the YAML kind's decoder reads: YAML 1.1 booleans, label text, empty defaults, host bits", function()
      local model = load("kind-yaml-scalars.yaml")
      local node = model.nodes[1]
      assert.are.same({ "control-plane", defaults.image, "kina-control-plane" }, { node.role, node.image, node.name })
      assert.are.same({ ["ingress-ready"] = "true", tier = "1.10", zone = "017", empty = "" }, node.labels)
      assert.are.same({ true, false }, { node.extra_mounts[1].readonly, node.extra_mounts[2].readonly })
      assert.are.same({ { container_port = 80, host_port = 8080, listen_address = "0.0.0.0", protocol = "tcp" } },
        node.extra_port_mappings)
      assert.are.same({ SomeGate = true, OtherGate = false }, model.feature_gates)
      assert.is_true(model.networking.disable_default_cni == false)
      -- the subnets go on as written, as kind passes them to kubeadm; the warning says what they mean
      assert.are.same({ "10.244.0.1/16", "10.96.7.7/16" }, { model.networking.pod_subnet, model.networking.service_subnet })
      assert.are.same({
        'networking.podSubnet: "10.244.0.1/16" has host bits set; Kubernetes reads it as the range 10.244.0.0/16',
        'networking.serviceSubnet: "10.96.7.7/16" has host bits set; Kubernetes reads it as the range 10.96.0.0/16',
      }, model.warnings)
    end)

    it("fills an empty role, image, name and networking strings with kind's defaults, in Lua too", function()
      local model = config.from_table({ name = "", nodes = { { role = "", image = "" }, { role = "worker", image = "" } },
        networking = { ipFamily = "", apiServerAddress = "", podSubnet = "", serviceSubnet = "", kubeProxyMode = "" } })
      assert.are.equal(defaults.cluster_name, model.name)
      assert.are.same({ "control-plane", "worker" }, { model.nodes[1].role, model.nodes[2].role })
      assert.are.same({ defaults.image, defaults.image }, { model.nodes[1].image, model.nodes[2].image })
      assert.are.same(config.default().networking, model.networking)
    end)

    it("checks host bits against the node network on the network address", function()
      local e = error_of(config.from_yaml, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  podSubnet: 192.168.64.9/24\n")
      assert.are.equal("networking.podSubnet", e.path)
      assert.truthy(e.message:find("overlaps " .. defaults.node_network_subnet, 1, true))
    end)

    it("publishes kind's ingress ports without a warning: 80 and 443 on every address need no root", function()
      assert.are.same({}, load("kind-ingress.yaml").warnings)
    end)

    it("reads registrySchemes: registry host -> scheme, in YAML and Lua", function()
      assert.are.same({ ["registry.lan:5000"] = "http", ["localhost:5443"] = "https" },
        load("registry-schemes.yaml").registry_schemes)
      local model = config.from_table({ registry_schemes = { ["10.1.2.3:5000"] = "https" } }, "script")
      assert.are.same({ ["10.1.2.3:5000"] = "https" }, model.registry_schemes)
      assert.are.same({}, config.default().registry_schemes)
    end)

    it("names an image's registry as distribution/reference does", function()
      assert.are.equal("docker.io", config.registry_of("kindest/node:v1.35.5"))
      assert.are.equal("docker.io", config.registry_of("busybox"))
      assert.are.equal("localhost:5001", config.registry_of("localhost:5001/kindest/node:v1"))
      assert.are.equal("localhost", config.registry_of("localhost/node"))
      assert.are.equal("registry.lan", config.registry_of("registry.lan/team/node@sha256:" .. ("a"):rep(64)))
      assert.are.equal("docker.io", config.registry_of("team/node"))
    end)

    it("makes a relative hostPath absolute against the current directory, as kind does", function()
      local model = load("relative-mount.yaml", { cwd = "/Users/me/project" })
      assert.are.equal("/Users/me/project/shared", model.nodes[1].extra_mounts[1].host_path)
    end)
  end)

  describe("defaults", function()
    it("config.default is one control plane with every default filled in", function()
      assert.are.same({
        name = "kina", cpus = defaults.cpus, memory = defaults.memory, warnings = {}, high_availability = false,
        nodes = { {
          role = "control-plane", name = "kina-control-plane", image = defaults.image,
          cpus = defaults.cpus, memory = defaults.memory, labels = {}, extra_mounts = {},
          extra_port_mappings = {}, kubeadm_config_patches = {}, kubeadm_config_patches_json6902 = {},
          cpus_given = false, memory_given = false,
        } },
        networking = {
          ip_family = "ipv4", api_server_address = "127.0.0.1", api_server_port = 0,
          pod_subnet = "10.244.0.0/16", service_subnet = "10.96.0.0/16",
          disable_default_cni = false, kube_proxy_mode = "iptables",
        },
        feature_gates = {}, runtime_config = {}, kubeadm_config_patches = {}, kubeadm_config_patches_json6902 = {},
        containerd_config_patches = {}, containerd_config_patches_json6902 = {}, registry_schemes = {},
      }, config.default())
    end)

    it("refuses a cluster name with a dot, from --name too, saying why", function()
      local e = error_of(config.default, "my.cluster")
      assert.are.equal("name (from --name)", e.path)
      assert.are.equal([["my.cluster" contains '.': kind allows it, but Apple's runtime sets a container's hostname to its name up to the first '.' (apple/container, RuntimeService.swift), so every node of this cluster would be called "my" inside its VM instead of by its own name; use '-' instead, like "my-cluster"]],
        e.message)
      -- a name kind refuses anyway gets the usual rule
      assert.are.equal([["My.Cluster" contains '.'; cluster names allow only lower-case letters, digits and '-']],
        error_of(config.default, "My.Cluster").message)
    end)

    it("config.default(name) names the cluster and its node", function()
      local model = config.default("dev")
      assert.are.equal("dev", model.name)
      assert.are.equal("dev-control-plane", model.nodes[1].name)
      local e = error_of(config.default, "Dev")
      assert.are.equal("name (from --name)", e.path)
    end)

    it("pins the default image by digest", function()
      assert.truthy(defaults.image:match("^docker%.io/kindest/node:v%d+%.%d+%.%d+@sha256:%x+$"))
      assert.are.equal(64, #defaults.image:match("@sha256:(%x+)$"))
    end)

    it("fills the defaults of a partial config", function()
      local model = config.from_table({ nodes = { { role = "control-plane" }, { role = "worker" } } })
      assert.are.equal(defaults.pod_subnet, model.networking.pod_subnet)
      assert.are.equal(defaults.memory, model.nodes[2].memory)
      assert.are.same({}, model.nodes[2].extra_port_mappings)
    end)

    it("an empty nodes list means one control plane, as in kind", function()
      local model = config.from_table({ nodes = {} })
      assert.are.equal(1, #model.nodes)
      assert.are.equal("control-plane", model.nodes[1].role)
    end)

    it("kina.defaults is read-only; copy() is writable", function()
      assert.has_error(function() defaults.cpus = 64 end)
      assert.are.equal(2, defaults.cpus)
      local copy = defaults.copy()
      copy.cpus = 64
      assert.are.equal(64, copy.cpus)
      assert.are.equal(2, defaults.cpus)
    end)
  end)

  describe("options", function()
    it("--name overrides the config's name", function()
      local model = config.load(GOOD .. "same-cluster.yaml", { name = "other" })
      assert.are.equal("other", model.name)
      assert.are.equal("other-worker2", model.nodes[3].name)
    end)

    it("--image overrides every node's image and is validated", function()
      local model = config.load(GOOD .. "same-cluster.yaml", { image = "kindest/node:v1.33.1" })
      for _, node in ipairs(model.nodes) do assert.are.equal("kindest/node:v1.33.1", node.image) end
      local e = error_of(config.load, GOOD .. "same-cluster.yaml", { image = "kindest/node:v1; id" })
      assert.are.equal("--image", e.path)
    end)

    it("misuse of the API raises a plain error naming the option", function()
      local ok, err = pcall(config.from_table, {}, "x", { nmae = "dev" })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("unknown field nmae", 1, true))
      ok, err = pcall(config.load, "x.yaml", { timeout = "5" })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("timeout must be a number", 1, true))
    end)
  end)

  describe("errors", function()
    it("are ConfigError values with source, path, message and (YAML) line", function()
      local e = error_of(config.load, BAD .. "role-master.yaml")
      assert.are.equal(config.ConfigError, getmetatable(e))
      assert.are.equal("nodes[1].role", e.path)
      assert.are.equal('"master" is not "control-plane" or "worker"', e.message)
      assert.are.equal(5, e.line)
      assert.is_false(config.is_error("nodes[1].role: bad"))
    end)

    it("name the source given to from_table", function()
      local e = error_of(config.from_table, { nodes = { { role = "master" } } }, "my-script")
      assert.are.equal('my-script: nodes[1].role: "master" is not "control-plane" or "worker"', tostring(e))
    end)

    it("report a file that cannot be read", function()
      local e = error_of(config.load, BAD .. "no-such-file.yaml")
      assert.is_true(config.is_error(e))
      assert.are.equal(BAD .. "no-such-file.yaml: cannot read the file: No such file or directory", tostring(e))
      e = error_of(config.load, BAD)
      assert.truthy(e.message:find("cannot read the file", 1, true))
    end)

    it("refuse a config file larger than the limit before parsing it", function()
      local path = temp_file("# " .. ("x"):rep(defaults.config_file_max_bytes) .. "\n", ".yaml")
      finally(function() os.remove(path) end)
      local e = error_of(config.load, path)
      assert.are.equal(("is larger than %d bytes; a cluster config is much smaller"):format(defaults.config_file_max_bytes), e.message)
    end)

    it("warn about an API server published on every interface", function()
      local model = config.from_table({ networking = { apiServerAddress = "0.0.0.0" } })
      assert.are.same({ "networking.apiServerAddress: 0.0.0.0 publishes the API server on every host interface" }, model.warnings)
    end)
  end)

  describe("hostile strings", function()
    local hostile = {
      "with space", "it's", 'say "hi"', "$(rm -rf ~)", "`id`", "a;reboot", "line\nbreak", "non-ascii-é", "日本",
    }

    -- Each hostile string is either refused with a message naming `path`, or kept exactly.
    local function refused_or_kept(t, path, get)
      local ok, result = pcall(config.from_table, t, "hostile")
      if ok then return "kept", get(result) end
      assert.is_true(config.is_error(result), tostring(result))
      assert.are.equal(path, result.path)
      return "refused", result.message
    end

    for _, s in ipairs(hostile) do
      describe(("%q"):format(s), function()
        it("is refused as a cluster name", function()
          local how = refused_or_kept({ name = s }, "name")
          assert.are.equal("refused", how)
        end)

        it("is refused as a label key and as a label value", function()
          assert.are.equal("refused", (refused_or_kept({ nodes = { { labels = { tier = s } } } }, "nodes[1].labels.tier")))
          local key_path = "nodes[1].labels[" .. ("%q"):format(s):gsub("\\\n", "\\n") .. "]"
          assert.are.equal("refused", (refused_or_kept({ nodes = { { labels = { [s] = "x" } } } }, key_path)))
        end)

        it("is refused in an image reference", function()
          local how = refused_or_kept({ nodes = { { image = "kindest/node:" .. s } } }, "nodes[1].image")
          assert.are.equal("refused", how)
        end)

        it("is kept exactly in host and node paths, or refused when it holds a control character", function()
          local host = "/Users/me/" .. s
          local how, value = refused_or_kept({ nodes = { { extraMounts = { { hostPath = host, containerPath = "/x" } } } } },
            "nodes[1].extraMounts[1].hostPath", function(m) return m.nodes[1].extra_mounts[1].host_path end)
          if how == "kept" then assert.are.equal(host, value) else assert.truthy(s:find("%c")) end
          local dst = "/mnt/" .. s
          how, value = refused_or_kept({ nodes = { { extraMounts = { { hostPath = "/x", containerPath = dst } } } } },
            "nodes[1].extraMounts[1].containerPath", function(m) return m.nodes[1].extra_mounts[1].container_path end)
          if how == "kept" then assert.are.equal(dst, value) else assert.truthy(s:find("%c")) end
          local kernel = "/Users/me/" .. s
          how, value = refused_or_kept({ kernel = kernel }, "kernel", function(m) return m.nodes[1].kernel end)
          if how == "kept" then assert.are.equal(kernel, value) else assert.truthy(s:find("%c")) end
        end)

        it("is refused as a network name", function()
          assert.are.equal("refused", (refused_or_kept({ network = s }, "network")))
        end)
      end)
    end
  end)

  describe("YAML", function()
    local H = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"

    -- kind decodes with go.yaml.in/yaml/v3 v3.0.4 into typed Go fields (encoding/load.go).
    it("gives a string field the text of any scalar, as written, as kind's decoder does", function()
      assert.are.equal("123", config.from_yaml(H .. 'name: "123"\n').name)
      assert.are.equal("123", config.from_yaml(H .. "name: 123\n").name)
      assert.are.equal("0x1f", config.from_yaml(H .. "name: 0x1f\n").name)
      local labels = config.from_yaml(H .. "nodes:\n- labels:\n    a: true\n    b: 1.10\n    c: 017\n    d: 1_000\n    e: 2001-12-14\n    f: ~\n").nodes[1].labels
      assert.are.same({ a = "true", b = "1.10", c = "017", d = "1_000", e = "2001-12-14", f = "" }, labels)
      assert.are.same({ ["api/alpha"] = "false", ["api/beta"] = "1" },
        config.from_yaml(H .. "runtimeConfig:\n  api/alpha: false\n  api/beta: 1\n").runtime_config)
      assert.are.same({ "true" }, config.from_yaml(H .. "containerdConfigPatches:\n- true\n").containerd_config_patches)
      -- through an alias and a merge too
      local model = config.from_yaml(H .. "nodes:\n- labels: &l\n    x: yes\n    y: &n 5\n- role: worker\n  labels:\n    <<: *l\n    z: *n\n")
      assert.are.same({ x = "yes", y = "5", z = "5" }, model.nodes[2].labels)
    end)

    it("reads integers with Go's syntax, as kind's decoder does", function()
      local function cpus(text) return config.from_yaml(H .. "cpus: " .. text .. "\n").cpus end
      assert.are.same({ 15, 16, 3, 7, 1000, 4, 8, 5, 10 },
        { cpus("017"), cpus("0x10"), cpus("0b11"), cpus("0o7"), cpus("1_000"), cpus("4.0"), cpus("08"), cpus("+5"), cpus("1e1") })
      -- kind would truncate 4.5 to 4 (decode.go: int64(resolved)); kina says so instead
      assert.are.equal("must be an integer, not a number (4.5)", error_of(config.from_yaml, H .. "cpus: 4.5\n").message)
      assert.are.equal('must be an integer, not a string ("4")', error_of(config.from_yaml, H .. "cpus: '4'\n").message)
    end)

    it("reads YAML 1.1 booleans into bool fields, quoted or not, as kind's decoder does", function()
      local function cni(text)
        return config.from_yaml(H .. "networking:\n  disableDefaultCNI: " .. text .. "\n").networking.disable_default_cni
      end
      for _, word in ipairs { "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE", '"yes"' } do
        assert.is_true(cni(word), word)
      end
      for _, word in ipairs { "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE", "'off'" } do
        assert.is_false(cni(word), word)
      end
      -- yaml.v3 takes exactly those spellings; a quoted "true" is a string even for kind
      for _, word in ipairs { "oN", "yEs", '"true"', "1" } do
        local e = error_of(config.from_yaml, H .. "networking:\n  disableDefaultCNI: " .. word .. "\n")
        assert.are.equal("networking.disableDefaultCNI", e.path)
      end
      assert.are.same({ A = true, B = false }, config.from_yaml(H .. "featureGates:\n  A: on\n  B: 'No'\n").feature_gates)
      -- a Lua table has real types: "yes" stays a string there
      local e = error_of(config.from_table, { networking = { disableDefaultCNI = "yes" } })
      assert.are.equal('must be true or false, not a string ("yes")', e.message)
    end)

    it("treats a null field as absent, as kind does", function()
      local model = config.from_yaml(H .. "name: ~\nnetworking:\nnodes:\n")
      assert.are.same(config.default(), model)
    end)

    it("reports the line of a duplicate key, and of any field", function()
      local e = error_of(config.from_yaml, H .. "nodes:\n- role: worker\n  role: control-plane\n", "x.yaml")
      assert.are.equal("x.yaml: nodes[1].role: is set twice (lines 4 and 5)", tostring(e))
      assert.are.equal(5, e.line)
      e = error_of(config.from_yaml, H .. "nodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n\n    hostPort: 70000\n")
      assert.are.equal(8, e.line)
    end)

    it("refuses nesting deep enough to hurt", function()
      local e = error_of(config.from_yaml, H .. "x: " .. ("["):rep(200) .. ("]"):rep(200) .. "\n")
      assert.is_true(config.is_error(e))
      assert.truthy(e.message:find("nested more than", 1, true))
    end)
  end)

  describe("Lua scripts", function()
    local function script(body)
      local path = temp_file(body, ".lua")
      finally(function() os.remove(path) end)
      return path
    end

    it("run in an environment with only pure functions", function()
      local path = script([[
        local allowed = { string = 1, table = 1, math = 1, utf8 = 1, pairs = 1, ipairs = 1, next = 1,
          tostring = 1, tonumber = 1, type = 1, select = 1, error = 1, assert = 1, pcall = 1 }
        for k in pairs(_ENV) do
          if not allowed[k] then error("unexpected global " .. tostring(k)) end
        end
        for _, name in ipairs { "io", "os", "require", "load", "loadfile", "dofile", "debug", "package",
                                "setmetatable", "getmetatable", "rawset", "collectgarbage", "coroutine" } do
          if _ENV[name] ~= nil then error("has " .. name) end
        end
        assert(string.dump == nil and string.pack == nil and math.random == nil and table.move == nil)
        return { name = "sandboxed" }
      ]])
      assert.are.equal("sandboxed", config.load(path).name)
    end)

    it("can use string methods, pcall and loops to build a cluster", function()
      local path = script([[
        local nodes = { { role = "control-plane" } }
        for i = 1, 3 do nodes[#nodes + 1] = { role = "worker", labels = { idx = ("w%d"):format(i) } } end
        local ok, err = pcall(error, "caught")
        assert(not ok and err == "caught")
        return { name = ("ab"):rep(2, "-"), nodes = nodes }
      ]])
      local model = config.load(path)
      assert.are.equal("ab-ab", model.name)
      assert.are.equal("ab-ab-worker3", model.nodes[4].name)
      assert.are.same({ idx = "w3" }, model.nodes[4].labels)
    end)

    it("leave the string metatable and the global table as they were", function()
      local index = getmetatable("").__index
      config.load(script("leaked = 1\nreturn {}\n"))
      pcall(config.load, script("error('x')\n"))
      pcall(config.load, BAD .. "lua-string-rep-bomb.lua")
      assert.are.equal(index, getmetatable("").__index)
      assert.are.equal(string, getmetatable("").__index)
      assert.is_nil(rawget(_G, "leaked"))
    end)

    it("stop a runaway script at the instruction bound given in the options", function()
      local e = error_of(config.load, BAD .. "lua-loop-forever.lua", { instructions = 100000 })
      assert.are.equal(4, e.line)
      assert.truthy(e.message:find("(100000 instructions", 1, true))
    end)

    it("refuse precompiled chunks", function()
      local e = error_of(config.load, script("\27Lua\84\0garbage"))
      assert.is_true(config.is_error(e))
      assert.truthy(e.message:find("binary chunk", 1, true))
    end)
  end)
end)
