-- Every field kina renders into /kind/kubeadm.conf, checked against the JSON field names of the
-- upstream Go types (spec/fixtures/kubeadm-fields.lua, written from kubernetes' source). No kubeadm
-- binary exists here, so this is what stands for "kubeadm accepts the config": an unknown field
-- (which kubeadm only logs a warning for and then drops: cmd/kubeadm/app/util/config/strict/
-- strict.go VerifyUnmarshalStrict, "The returned error here is currently ignored everywhere"),
-- a field of the wrong shape (a map where Go has a slice) or a scalar of the wrong JSON type
-- (a YAML bool where Go has a string, which fails the decode) fails with its path.
local lyaml = require "lyaml"
local kubeadm = require "kina.kubeadm"

local FIELDS = dofile("spec/fixtures/kubeadm-fields.lua")

---------------------------------------------------------------------------------------------
-- The checker

-- Go's time.ParseDuration: "a possibly signed sequence of decimal numbers, each with optional
-- fraction and a unit suffix ... Valid time units are "ns", "us" (or "µs"), "ms", "s", "m", "h"";
-- "0" is the one number allowed without a unit. metav1.Duration unmarshals a JSON string with it.
local DURATION_UNITS = { ns = true, us = true, ["µs"] = true, ["μs"] = true, ms = true, s = true, m = true, h = true }
local function is_go_duration(s)
  s = s:gsub("^[-+]", "")
  if s == "0" then return true end
  if s == "" then return false end
  local pos = 1
  while pos <= #s do
    local number, unit, after = s:match("^(%d*%.?%d*)([^%d%.]+)()", pos)
    if not number or not number:find("%d") or not DURATION_UNITS[unit] then return false end
    pos = after
  end
  return true
end

-- What each scalar marker of the fixture accepts, as lyaml loads YAML (a JSON number for Go's
-- integers must be integral; metav1.Duration and metav1.Time are JSON strings;
-- resource.Quantity takes a string or a number; TimeOrMetaDuration a duration string or an integer).
local SCALARS = {
  string = function(v) return type(v) == "string" end,
  bool = function(v) return type(v) == "boolean" end,
  int = function(v) return math.type(v) == "integer" end,
  float = function(v) return type(v) == "number" end,
  duration = function(v) return type(v) == "string" and is_go_duration(v) end,
  time = function(v) return type(v) == "string" and v:match("^%d%d%d%d%-%d%d%-%d%dT") ~= nil end,
  quantity = function(v) return type(v) == "string" or type(v) == "number" end,
  durationOrInt = function(v) return math.type(v) == "integer" or (type(v) == "string" and is_go_duration(v)) end,
}

-- "list", "map", "empty" (a YAML {} or [] both load as an empty table), "null" or a Lua type name
local function shape_of(v)
  if v == lyaml.null then return "null" end
  if type(v) ~= "table" then return type(v) end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  if n == 0 then return "empty" end
  for i = 1, n do if v[i] == nil then return "map" end end
  return "list"
end

local function show(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "table" then return "a " .. shape_of(v) end
  return ("%s %s"):format(math.type(v) or type(v), tostring(v))
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function key_path(path, k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return path .. "." .. k end
  return ("%s[%q]"):format(path, tostring(k))
end

-- Walk `value` against `shape` (a scalar marker, a type name, {list=}, {map=}); each mismatch
-- appends "<path>: <what is wrong>" to `problems`. JSON null decodes into any Go type.
local function walk(value, shape, path, problems)
  local function problem(fmt, ...) problems[#problems + 1] = path .. ": " .. fmt:format(...) end
  local got = shape_of(value)
  if got == "null" then return end
  if type(shape) == "string" and SCALARS[shape] then
    if not SCALARS[shape](value) then problem("%s is not a %s", show(value), shape) end
  elseif type(shape) == "string" then
    local t = FIELDS.types[shape]
    if not t then error(("fixture: %s refers to an unknown type %s"):format(path, shape)) end
    if got ~= "map" and got ~= "empty" then return problem("%s where %s wants a mapping", show(value), shape) end
    for _, k in ipairs(sorted_keys(value)) do
      local field = type(k) == "string" and t.fields[k] or nil
      if field == nil then
        problems[#problems + 1] = key_path(path, k) .. ": unknown field (" .. shape .. " has no field " .. tostring(k) .. ")"
      else
        walk(value[k], field, key_path(path, k), problems)
      end
    end
  elseif shape.list then
    if got ~= "list" and got ~= "empty" then return problem("%s where a list is wanted", show(value)) end
    for i, item in ipairs(value) do walk(item, shape.list, ("%s[%d]"):format(path, i), problems) end
  elseif shape.map then
    if got ~= "map" and got ~= "empty" then return problem("%s where a mapping is wanted", show(value)) end
    for _, k in ipairs(sorted_keys(value)) do walk(value[k], shape.map, ("%s[%q]"):format(path, tostring(k)), problems) end
  else
    error("fixture: a shape at " .. path .. " is neither a marker, a type, a list nor a map")
  end
end

-- Problems of one parsed document; it is named "<version> <kind>", e.g. "v1beta4 InitConfiguration".
local function check_document(doc, problems)
  problems = problems or {}
  if shape_of(doc) ~= "map" then
    problems[#problems + 1] = "document: " .. show(doc) .. " is not a mapping"
    return problems
  end
  local by_kind = FIELDS.documents[doc.apiVersion]
  local type_name = by_kind and by_kind[doc.kind]
  if not type_name then
    problems[#problems + 1] = ("document: no Go type for apiVersion %s, kind %s"):format(show(doc.apiVersion), show(doc.kind))
    return problems
  end
  walk(doc, type_name, tostring(doc.apiVersion):match("[^/]+$") .. " " .. doc.kind, problems)
  return problems
end

-- Problems of a rendered multi-document YAML text, and its documents.
local function check_yaml(text)
  local docs = lyaml.load(text, { all = true })
  local problems = {}
  for _, doc in ipairs(docs) do check_document(doc, problems) end
  return problems, docs
end

local function find_doc(docs, kind)
  for _, d in ipairs(docs) do if d.kind == kind then return d end end
end

-- The node's config text as kina.cluster writes it: kina's documents, the cluster's merge
-- patches, then the node's, rendered (through kina.kubeadm's public functions).
local function patched_config(p, cluster_patches, node_patches, node_label)
  local docs = kubeadm.documents(p)
  kubeadm.apply_patches(docs, cluster_patches, "kubeadmConfigPatches")
  kubeadm.apply_patches(docs, node_patches, node_label .. ".kubeadmConfigPatches")
  return kubeadm.render(docs)
end

local function deep_copy(v)
  if type(v) ~= "table" or v == lyaml.null then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return out
end

---------------------------------------------------------------------------------------------
-- The parameter sets: kina's node configs as kina.cluster builds them (steps_config)

-- Versions from the oldest kina takes (1.23) past the newest; which ones give v1beta3 and which
-- v1beta4 is kubeadm.api_version's business, not this spec's.
local VERSIONS = { "v1.23.17", "v1.26.15", "v1.29.14", "v1.30.13", "v1.31.0", "v1.32.5", "v1.33.1", "v1.34.0",
  "v1.35.2", "v1.36.0", "v1.37.1" }

local ROLES = {
  { name = "bootstrap control plane", node = "kind-control-plane", role = "control-plane", bootstrap = true, ip = "192.168.64.2" },
  { name = "joining control plane", node = "kind-control-plane2", role = "control-plane", bootstrap = false, ip = "192.168.64.3" },
  { name = "worker", node = "kind-worker", role = "worker", bootstrap = false, ip = "192.168.64.4" },
}

-- cluster-wide settings, each varied on its own
local VARIANTS = {
  { name = "defaults", feature_gates = {}, runtime_config = {}, node_labels = {}, kube_proxy_mode = "iptables" },
  { name = "feature gates", feature_gates = { CSIMigration = true, InPlacePodVerticalScaling = false },
    runtime_config = {}, node_labels = {}, kube_proxy_mode = "iptables" },
  { name = "runtime config", feature_gates = {}, runtime_config = { ["api/alpha"] = "false", ["api/beta"] = "true" },
    node_labels = {}, kube_proxy_mode = "iptables" },
  { name = "node labels", feature_gates = {}, runtime_config = {},
    node_labels = { ["ingress-ready"] = "true", ["example.com/zone"] = "a" }, kube_proxy_mode = "iptables" },
  { name = "ipvs", feature_gates = {}, runtime_config = {}, node_labels = {}, kube_proxy_mode = "ipvs" },
  { name = "nftables", feature_gates = {}, runtime_config = {}, node_labels = {}, kube_proxy_mode = "nftables" },
  { name = "kube-proxy none", feature_gates = {}, runtime_config = {}, node_labels = {}, kube_proxy_mode = "none" },
  -- kina.ha: the load balancer's name as the endpoint, kubeadm's certificate key on control planes
  { name = "several control planes", feature_gates = {}, runtime_config = {}, node_labels = {}, kube_proxy_mode = "iptables",
    endpoint = "kind-external-load-balancer", certificate_key = ("0123456789abcdef"):rep(4) },
  { name = "everything", feature_gates = { CSIMigration = true }, runtime_config = { ["api/alpha"] = "false" },
    node_labels = { tier = "frontend" }, kube_proxy_mode = "ipvs" },
}

local function params(version, role, variant)
  return {
    cluster = "kind", node = role.node, role = role.role, bootstrap = role.bootstrap,
    k8s_version = version, node_ip = role.ip, endpoint = variant.endpoint or "192.168.64.2",
    certificate_key = role.role == "control-plane" and variant.certificate_key or nil,
    cert_sans = { "192.168.64.2", "192.168.64.3", "192.168.64.4" },
    pod_subnet = "10.244.0.0/16", service_subnet = "10.96.0.0/16",
    kube_proxy_mode = variant.kube_proxy_mode, feature_gates = variant.feature_gates,
    runtime_config = variant.runtime_config, node_labels = variant.node_labels, provider = "apple",
  }
end

local KUBEADM_KINDS = { ClusterConfiguration = true, InitConfiguration = true, JoinConfiguration = true }

-- Merge patches: kind's documented ones (kind site/content/docs/user/configuration.md and
-- kind-example-config.yaml), in kind's map form of extraArgs, which kina turns into v1beta4's
-- list; then some setting fields kina does not write itself, so the walk sees them merged in.
local CLUSTER_PATCHES = {
  "kind: ClusterConfiguration\napiServer:\n  extraArgs:\n"
    .. "    enable-admission-plugins: NodeRestriction,MutatingAdmissionWebhook,ValidatingAdmissionWebhook\n",
  "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nevictionHard:\n  nodefs.available: \"0%\"\n",
  "kind: ClusterConfiguration\netcd:\n  local:\n    dataDir: /tmp/lib/etcd\nnetworking:\n  dnsDomain: example.local\n",
  "kind: KubeletConfiguration\nevictionHard:\n  memory.available: 100Mi\ncontainerLogMaxSize: 50Mi\n",
  "kind: KubeProxyConfiguration\nconntrack:\n  tcpEstablishedTimeout: 24h0m0s\n",
}
local NODE_PATCHES = {
  "kind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n    node-labels: \"my-label=true\"\n",
  "kind: JoinConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n    register-with-taints: \"my-taint=presence:NoSchedule\"\n",
}

---------------------------------------------------------------------------------------------

describe("kubeadm config fields against the upstream Go types", function()
  describe("the fixture", function()
    local function each_shape(shape, fn)
      fn(shape)
      if type(shape) == "table" then each_shape(shape.list or shape.map, fn) end
    end

    it("resolves every type it names and uses only known shapes", function()
      local bad = {}
      local function check_shape(where, shape)
        each_shape(shape, function(s)
          if type(s) == "string" then
            if not SCALARS[s] and not FIELDS.types[s] then bad[#bad + 1] = where .. ": " .. s end
          elseif type(s) ~= "table" or (s.list == nil) == (s.map == nil) then
            bad[#bad + 1] = where .. ": a table shape needs exactly one of list, map"
          end
        end)
      end
      for api, kinds in pairs(FIELDS.documents) do
        for kind, type_name in pairs(kinds) do check_shape(api .. " " .. kind, type_name) end
      end
      for name, t in pairs(FIELDS.types) do
        for field, shape in pairs(t.fields) do check_shape(name .. "." .. field, shape) end
      end
      assert.are.same({}, bad)
    end)

    it("cites a file and a commit or tag for every type", function()
      local uncited = {}
      for name, t in pairs(FIELDS.types) do
        local s = t.source or ""
        if not (s:match("%S+/%S+ %S+%.go @ ") and (s:match("%x" .. ("%x"):rep(39)) or s:match("kubernetes%-1%.%d+%.%d+"))) then
          uncited[#uncited + 1] = name
        end
      end
      assert.are.same({}, uncited)
    end)

    it("holds no type that no document reaches", function()
      local reached = {}
      local function reach(shape)
        each_shape(shape, function(s)
          if type(s) == "string" and FIELDS.types[s] and not reached[s] then
            reached[s] = true
            for _, f in pairs(FIELDS.types[s].fields) do reach(f) end
          end
        end)
      end
      for _, kinds in pairs(FIELDS.documents) do for _, type_name in pairs(kinds) do reach(type_name) end end
      local orphans = {}
      for name in pairs(FIELDS.types) do if not reached[name] then orphans[#orphans + 1] = name end end
      assert.are.same({}, orphans)
    end)

    it("has every top-level kind carry apiVersion and kind (metav1.TypeMeta) and no metadata", function()
      for api, kinds in pairs(FIELDS.documents) do
        for kind, type_name in pairs(kinds) do
          local f = FIELDS.types[type_name].fields
          assert.are.equal("string", f.apiVersion, api .. " " .. kind)
          assert.are.equal("string", f.kind, api .. " " .. kind)
          assert.is_nil(f.metadata, api .. " " .. kind .. " embeds no ObjectMeta")
        end
      end
    end)
  end)

  describe("the checker", function()
    local beta3, beta4
    for _, v in ipairs(VERSIONS) do
      local api = kubeadm.api_version(v)
      if api == "kubeadm.k8s.io/v1beta3" then beta3 = beta3 or v else beta4 = beta4 or v end
    end

    it("catches a misspelled field deep in a document kina rendered", function()
      local _, docs = check_yaml(kubeadm.render(kubeadm.documents(params(beta4, ROLES[1], VARIANTS[1]))))
      local init = deep_copy(find_doc(docs, "InitConfiguration"))
      local arg = init.nodeRegistration.kubeletExtraArgs[1]
      arg.nmae, arg.name = arg.name, nil
      assert.are.same({ "v1beta4 InitConfiguration.nodeRegistration.kubeletExtraArgs[1].nmae: unknown field"
        .. " (kubeadm/v1beta4.Arg has no field nmae)" }, check_document(init))
    end)

    it("catches misspelled fields in YAML text, at every depth, in every kind", function()
      local problems = check_yaml(table.concat({
        "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersoin: v1.29.0\n",
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    unsafeSkipCaVerification: true\n",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  webhook:\n    enable: true\n",
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nipvs:\n  strictArp: true\n",
      }, "---\n"))
      assert.are.same({
        "v1beta3 ClusterConfiguration.kubernetesVersoin: unknown field (kubeadm/v1beta3.ClusterConfiguration has no field kubernetesVersoin)",
        "v1beta4 JoinConfiguration.discovery.bootstrapToken.unsafeSkipCaVerification: unknown field"
          .. " (kubeadm/v1beta4.BootstrapTokenDiscovery has no field unsafeSkipCaVerification)",
        "v1beta1 KubeletConfiguration.authentication.webhook.enable: unknown field"
          .. " (kubelet/v1beta1.KubeletWebhookAuthentication has no field enable)",
        "v1alpha1 KubeProxyConfiguration.ipvs.strictArp: unknown field (kubeproxy/v1alpha1.KubeProxyIPVSConfiguration has no field strictArp)",
      }, problems)
    end)

    it("tells the kubeadm versions apart: fields of one are unknown in the other", function()
      local problems = check_yaml(table.concat({
        "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\ndryRun: true\ntimeouts:\n  discovery: 5m\n",
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  timeout: 5m\n",
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  timeoutForControlPlane: 4m\n",
      }, "---\n"))
      assert.are.same({
        "v1beta3 InitConfiguration.dryRun: unknown field (kubeadm/v1beta3.InitConfiguration has no field dryRun)",
        "v1beta3 InitConfiguration.timeouts: unknown field (kubeadm/v1beta3.InitConfiguration has no field timeouts)",
        "v1beta4 JoinConfiguration.discovery.timeout: unknown field (kubeadm/v1beta4.Discovery has no field timeout)",
        "v1beta4 ClusterConfiguration.apiServer.timeoutForControlPlane: unknown field"
          .. " (kubeadm/v1beta4.APIServer has no field timeoutForControlPlane)",
      }, problems)
    end)

    it("matches names case-sensitively, and knows metadata is no kubeadm field", function()
      -- apimachinery's serializer decodes case-sensitively (pkg/runtime/serializer/json/json.go:
      -- kjson.UnmarshalCaseSensitivePreserveInts), unlike encoding/json: `CriSocket` is dropped;
      -- kind strips metadata because "kubeadm will complain about this otherwise"
      local problems = check_yaml("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n"
        .. "metadata:\n  name: config\nnodeRegistration:\n  CriSocket: unix:///run/containerd/containerd.sock\n")
      assert.are.same({
        "v1beta4 InitConfiguration.metadata: unknown field (kubeadm/v1beta4.InitConfiguration has no field metadata)",
        "v1beta4 InitConfiguration.nodeRegistration.CriSocket: unknown field"
          .. " (kubeadm/v1beta4.NodeRegistrationOptions has no field CriSocket)",
      }, problems)
    end)

    it("catches scalars of the wrong JSON type and durations Go cannot parse", function()
      local problems = check_yaml("apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n"
        .. "localAPIEndpoint:\n  bindPort: \"6443\"\nnodeRegistration:\n  kubeletExtraArgs:\n    fail-swap-on: false\n"
        .. "---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
        .. "featureGates:\n  Foo: \"true\"\nsyncFrequency: 1 minute\nfailSwapOn: no-thanks\n")
      assert.are.same({
        'v1beta3 InitConfiguration.localAPIEndpoint.bindPort: "6443" is not a int',
        'v1beta3 InitConfiguration.nodeRegistration.kubeletExtraArgs["fail-swap-on"]: boolean false is not a string',
        'v1beta1 KubeletConfiguration.failSwapOn: "no-thanks" is not a bool',
        'v1beta1 KubeletConfiguration.featureGates["Foo"]: "true" is not a bool',
        'v1beta1 KubeletConfiguration.syncFrequency: "1 minute" is not a duration',
      }, problems)
      for _, ok in ipairs{ "0", "1s", "1m30s", "1.5h", "-2ms", "300us", "24h0m0s" } do
        assert.is_true(is_go_duration(ok), ok)
      end
      for _, bad in ipairs{ "", "1", "s", "1 s", "1d", "1.s2", "m1" } do
        assert.is_false(is_go_duration(bad), bad)
      end
    end)

    it("refuses a document whose apiVersion and kind have no Go type", function()
      assert.are.same({ 'document: no Go type for apiVersion "kubeadm.k8s.io/v1beta2", kind "InitConfiguration"' },
        check_yaml("apiVersion: kubeadm.k8s.io/v1beta2\nkind: InitConfiguration\n"))
      assert.are.same({ 'document: no Go type for apiVersion "kubelet.config.k8s.io/v1beta1", kind "KubeletConfig"' },
        check_yaml("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfig\n"))
    end)

    it("would catch the metadata kina's documents carry, which render strips", function()
      local docs = kubeadm.documents(params(beta3, ROLES[1], VARIANTS[1]))
      local unstripped = {}
      for _, d in ipairs(docs) do check_document(d, unstripped) end
      assert.is_true(#unstripped > 0)
      for _, p in ipairs(unstripped) do assert.matches("%.metadata: unknown field", p) end
    end)
  end)

  describe("extraArgs: a map in v1beta3, a list of {name, value} in v1beta4", function()
    it("is so in the fixture, as in the Go types", function()
      local t = FIELDS.types
      for _, where in ipairs{ { "ControlPlaneComponent", "extraArgs" }, { "APIServer", "extraArgs" },
        { "LocalEtcd", "extraArgs" }, { "NodeRegistrationOptions", "kubeletExtraArgs" } } do
        assert.are.same({ map = "string" }, t["kubeadm/v1beta3." .. where[1]].fields[where[2]])
        assert.are.same({ list = "kubeadm/v1beta4.Arg" }, t["kubeadm/v1beta4." .. where[1]].fields[where[2]])
      end
      assert.are.same({ name = "string", value = "string" }, t["kubeadm/v1beta4.Arg"].fields)
    end)

    it("is rendered in the form of each version, and the other form fails", function()
      local seen = {}
      for _, version in ipairs(VERSIONS) do
        local api = kubeadm.api_version(version)
        local beta4 = api == "kubeadm.k8s.io/v1beta4"
        seen[api] = true
        local variant = VARIANTS[#VARIANTS] -- feature gates: the scheduler gets extraArgs too
        local _, docs = check_yaml(kubeadm.render(kubeadm.documents(params(version, ROLES[2], variant))))
        local cluster, init, join = find_doc(docs, "ClusterConfiguration"), find_doc(docs, "InitConfiguration"),
          find_doc(docs, "JoinConfiguration")
        local spots = {
          { cluster, { "apiServer", "extraArgs" } }, { cluster, { "controllerManager", "extraArgs" } },
          { cluster, { "scheduler", "extraArgs" } }, { init, { "nodeRegistration", "kubeletExtraArgs" } },
          { join, { "nodeRegistration", "kubeletExtraArgs" } },
        }
        for _, spot in ipairs(spots) do
          local doc, keys = spot[1], spot[2]
          local where = version .. " " .. doc.kind .. "." .. table.concat(keys, ".")
          local args = doc[keys[1]][keys[2]]
          assert.are.equal(beta4 and "list" or "map", shape_of(args), where)
          -- the same arguments in the other version's form
          local other = {}
          if beta4 then
            for _, a in ipairs(args) do other[a.name] = a.value end
          else
            for _, k in ipairs(sorted_keys(args)) do other[#other + 1] = { name = k, value = args[k] } end
          end
          local wrong = deep_copy(doc)
          wrong[keys[1]][keys[2]] = other
          local problems = check_document(wrong)
          assert.are.equal(1, #problems, where)
          assert.matches((beta4 and "a map where a list is wanted" or "a list where a mapping is wanted"), problems[1], 1, true)
        end
      end
      assert.is_true(seen["kubeadm.k8s.io/v1beta3"] and seen["kubeadm.k8s.io/v1beta4"],
        "the versions cover both kubeadm APIs")
    end)
  end)

  describe("what kina renders", function()
    it("covers both kubeadm APIs with its versions", function()
      local apis = {}
      for _, v in ipairs(VERSIONS) do apis[kubeadm.api_version(v)] = true end
      assert.is_true(apis["kubeadm.k8s.io/v1beta3"], "a version giving v1beta3")
      assert.is_true(apis["kubeadm.k8s.io/v1beta4"], "a version giving v1beta4")
    end)

    for _, version in ipairs(VERSIONS) do
      for _, role in ipairs(ROLES) do
        it(("has only known fields: %s, %s, every variant"):format(version, role.name), function()
          local api = kubeadm.api_version(version)
          for _, variant in ipairs(VARIANTS) do
            local p = params(version, role, variant)
            local problems, docs = check_yaml(kubeadm.render(kubeadm.documents(p)))
            assert.are.same({}, problems, version .. " " .. role.name .. " " .. variant.name)
            -- the documents are the ones the checker knows, in the API the version calls for
            local kinds = {}
            for _, d in ipairs(docs) do
              kinds[#kinds + 1] = d.kind
              if KUBEADM_KINDS[d.kind] then assert.are.equal(api, d.apiVersion, d.kind) end
            end
            assert.is_truthy(find_doc(docs, "ClusterConfiguration"))
            assert.is_truthy(find_doc(docs, "KubeletConfiguration"))
            assert.are.equal(variant.kube_proxy_mode ~= "none", find_doc(docs, "KubeProxyConfiguration") ~= nil,
              variant.name .. ": " .. table.concat(kinds, ","))
          end
        end)

        it(("has only known fields after kind's documented patches: %s, %s"):format(version, role.name), function()
          for _, variant in ipairs{ VARIANTS[1], VARIANTS[#VARIANTS] } do
            local text = patched_config(params(version, role, variant), CLUSTER_PATCHES, NODE_PATCHES, role.node)
            local problems, docs = check_yaml(text)
            assert.are.same({}, problems, version .. " " .. role.name .. " " .. variant.name)
            -- the patches landed (so the walk saw the fields they add)
            local cluster = find_doc(docs, "ClusterConfiguration")
            assert.are.equal("/tmp/lib/etcd", cluster.etcd["local"].dataDir)
            assert.are.equal("100Mi", find_doc(docs, "KubeletConfiguration").evictionHard["memory.available"])
          end
        end)
      end
    end

    it("keeps patches naming an apiVersion to that version's documents, and the result valid", function()
      for _, version in ipairs(VERSIONS) do
        local api = kubeadm.api_version(version)
        local patch = ("apiVersion: %s\nkind: ClusterConfiguration\napiServer:\n  certSANs: [kina.example]\n"
          .. "  extraArgs:\n    audit-log-maxage: \"30\"\n"):format(api)
        local problems, docs = check_yaml(patched_config(params(version, ROLES[1], VARIANTS[1]), { patch }, {}, "nodes[1]"))
        assert.are.same({}, problems, version)
        local sans = find_doc(docs, "ClusterConfiguration").apiServer.certSANs
        assert.are.equal("kina.example", sans[#sans], version)
      end
    end)

    it("has only known fields after RFC 6902 patches in each version's extraArgs form", function()
      for _, version in ipairs(VERSIONS) do
        local api = kubeadm.api_version(version)
        local group, v = api:match("^(.*)/(.*)$")
        -- kind docs' JSON 6902 example adds a certSAN; an extra argument goes in as the
        -- version's form has it (a map key in v1beta3, a {name, value} item in v1beta4)
        local arg = api:find("v1beta4", 1, true)
          and "- op: add\n  path: /apiServer/extraArgs/-\n  value: {name: audit-log-maxage, value: \"30\"}\n"
          or "- op: add\n  path: /apiServer/extraArgs/audit-log-maxage\n  value: \"30\"\n"
        local entry = { group = group, version = v, kind = "ClusterConfiguration",
          patch = "- op: add\n  path: /apiServer/certSANs/-\n  value: my-hostname\n" .. arg }
        local docs = kubeadm.documents(params(version, ROLES[1], VARIANTS[1]))
        kubeadm.apply_json6902(docs, { entry }, "kubeadmConfigPatchesJSON6902")
        local problems, parsed = check_yaml(kubeadm.render(docs))
        assert.are.same({}, problems, version)
        local sans = find_doc(parsed, "ClusterConfiguration").apiServer.certSANs
        assert.are.equal("my-hostname", sans[#sans], version)
      end
    end)
  end)
end)
