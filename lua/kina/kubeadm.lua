--- kina.kubeadm — the kubeadm configuration of one node, as kind writes it
-- (kind pkg/cluster/internal/kubeadm/config.go, kind-and-peers §3.3), fitted to Apple's runtime:
--
-- * controlPlaneEndpoint is the bootstrap control plane's name, as kind's (`<cluster>-control-
--   plane:6443`): kubeadm writes it into every kubeconfig, the kube-proxy and cluster-info
--   ConfigMaps and the certificate, so nothing in the cluster names an address that changes
--   at the next start. Apple's runtime does not resolve container names (apple-container §5.5);
--   kina.hosts keeps them in each node's /etc/hosts instead.
-- * certSANs add 127.0.0.1 and localhost (the API server is published on the host's loopback)
--   and whatever the caller adds (the config's apiServerAddress); kubeadm adds the node's name,
--   its advertise address and the endpoint's host itself.
-- * The kubelet runs with the systemd cgroup driver and failSwapOn: false, as Apple's own
--   `container k8s` plugin does (§5.6).
-- * nodeRegistration.name is the node's (container's) name, so node names always equal
--   container names (kind leaves it to kubeadm, which takes the hostname).
-- * preflight is skipped in init and join, as kind does (config.go InitSkipPhases and
--   JoinSkipPhases: kind pre-pulls the images; on Apple's runtime the VM also fails checks such
--   as NumCPU and Mem for the small nodes kina's config accepts).
--
-- Patching follows kind's pkg/internal/patch: per patch set (the cluster's, then the node's),
-- every merge patch, then every RFC 6902 patch, on each document of the patch's kind (and
-- apiVersion / group+version, when the patch names one). Unlike kind, a patch that matches no
-- document is an error naming it and why: kind skips it silently.
--
-- The documents are data as kina.jsonpatch describes them (arrays marked with
-- kina.json.array_mt, null = lyaml.null), read from and written to YAML through kina.yaml,
-- because lyaml.load cannot tell `[]` from `{}`.

local json = require "kina.json"
local jsonpatch = require "kina.jsonpatch"
local lyaml = require "lyaml"
local yaml = require "kina.yaml"

local M = {}

M.TOKEN = "abcdef.0123456789abcdef"
M.CRI_SOCKET = "unix:///run/containerd/containerd.sock"
M.CONFIG_PATH = "/kind/kubeadm.conf"

M.KINDS = { "ClusterConfiguration", "InitConfiguration", "JoinConfiguration", "KubeletConfiguration",
  "KubeProxyConfiguration" }

local function parse_version(v)
  local major, minor, patch = tostring(v):match("^v?(%d+)%.(%d+)%.?(%d*)")
  if not major then return nil end
  return tonumber(major), tonumber(minor), tonumber(patch) or 0
end
M.parse_version = parse_version

--- The kubeadm API for a Kubernetes version, as kind chooses it (config.go Config): v1beta4
-- from v1.36, v1beta3 from v1.23; older releases are refused (kind would use v1beta2).
function M.api_version(k8s_version)
  local major, minor = parse_version(k8s_version)
  if not major then error(("cannot read a Kubernetes version from %q"):format(tostring(k8s_version)), 0) end
  if major == 1 and minor < 23 then
    error(("Kubernetes %s is too old for kina: node images from v1.23 on are supported"):format(k8s_version), 0)
  end
  if major > 1 or minor >= 36 then return "kubeadm.k8s.io/v1beta4" end
  return "kubeadm.k8s.io/v1beta3"
end

---------------------------------------------------------------------------------------------
-- YAML in and out (kina.yaml)

--- The documents of a YAML stream as data (see the header); empty documents are left out.
-- Strict: a key set twice and tags beyond YAML's core schema are errors (config.lua refuses
-- them in the patches too). Raises "line L, column C: <problem>" on bad YAML.
function M.load_yaml(text)
  local docs = {}
  for _, doc in ipairs(yaml.load(text, { seq_mt = json.array_mt, strict = true })) do
    if doc ~= yaml.null then docs[#docs + 1] = doc end
  end
  return docs
end

--- One document as YAML text, keys sorted (as kind's output, JSON turned into YAML, is).
function M.dump_yaml(doc)
  return yaml.dump(doc, { is_array = jsonpatch.is_array })
end

---------------------------------------------------------------------------------------------
-- The documents

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- extraArgs: a map in v1beta3, a list of {name, value} in v1beta4
local function args_form(beta4, map)
  if beta4 then
    local list = json.array()
    for _, k in ipairs(sorted_keys(map)) do list[#list + 1] = { name = k, value = map[k] } end
    return list
  end
  return map
end

local function joined(map, sep)
  local parts = {}
  for _, k in ipairs(sorted_keys(map)) do parts[#parts + 1] = k .. "=" .. tostring(map[k]) end
  return table.concat(parts, sep or ",")
end

--- The documents for one node, unpatched.
-- p = { cluster, node, role, bootstrap, k8s_version, node_ip, endpoint (host), cert_sans = {...},
--       pod_subnet, service_subnet, kube_proxy_mode, feature_gates = {}, runtime_config = {},
--       node_labels = {}, provider = "apple", certificate_key (control planes of a cluster with
--       several: kubeadm's key for the kubeadm-certs Secret, kina.ha) }
function M.documents(p)
  local api = M.api_version(p.k8s_version)
  local beta4 = api:find("v1beta4", 1, true) ~= nil
  local endpoint = assert(p.endpoint, "kubeadm.documents: endpoint (the API server's host) is required") .. ":6443"
  local gates = joined(p.feature_gates)
  local function with_gates(map)
    if gates ~= "" then map["feature-gates"] = gates end
    return map
  end
  local function meta() return { name = "config" } end

  local sans = json.array{ "localhost", "127.0.0.1" }
  local seen = { localhost = true, ["127.0.0.1"] = true }
  for _, s in ipairs(p.cert_sans or {}) do
    if not seen[s] then
      sans[#sans + 1] = s
      seen[s] = true
    end
  end

  local cluster = {
    apiVersion = api, kind = "ClusterConfiguration", metadata = meta(),
    kubernetesVersion = p.k8s_version, clusterName = p.cluster, controlPlaneEndpoint = endpoint,
    apiServer = { certSANs = sans, extraArgs = args_form(beta4, with_gates{ ["runtime-config"] = joined(p.runtime_config) }) },
    controllerManager = { extraArgs = args_form(beta4, with_gates{ ["enable-hostpath-provisioner"] = "true" }) },
    networking = { podSubnet = p.pod_subnet, serviceSubnet = p.service_subnet },
  }
  if gates ~= "" then cluster.scheduler = { extraArgs = args_form(beta4, { ["feature-gates"] = gates }) } end

  local function registration()
    local kubelet_args = {
      ["node-ip"] = p.node_ip,
      ["provider-id"] = ("kind://%s/%s/%s"):format(p.provider or "apple", p.cluster, p.node),
    }
    local labels = joined(p.node_labels)
    if labels ~= "" then kubelet_args["node-labels"] = labels end
    return { name = p.node, criSocket = M.CRI_SOCKET, kubeletExtraArgs = args_form(beta4, kubelet_args) }
  end

  -- kind config.go Derive: preflight skipped in both; no kube-proxy addon with kubeProxyMode none
  local init_skip = json.array{ "preflight" }
  if p.kube_proxy_mode == "none" then init_skip[#init_skip + 1] = "addon/kube-proxy" end

  local init = {
    apiVersion = api, kind = "InitConfiguration", metadata = meta(),
    bootstrapTokens = json.array{ { token = M.TOKEN } },
    localAPIEndpoint = { advertiseAddress = p.node_ip, bindPort = 6443 },
    nodeRegistration = registration(),
    skipPhases = init_skip,
  }
  -- with --upload-certs, init encrypts the CAs into the kubeadm-certs Secret with this key
  -- (v1beta3/v1beta4 InitConfiguration.certificateKey; copycerts.UploadCerts)
  if p.certificate_key and p.bootstrap then init.certificateKey = p.certificate_key end
  local join = {
    apiVersion = api, kind = "JoinConfiguration", metadata = meta(),
    nodeRegistration = registration(),
    discovery = { bootstrapToken = { apiServerEndpoint = endpoint, token = M.TOKEN, unsafeSkipCAVerification = true } },
    skipPhases = json.array{ "preflight" },
  }
  if p.role == "control-plane" and not p.bootstrap then
    join.controlPlane = { localAPIEndpoint = { advertiseAddress = p.node_ip, bindPort = 6443 } }
    -- and join downloads them with it (JoinControlPlane.certificateKey; copycerts.DownloadCerts)
    if p.certificate_key then join.controlPlane.certificateKey = p.certificate_key end
  end
  local kubelet = {
    apiVersion = "kubelet.config.k8s.io/v1beta1", kind = "KubeletConfiguration", metadata = meta(),
    cgroupDriver = "systemd", cgroupRoot = "/kubelet", failSwapOn = false,
    imageGCHighThresholdPercent = 100,
    evictionHard = { ["nodefs.available"] = "0%", ["nodefs.inodesFree"] = "0%", ["imagefs.available"] = "0%" },
  }
  if next(p.feature_gates or {}) then kubelet.featureGates = jsonpatch.copy(p.feature_gates) end
  local docs = { cluster, init, join, kubelet }
  if p.kube_proxy_mode ~= "none" then
    local proxy = {
      apiVersion = "kubeproxy.config.k8s.io/v1alpha1", kind = "KubeProxyConfiguration", metadata = meta(),
      mode = p.kube_proxy_mode or "iptables",
      iptables = { minSyncPeriod = "1s" },
      conntrack = { maxPerCore = 0 },
    }
    -- kind's template sets tcpBeLiberal for nftables (not rootless), kubernetes issue 117924
    if p.kube_proxy_mode == "nftables" then proxy.conntrack.tcpBeLiberal = true end
    if next(p.feature_gates or {}) then proxy.featureGates = jsonpatch.copy(p.feature_gates) end
    docs[#docs + 1] = proxy
  end
  return docs
end

---------------------------------------------------------------------------------------------
-- Merge patches (kind pkg/internal/patch/mergepatch.go, kubeadm_merge.go, resource.go)

local ARG_KEYS = { extraArgs = true, kubeletExtraArgs = true }

local function arg_value(v)
  if type(v) == "number" or type(v) == "boolean" then return tostring(v) end
  return v
end

-- The entries of an extraArgs value in either form, as {name, value} in order (a map's in key
-- order). value = nil for an entry that deletes (a null value, or no value in list form).
local function arg_entries(v, key)
  local out = {}
  if jsonpatch.is_array(v) then
    for i, item in ipairs(v) do
      if not jsonpatch.is_object(item) or type(item.name) ~= "string" then
        error(("%s[%d] must be a {name, value} mapping with a string name"):format(key, i), 0)
      end
      local value = item.value
      if value == lyaml.null then value = nil end
      out[#out + 1] = { name = item.name, value = value }
    end
  elseif jsonpatch.is_object(v) then
    for _, k in ipairs(sorted_keys(v)) do
      local value = v[k]
      if value == lyaml.null then value = nil end
      out[#out + 1] = { name = k, value = value }
    end
  elseif v ~= nil then
    error(("%s must be a list of {name, value} or a mapping of flag names to values"):format(key), 0)
  end
  return out
end

-- kind's mergeExtraArgs: the patch's entries set, add or (with a null value) remove kina's by
-- name, whichever form each side is in; the result in the target's API form. kind converts a
-- map-form patch onto v1beta4 only when the patch has no apiVersion and leaves a list-form
-- patch to replace a v1beta3 map (which kubeadm then cannot decode); kina converts both.
local function merge_args(target, patch, beta4, key)
  if patch == lyaml.null then return nil end
  local list = {}
  for _, e in ipairs(arg_entries(target, key)) do list[#list + 1] = { name = e.name, value = arg_value(e.value) } end
  for _, e in ipairs(arg_entries(patch, key)) do
    local found
    for i, t in ipairs(list) do if t.name == e.name then found = i break end end
    if e.value == nil then
      if found then table.remove(list, found) end
    elseif found then
      list[found].value = arg_value(e.value)
    else
      list[#list + 1] = { name = e.name, value = arg_value(e.value) }
    end
  end
  if beta4 then return json.array(list) end
  local map = {}
  for _, e in ipairs(list) do map[e.name] = e.value end
  return map
end

-- kind's mergeCertSANs: the patch's names are added to kina's, not replacing them.
local function merge_sans(target, patch)
  if patch == lyaml.null then return nil end
  if not jsonpatch.is_array(patch) then error("certSANs must be a list of names and addresses", 0) end
  local out, seen = json.array(), {}
  for _, list in ipairs{ jsonpatch.is_array(target) and target or {}, patch } do
    for _, s in ipairs(list) do
      if not seen[s] then
        out[#out + 1] = s
        seen[s] = true
      end
    end
  end
  return out
end

-- kind's walkAndMerge: through the patch's mappings, merge the special keys into `target` and
-- strip them from `patch` (both are copies this module owns).
local function merge_special(target, patch, beta4)
  local keys = sorted_keys(patch)
  for _, k in ipairs(keys) do
    local pv = patch[k]
    if ARG_KEYS[k] then
      target[k] = merge_args(target[k], pv, beta4, k)
      patch[k] = nil
    elseif k == "certSANs" then
      target[k] = merge_sans(target[k], pv)
      patch[k] = nil
    elseif jsonpatch.is_object(pv) then
      if target[k] == nil then target[k] = {} end
      if jsonpatch.is_object(target[k]) then merge_special(target[k], pv, beta4) end
    end
  end
end

--- One merge patch (a table) on one document: kind's kubeadm-aware merge, then RFC 7386.
function M.merge_patch(doc, patch)
  local beta4 = type(doc.apiVersion) == "string" and doc.apiVersion:find("/v1beta4$") ~= nil
  local target, rest = jsonpatch.copy(doc), jsonpatch.copy(patch)
  merge_special(target, rest, beta4)
  return jsonpatch.merge(target, rest)
end

---------------------------------------------------------------------------------------------
-- Matching and the error for a patch that matches nothing

local function group_of(api) return (tostring(api):match("^(.*)/[^/]*$")) end

-- kind matchinfo.go: the kind must match; the apiVersion too, when the patch names one.
local function matches(doc, kind, api)
  return doc.kind == kind and (api == nil or api == "" or doc.apiVersion == api)
end

local function no_match_reason(docs, kind, api, ctx, what)
  local same_kind
  for _, d in ipairs(docs) do if d.kind == kind then same_kind = d end end
  if not same_kind then
    if kind == "KubeProxyConfiguration" and ctx.kube_proxy_mode == "none" then
      return "kind KubeProxyConfiguration matches no document: networking.kubeProxyMode is none, so kina writes no KubeProxyConfiguration (and kube-proxy is not installed)"
    end
    local kinds = {}
    for _, d in ipairs(docs) do kinds[#kinds + 1] = d.kind end
    return ("kind %s matches no document; kina writes %s"):format(tostring(kind), table.concat(kinds, ", "))
  end
  local have = same_kind.apiVersion
  if group_of(api) == "kubeadm.k8s.io" and group_of(have) == "kubeadm.k8s.io" then
    return ("%s %s matches no document: this node image's Kubernetes %s uses %s (kind and kina choose v1beta4 from v1.36, v1beta3 below). Write apiVersion %s, or leave it out to patch the %s of any version")
      :format(what, api, tostring(ctx.k8s_version), have, have, kind)
  end
  return ("%s %s matches no document: kina's %s is %s"):format(what, api, kind, have)
end

local function check_string(v, label, field)
  if v ~= nil and type(v) ~= "string" then error(("%s: %s must be a string"):format(label, field), 0) end
end

--- Apply merge patches (YAML strings, each one document or several separated by `---`) to the
-- documents, in order. Raises naming the patch (`label[i]`, and the document when the string
-- holds several) on bad YAML, a missing kind, or a patch that matches no document.
-- ctx = { k8s_version, kube_proxy_mode } for the error messages.
function M.apply_patches(docs, patches, label, ctx)
  label, ctx = label or "kubeadmConfigPatches", ctx or {}
  for i, text in ipairs(patches or {}) do
    local name = ("%s[%d]"):format(label, i)
    if type(text) ~= "string" then error(("%s: must be a string holding YAML"):format(name), 0) end
    local ok, parts = pcall(M.load_yaml, text)
    if not ok then error(("%s: not valid YAML: %s"):format(name, tostring(parts)), 0) end
    if #parts == 0 then error(("%s: holds no YAML document"):format(name), 0) end
    for n, patch in ipairs(parts) do
      local where = #parts > 1 and ("%s (document %d)"):format(name, n) or name
      if not jsonpatch.is_object(patch) then error(("%s: must be a YAML mapping (a merge patch)"):format(where), 0) end
      if type(patch.kind) ~= "string" then
        error(("%s: a patch needs `kind` to say which document it patches (%s)"):format(where, table.concat(M.KINDS, ", ")), 0)
      end
      check_string(patch.apiVersion, where, "apiVersion")
      local hit = false
      for d, doc in ipairs(docs) do
        if matches(doc, patch.kind, patch.apiVersion) then
          local pok, merged = pcall(M.merge_patch, doc, patch)
          if not pok then error(("%s: %s"):format(where, tostring(merged)), 0) end
          docs[d] = merged
          hit = true
        end
      end
      if not hit then error(("%s: %s"):format(where, no_match_reason(docs, patch.kind, patch.apiVersion, ctx, "apiVersion")), 0) end
    end
  end
  return docs
end

--- Apply RFC 6902 patches, kind's PatchJSON6902 entries { group, version, kind, patch = YAML or
-- JSON text of the operation list }, to the documents of that group/version and kind (kind
-- matchinfo.go: apiVersion = group/version, or the version alone without a group).
function M.apply_json6902(docs, patches, label, ctx)
  label, ctx = label or "kubeadmConfigPatchesJSON6902", ctx or {}
  for i, entry in ipairs(patches or {}) do
    local name = ("%s[%d]"):format(label, i)
    if type(entry) ~= "table" then error(("%s: must be a {group, version, kind, patch} mapping"):format(name), 0) end
    for _, f in ipairs{ "group", "version", "kind", "patch" } do check_string(entry[f], name, f) end
    if not entry.kind then error(("%s: needs `kind` to say which document it patches (%s)"):format(name, table.concat(M.KINDS, ", ")), 0) end
    if not entry.patch then error(("%s: needs `patch`, the list of RFC 6902 operations"):format(name), 0) end
    local ok, parts = pcall(M.load_yaml, entry.patch)
    if not ok then error(("%s.patch: not valid YAML or JSON: %s"):format(name, tostring(parts)), 0) end
    if #parts ~= 1 or not jsonpatch.is_array(parts[1]) and not (jsonpatch.is_object(parts[1]) and next(parts[1]) == nil) then
      error(("%s.patch: must be one list of operations like `- op: add` / `path: /apiServer/certSANs/-` / `value: ...`"):format(name), 0)
    end
    local group, version = entry.group or "", entry.version or ""
    local api = group == "" and version or (group .. "/" .. version)
    local hit = false
    for d, doc in ipairs(docs) do
      if matches(doc, entry.kind, api) then
        docs[d] = jsonpatch.apply(doc, parts[1], name .. ".patch")
        hit = true
      end
    end
    if not hit then error(("%s: %s"):format(name, no_match_reason(docs, entry.kind, api, ctx, "group/version")), 0) end
  end
  return docs
end

--- The YAML text of the documents, `---` between them; `metadata: {name: config}` removed, as
-- kind does (config.go removeMetadata).
function M.render(docs)
  local parts = {}
  for i, doc in ipairs(docs) do
    local d = {}
    for k, v in pairs(doc) do d[k] = v end
    if jsonpatch.is_object(d.metadata) then
      local m = {}
      for k, v in pairs(d.metadata) do if not (k == "name" and v == "config") then m[k] = v end end
      d.metadata = next(m) and m or nil
    end
    parts[i] = M.dump_yaml(d)
  end
  return table.concat(parts, "---\n")
end

--- documents, then each patch set in order (kind: the cluster's, then the node's; within a set
-- the merge patches, then the RFC 6902 patches), then render.
-- patch_sets = { { prefix = "" | "nodes[2].", merge = { yaml, ... }, json6902 = { entry, ... } }, ... }
function M.config(p, patch_sets)
  local docs = M.documents(p)
  local ctx = { k8s_version = p.k8s_version, kube_proxy_mode = p.kube_proxy_mode }
  for _, set in ipairs(patch_sets or {}) do
    local prefix = set.prefix or ""
    M.apply_patches(docs, set.merge, prefix .. "kubeadmConfigPatches", ctx)
    M.apply_json6902(docs, set.json6902, prefix .. "kubeadmConfigPatchesJSON6902", ctx)
  end
  return M.render(docs)
end

return M
