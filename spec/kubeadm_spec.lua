-- kina.kubeadm: the kubeadm documents of a node, kind's patching, checked on the rendered YAML
-- parsed back (kind pkg/cluster/internal/kubeadm/config.go, pkg/internal/patch/).
local json = require "kina.json"
local kubeadm = require "kina.kubeadm"
local lyaml = require "lyaml"

-- a node's parameters, as cluster.lua's steps_config passes them
local function params(over)
  local p = {
    cluster = "kina", node = "kina-control-plane", role = "control-plane", bootstrap = true,
    k8s_version = "v1.35.5", node_ip = "192.168.64.2", endpoint = "192.168.64.2",
    cert_sans = { "192.168.64.2" }, pod_subnet = "10.244.0.0/16", service_subnet = "10.96.0.0/16",
    kube_proxy_mode = "iptables", feature_gates = {}, runtime_config = {}, node_labels = {}, provider = "apple",
  }
  for k, v in pairs(over or {}) do p[k] = v end
  return p
end

-- the rendered config, parsed back with lyaml, by kind
local function rendered(p, sets)
  local text = kubeadm.config(params(p), sets)
  local by_kind, order = {}, {}
  for _, doc in ipairs(lyaml.load(text, { all = true })) do
    by_kind[doc.kind] = doc
    order[#order + 1] = doc.kind
  end
  return by_kind, order, text
end

local function fails(pattern, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error containing: " .. pattern)
  assert.truthy(tostring(err):find(pattern, 1, true), "\n" .. tostring(err) .. "\n  does not contain\n" .. pattern)
end

local function args_map(list)
  local out = {}
  for _, a in ipairs(list) do out[a.name] = a.value end
  return out
end

local function names(list)
  local out = {}
  for i, a in ipairs(list) do out[i] = a.name end
  return out
end

describe("kina.kubeadm API version", function()
  it("is v1beta3 below Kubernetes v1.36 and v1beta4 from it, as kind chooses (config.go Config)", function()
    assert.equal("kubeadm.k8s.io/v1beta3", kubeadm.api_version("v1.23.0"))
    assert.equal("kubeadm.k8s.io/v1beta3", kubeadm.api_version("v1.31.0"))
    assert.equal("kubeadm.k8s.io/v1beta3", kubeadm.api_version("v1.35.5"))
    assert.equal("kubeadm.k8s.io/v1beta4", kubeadm.api_version("v1.36.0"))
    assert.equal("kubeadm.k8s.io/v1beta4", kubeadm.api_version("v1.37.0"))
    assert.equal("kubeadm.k8s.io/v1beta4", kubeadm.api_version("v2.0.0"))
  end)

  it("refuses Kubernetes before v1.23 and versions it cannot read", function()
    fails("Kubernetes v1.22.17 is too old for kina", function() kubeadm.api_version("v1.22.17") end)
    fails('cannot read a Kubernetes version from "latest"', function() kubeadm.api_version("latest") end)
  end)

  it("puts the version in every kubeadm document and the matching extraArgs form", function()
    local v3 = rendered{ k8s_version = "v1.35.5" }
    for _, kind in ipairs{ "ClusterConfiguration", "InitConfiguration", "JoinConfiguration" } do
      assert.equal("kubeadm.k8s.io/v1beta3", v3[kind].apiVersion)
    end
    assert.same({ ["runtime-config"] = "" }, v3.ClusterConfiguration.apiServer.extraArgs)
    assert.equal("true", v3.ClusterConfiguration.controllerManager.extraArgs["enable-hostpath-provisioner"])
    assert.equal("192.168.64.2", v3.InitConfiguration.nodeRegistration.kubeletExtraArgs["node-ip"])

    local v4 = rendered{ k8s_version = "v1.36.1" }
    for _, kind in ipairs{ "ClusterConfiguration", "InitConfiguration", "JoinConfiguration" } do
      assert.equal("kubeadm.k8s.io/v1beta4", v4[kind].apiVersion)
    end
    assert.same({ { name = "enable-hostpath-provisioner", value = "true" } }, v4.ClusterConfiguration.controllerManager.extraArgs)
    assert.same({ ["node-ip"] = "192.168.64.2", ["provider-id"] = "kind://apple/kina/kina-control-plane" },
      args_map(v4.JoinConfiguration.nodeRegistration.kubeletExtraArgs))
  end)
end)

describe("kina.kubeadm documents", function()
  it("skip preflight in init and join, as kind's skipPhases do", function()
    local docs = rendered{}
    assert.same({ "preflight" }, docs.InitConfiguration.skipPhases)
    assert.same({ "preflight" }, docs.JoinConfiguration.skipPhases)
    assert.is_table(docs.KubeProxyConfiguration)
  end)

  it("with kubeProxyMode none skip the kube-proxy addon in init and write no KubeProxyConfiguration", function()
    local docs, order = rendered{ kube_proxy_mode = "none" }
    assert.same({ "preflight", "addon/kube-proxy" }, docs.InitConfiguration.skipPhases)
    assert.same({ "preflight" }, docs.JoinConfiguration.skipPhases)
    assert.same({ "ClusterConfiguration", "InitConfiguration", "JoinConfiguration", "KubeletConfiguration" }, order)
  end)

  it("name the node in nodeRegistration.name, in init and join", function()
    local docs = rendered{ node = "dev-worker2", role = "worker", bootstrap = false, node_ip = "192.168.64.4" }
    assert.equal("dev-worker2", docs.InitConfiguration.nodeRegistration.name)
    assert.equal("dev-worker2", docs.JoinConfiguration.nodeRegistration.name)
    assert.equal("kind://apple/kina/dev-worker2", docs.JoinConfiguration.nodeRegistration.kubeletExtraArgs["provider-id"])
    assert.is_nil(docs.JoinConfiguration.controlPlane)
  end)

  it("set tcpBeLiberal for nftables kube-proxy, as kind's template does", function()
    assert.is_true(rendered{ kube_proxy_mode = "nftables" }.KubeProxyConfiguration.conntrack.tcpBeLiberal)
    assert.is_nil(rendered{}.KubeProxyConfiguration.conntrack.tcpBeLiberal)
  end)

  it("render sorted keys, no metadata, strings that look like other scalars quoted", function()
    local _, order, text = rendered{ feature_gates = { Foo = true } }
    assert.same({ "ClusterConfiguration", "InitConfiguration", "JoinConfiguration", "KubeletConfiguration",
      "KubeProxyConfiguration" }, order)
    assert.is_nil(text:find("metadata", 1, true))
    assert.truthy(text:find("^apiServer:\n  certSANs:\n  %- localhost\n  %- 127%.0%.0%.1\n"))
    assert.truthy(text:find("    enable-hostpath-provisioner: 'true'\n", 1, true))
    assert.truthy(text:find("    runtime-config: ''\n", 1, true))
    assert.truthy(text:find("featureGates:\n  Foo: true\n", 1, true))
  end)
end)

describe("kina.kubeadm merge patches", function()
  local function merge(p, ...)
    return rendered(p, { { merge = { ... } } })
  end

  it("merge list-form kubeletExtraArgs into kina's by name on v1beta4 (kind kubeadm_merge.go)", function()
    local docs = merge({ k8s_version = "v1.36.1" }, [[
kind: InitConfiguration
nodeRegistration:
  kubeletExtraArgs:
  - name: v
    value: "4"
  - name: node-ip
    value: 10.0.0.9
]])
    local args = docs.InitConfiguration.nodeRegistration.kubeletExtraArgs
    assert.same({ "node-ip", "provider-id", "v" }, names(args))
    assert.same({ ["node-ip"] = "10.0.0.9", ["provider-id"] = "kind://apple/kina/kina-control-plane", v = "4" }, args_map(args))
    -- the other document keeps kina's own
    assert.equal("192.168.64.2", args_map(docs.JoinConfiguration.nodeRegistration.kubeletExtraArgs)["node-ip"])
  end)

  it("keep feature-gates and runtime-config when a list-form extraArgs patch adds a flag", function()
    local docs = merge({ k8s_version = "v1.36.1", feature_gates = { Foo = true }, runtime_config = { ["api/all"] = "true" } }, [[
kind: ClusterConfiguration
apiServer:
  extraArgs:
  - name: audit-log-path
    value: /var/log/audit.log
]])
    assert.same({ ["runtime-config"] = "api/all=true", ["feature-gates"] = "Foo=true", ["audit-log-path"] = "/var/log/audit.log" },
      args_map(docs.ClusterConfiguration.apiServer.extraArgs))
  end)

  it("remove an argument whose patch value is null, in either form", function()
    local v4 = merge({ k8s_version = "v1.36.1" }, "kind: JoinConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n  - name: provider-id\n    value: null\n")
    assert.same({ "node-ip" }, names(v4.JoinConfiguration.nodeRegistration.kubeletExtraArgs))
    local v3 = merge({}, "kind: JoinConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n    provider-id: null\n")
    assert.same({ ["node-ip"] = "192.168.64.2" }, v3.JoinConfiguration.nodeRegistration.kubeletExtraArgs)
  end)

  it("turn map-form patches into v1beta4 entries and list-form patches into v1beta3 map keys", function()
    local v4 = merge({ k8s_version = "v1.36.1" }, "kind: ClusterConfiguration\ncontrollerManager:\n  extraArgs:\n    v: 2\n    enable-hostpath-provisioner: false\n")
    assert.same({ { name = "enable-hostpath-provisioner", value = "false" }, { name = "v", value = "2" } },
      v4.ClusterConfiguration.controllerManager.extraArgs)
    local v3 = merge({}, "kind: ClusterConfiguration\ncontrollerManager:\n  extraArgs:\n  - name: v\n    value: '2'\n")
    assert.same({ ["enable-hostpath-provisioner"] = "true", v = "2" }, v3.ClusterConfiguration.controllerManager.extraArgs)
  end)

  it("add extraArgs where kina wrote none (etcd.local), in the version's form", function()
    local v4 = merge({ k8s_version = "v1.36.1" }, "kind: ClusterConfiguration\netcd:\n  local:\n    extraArgs:\n      quota-backend-bytes: '8589934592'\n")
    assert.same({ { name = "quota-backend-bytes", value = "8589934592" } }, v4.ClusterConfiguration.etcd["local"].extraArgs)
  end)

  it("add certSANs to kina's instead of replacing them", function()
    local docs = merge({}, "kind: ClusterConfiguration\napiServer:\n  certSANs: [my.host, 127.0.0.1]\n")
    assert.same({ "localhost", "127.0.0.1", "192.168.64.2", "my.host" }, docs.ClusterConfiguration.apiServer.certSANs)
  end)

  it("merge everything else as RFC 7386 does: mappings merged, lists and scalars replaced, null removes", function()
    local docs = merge({}, [[
kind: KubeletConfiguration
evictionHard:
  nodefs.available: 10%
  imagefs.available: null
failSwapOn: true
]])
    local k = docs.KubeletConfiguration
    assert.same({ ["nodefs.available"] = "10%", ["nodefs.inodesFree"] = "0%" }, k.evictionHard)
    assert.is_true(k.failSwapOn)
    assert.equal("systemd", k.cgroupDriver)
  end)

  it("apply each document of a patch string that holds several (kind splits them)", function()
    local docs = merge({}, [[
---
kind: InitConfiguration
nodeRegistration:
  taints: []
---
kind: KubeletConfiguration
maxPods: 50
---
]])
    assert.same({}, docs.InitConfiguration.nodeRegistration.taints)
    assert.equal(50, docs.KubeletConfiguration.maxPods)
  end)

  it("apply a patch naming the image's apiVersion, and one naming none, to the document", function()
    local docs = merge({}, "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nclusterName: a\n",
      "kind: ClusterConfiguration\nimageRepository: r.example\n")
    assert.equal("a", docs.ClusterConfiguration.clusterName)
    assert.equal("r.example", docs.ClusterConfiguration.imageRepository)
  end)

  it("refuse a patch whose apiVersion matches no document, naming it and the image's version", function()
    fails("kubeadmConfigPatches[2]: apiVersion kubeadm.k8s.io/v1beta4 matches no document: this node image's Kubernetes v1.35.5 uses kubeadm.k8s.io/v1beta3",
      function() merge({}, "kind: ClusterConfiguration\n", "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n") end)
    fails("kubeadmConfigPatches[1]: apiVersion kubeadm.k8s.io/v1beta3 matches no document: this node image's Kubernetes v1.36.1 uses kubeadm.k8s.io/v1beta4",
      function() merge({ k8s_version = "v1.36.1" }, "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n") end)
    fails("kubeadmConfigPatches[1]: apiVersion kubelet.config.k8s.io/v1 matches no document: kina's KubeletConfiguration is kubelet.config.k8s.io/v1beta1",
      function() merge({}, "apiVersion: kubelet.config.k8s.io/v1\nkind: KubeletConfiguration\n") end)
  end)

  it("refuse a patch whose kind matches no document, naming the document of a multi-document string", function()
    fails("kubeadmConfigPatches[1] (document 2): kind ClusterConfig matches no document; kina writes ClusterConfiguration, InitConfiguration, JoinConfiguration, KubeletConfiguration, KubeProxyConfiguration",
      function() merge({}, "kind: KubeletConfiguration\n---\nkind: ClusterConfig\n") end)
    fails("kubeadmConfigPatches[1]: kind KubeProxyConfiguration matches no document: networking.kubeProxyMode is none",
      function() merge({ kube_proxy_mode = "none" }, "kind: KubeProxyConfiguration\nmode: ipvs\n") end)
  end)

  it("refuse patches that are not mappings with a kind, or not YAML", function()
    fails("kubeadmConfigPatches[1]: a patch needs `kind`", function() merge({}, "apiServer: {}\n") end)
    fails("kubeadmConfigPatches[1]: must be a YAML mapping", function() merge({}, "- kind: x\n") end)
    fails("kubeadmConfigPatches[1]: not valid YAML", function() merge({}, "kind: [\n") end)
    fails("kubeadmConfigPatches[1]: holds no YAML document", function() merge({}, "# nothing\n") end)
    fails("kubeadmConfigPatches[1]: extraArgs[1] must be a {name, value} mapping with a string name",
      function() merge({ k8s_version = "v1.36.1" }, "kind: ClusterConfiguration\napiServer:\n  extraArgs:\n  - v\n") end)
  end)
end)

describe("kina.kubeadm RFC 6902 patches (kubeadmConfigPatchesJSON6902)", function()
  local function entry(kind, patch, version)
    return { group = "kubeadm.k8s.io", version = version or "v1beta3", kind = kind, patch = patch }
  end

  it("apply to the document of the group, version and kind, in YAML or JSON", function()
    local docs = rendered({}, { { json6902 = {
      entry("ClusterConfiguration", "- op: add\n  path: /apiServer/certSANs/-\n  value: my.host\n- op: replace\n  path: /networking/podSubnet\n  value: 10.100.0.0/16\n"),
      { group = "kubelet.config.k8s.io", version = "v1beta1", kind = "KubeletConfiguration",
        patch = '[{"op": "remove", "path": "/evictionHard/imagefs.available"}, {"op": "add", "path": "/maxPods", "value": 30}]' },
    } } })
    assert.same({ "localhost", "127.0.0.1", "192.168.64.2", "my.host" }, docs.ClusterConfiguration.apiServer.certSANs)
    assert.equal("10.100.0.0/16", docs.ClusterConfiguration.networking.podSubnet)
    assert.is_nil(docs.KubeletConfiguration.evictionHard["imagefs.available"])
    assert.equal(30, docs.KubeletConfiguration.maxPods)
  end)

  it("reach v1beta4 list entries by index and escape / in member names", function()
    local docs = rendered({ k8s_version = "v1.36.1" }, { { json6902 = {
      entry("InitConfiguration", "- op: test\n  path: /nodeRegistration/kubeletExtraArgs/0/name\n  value: node-ip\n- op: remove\n  path: /nodeRegistration/kubeletExtraArgs/1\n", "v1beta4"),
      entry("ClusterConfiguration", "- op: add\n  path: /apiServer/extraVolumes\n  value: []\n- op: add\n  path: /apiServer/extraVolumes/-\n  value: {name: audit, hostPath: /a/b, mountPath: /a/b}\n", "v1beta4"),
    } } })
    assert.same({ "node-ip" }, names(docs.InitConfiguration.nodeRegistration.kubeletExtraArgs))
    assert.same({ { name = "audit", hostPath = "/a/b", mountPath = "/a/b" } }, docs.ClusterConfiguration.apiServer.extraVolumes)
    local k = rendered({}, { { json6902 = { { group = "kubelet.config.k8s.io", version = "v1beta1", kind = "KubeletConfiguration",
      patch = "- op: replace\n  path: /evictionHard/nodefs.available\n  value: 5%\n" } } } })
    assert.equal("5%", k.KubeletConfiguration.evictionHard["nodefs.available"])
  end)

  it("keep an added empty mapping a mapping and an empty list a list in the YAML", function()
    local _, _, text = rendered({}, { { json6902 = {
      entry("ClusterConfiguration", '[{"op": "add", "path": "/etcd", "value": {"local": {"extraArgs": {}, "serverCertSANs": []}}}]'),
    } } })
    assert.truthy(text:find("etcd:\n  local:\n    extraArgs: {}\n    serverCertSANs: []\n", 1, true), text)
  end)

  it("refuse a patch of another version, naming it and the image's version", function()
    fails("kubeadmConfigPatchesJSON6902[1]: group/version kubeadm.k8s.io/v1beta4 matches no document: this node image's Kubernetes v1.35.5 uses kubeadm.k8s.io/v1beta3",
      function() rendered({}, { { json6902 = { entry("ClusterConfiguration", "[]", "v1beta4") } } }) end)
  end)

  it("name the patch, the operation and its path when an operation fails", function()
    fails('nodes[2].kubeadmConfigPatchesJSON6902[1].patch: operation 2 (test "/clusterName"): test failed: the value is "kina", not "other"',
      function()
        rendered({}, { {}, { prefix = "nodes[2].", json6902 = {
          entry("ClusterConfiguration", "- op: test\n  path: /kind\n  value: ClusterConfiguration\n- op: test\n  path: /clusterName\n  value: other\n"),
        } } })
      end)
    fails('kubeadmConfigPatchesJSON6902[1].patch: operation 1 (replace "/nope/x"): "" has no member "nope"',
      function() rendered({}, { { json6902 = { entry("ClusterConfiguration", "- {op: replace, path: /nope/x, value: 1}\n") } } }) end)
    fails("kubeadmConfigPatchesJSON6902[1].patch: must be one list of operations",
      function() rendered({}, { { json6902 = { entry("ClusterConfiguration", "op: add\n") } } }) end)
    fails("kubeadmConfigPatchesJSON6902[1]: needs `kind`",
      function() rendered({}, { { json6902 = { { group = "kubeadm.k8s.io", version = "v1beta3", patch = "[]" } } } }) end)
  end)
end)

describe("kina.kubeadm patch order", function()
  it("is kind's: the cluster's merge, the cluster's 6902, the node's merge, the node's 6902", function()
    local docs = rendered({}, {
      { merge = { "kind: ClusterConfiguration\nclusterName: from-cluster-merge\n" },
        json6902 = { { group = "kubeadm.k8s.io", version = "v1beta3", kind = "ClusterConfiguration",
          -- sees the merge patch of its own set
          patch = "- {op: test, path: /clusterName, value: from-cluster-merge}\n- {op: add, path: /imageRepository, value: from-cluster-6902}\n" } } },
      { prefix = "nodes[1].",
        merge = { "kind: ClusterConfiguration\nimageRepository: from-node-merge\n" },
        json6902 = { { group = "kubeadm.k8s.io", version = "v1beta3", kind = "ClusterConfiguration",
          patch = "- {op: test, path: /imageRepository, value: from-node-merge}\n- {op: replace, path: /clusterName, value: from-node-6902}\n" } } },
    })
    assert.equal("from-node-6902", docs.ClusterConfiguration.clusterName)
    assert.equal("from-node-merge", docs.ClusterConfiguration.imageRepository)
  end)

  it("names a node's merge patch by the node's place in the config", function()
    fails("nodes[3].kubeadmConfigPatches[1]: kind JoinConfig matches no document",
      function() rendered({}, { { merge = {} }, { prefix = "nodes[3].", merge = { "kind: JoinConfig\n" } } }) end)
  end)
end)

describe("kina.kubeadm YAML reading", function()
  it("keeps [] and {} apart, reads anchors, merge keys and YAML 1.1 scalars", function()
    local docs = kubeadm.load_yaml("a: []\nb: {}\nc: &x {k: 1}\nd:\n  <<: *x\n  j: 2\ne: yes\nf: '1'\ng: ~\nh: 0o7\n---\n---\n- 1\n")
    assert.equal(2, #docs)
    local d = docs[1]
    assert.equal("[]", json.encode(d.a))
    assert.equal("{}", json.encode(d.b))
    assert.same({ k = 1, j = 2 }, d.d)
    assert.is_true(d.e)
    assert.equal("1", d.f)
    assert.equal(lyaml.null, d.g)
    assert.equal("0o7", d.h)
    assert.same({ 1 }, docs[2])
  end)

  it("refuses duplicate keys and unknown tags", function()
    fails('mapping key "a" appears twice', function() kubeadm.load_yaml("a: 1\na: 2\n") end)
    fails("YAML tag !vault is not supported here", function() kubeadm.load_yaml("a: !vault x\n") end)
  end)

  it("writes what it reads back unchanged", function()
    local doc = { s = "true", n = 1, f = 1.5, b = false, e = "", l = json.array(), m = {}, t = "a\nb\n", c = "a: b",
      z = lyaml.null }
    local back = kubeadm.load_yaml(kubeadm.dump_yaml(doc))[1]
    assert.equal("true", back.s)
    assert.equal(1, back.n)
    assert.equal(1.5, back.f)
    assert.is_false(back.b)
    assert.equal("", back.e)
    assert.equal("[]", json.encode(back.l))
    assert.equal("{}", json.encode(back.m))
    assert.equal("a\nb\n", back.t)
    assert.equal("a: b", back.c)
    assert.equal(lyaml.null, back.z)
  end)
end)
