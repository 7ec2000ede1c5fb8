--- kina.kubeadm — the kubeadm configuration of one node, as kind writes it
-- (kind-and-peers §3.3), fitted to Apple's runtime:
--
-- * controlPlaneEndpoint is the bootstrap control plane's IP, not its name: Apple's runtime does
--   not resolve container names without a configured DNS domain (apple-container §5.5).
-- * certSANs add 127.0.0.1 and localhost (the API server is published on the host's loopback),
--   every node IP, and the DNS name when `container system dns` has a domain.
-- * The kubelet runs with the systemd cgroup driver and failSwapOn: false, as Apple's own
--   `container k8s` plugin does (§5.6).
--
-- Documents are Lua tables, patched with the user's kubeadmConfigPatches (RFC 7386 merge patches
-- matched on kind, and apiVersion when the patch has one), then dumped with lyaml.

local lyaml = require "lyaml"

local M = {}

M.TOKEN = "abcdef.0123456789abcdef"
M.CRI_SOCKET = "unix:///run/containerd/containerd.sock"
M.CONFIG_PATH = "/kind/kubeadm.conf"

--- Preflight checks a kind node on Apple's runtime cannot pass, with the reason for each (the
-- list Apple's plugin passes, apple-container §5.6):
M.IGNORED_PREFLIGHT = {
  -- the VM has no swap device to speak of, and the kubelet runs with failSwapOn: false
  { name = "Swap", why = "the kubelet is configured with failSwapOn: false" },
  -- the Kata kernel has no /proc/config.gz nor modules directory for kubeadm to verify
  { name = "SystemVerification", why = "the kernel config and modules are not readable in the node VM" },
  -- br_netfilter is built into the kernel; the sysctl only appears once a bridge exists
  { name = "FileContent--proc-sys-net-bridge-bridge-nf-call-iptables",
    why = "bridge netfilter is built in and its sysctl appears only once the CNI creates a bridge" },
}

function M.ignore_preflight_flag()
  local names = {}
  for i, p in ipairs(M.IGNORED_PREFLIGHT) do names[i] = p.name end
  return "--ignore-preflight-errors=" .. table.concat(names, ",")
end

local function parse_version(v)
  local major, minor, patch = tostring(v):match("^v?(%d+)%.(%d+)%.?(%d*)")
  if not major then return nil end
  return tonumber(major), tonumber(minor), tonumber(patch) or 0
end
M.parse_version = parse_version

--- The kubeadm API for a Kubernetes version: v1beta4 from 1.31 (where kubeadm introduced it),
-- v1beta3 from 1.23; older releases are refused.
function M.api_version(k8s_version)
  local major, minor = parse_version(k8s_version)
  if not major then error(("cannot read a Kubernetes version from %q"):format(tostring(k8s_version)), 0) end
  if major == 1 and minor < 23 then
    error(("Kubernetes %s is too old for kina: node images from v1.23 on are supported"):format(k8s_version), 0)
  end
  if major > 1 or minor >= 31 then return "kubeadm.k8s.io/v1beta4" end
  return "kubeadm.k8s.io/v1beta3"
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- extraArgs: a map in v1beta3, a list of {name, value} in v1beta4
local function args_form(beta4, map)
  if beta4 then
    local list = {}
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

--- The documents for one node.
-- p = { cluster, node, role, k8s_version, node_ip, endpoint_ip, cert_sans = {...}, pod_subnet,
--       service_subnet, kube_proxy_mode, feature_gates = {}, runtime_config = {}, node_labels = {},
--       provider = "apple" }
function M.documents(p)
  local api = M.api_version(p.k8s_version)
  local beta4 = api:find("v1beta4", 1, true) ~= nil
  local endpoint = p.endpoint_ip .. ":6443"
  local gates = joined(p.feature_gates)
  local function with_gates(map)
    if gates ~= "" then map["feature-gates"] = gates end
    return map
  end
  local meta = { name = "config" }

  local sans = { "localhost", "127.0.0.1" }
  local seen = { localhost = true, ["127.0.0.1"] = true }
  for _, s in ipairs(p.cert_sans or {}) do
    if not seen[s] then
      sans[#sans + 1] = s
      seen[s] = true
    end
  end

  local cluster = {
    apiVersion = api, kind = "ClusterConfiguration", metadata = meta,
    kubernetesVersion = p.k8s_version, clusterName = p.cluster, controlPlaneEndpoint = endpoint,
    apiServer = { certSANs = sans, extraArgs = args_form(beta4, with_gates{ ["runtime-config"] = joined(p.runtime_config) }) },
    controllerManager = { extraArgs = args_form(beta4, with_gates{ ["enable-hostpath-provisioner"] = "true" }) },
    networking = { podSubnet = p.pod_subnet, serviceSubnet = p.service_subnet },
  }
  if gates ~= "" then cluster.scheduler = { extraArgs = args_form(beta4, { ["feature-gates"] = gates }) } end

  local kubelet_args = {
    ["node-ip"] = p.node_ip,
    ["provider-id"] = ("kind://%s/%s/%s"):format(p.provider or "apple", p.cluster, p.node),
  }
  local labels = joined(p.node_labels)
  if labels ~= "" then kubelet_args["node-labels"] = labels end
  local registration = { criSocket = M.CRI_SOCKET, kubeletExtraArgs = args_form(beta4, kubelet_args) }

  local init = {
    apiVersion = api, kind = "InitConfiguration", metadata = meta,
    bootstrapTokens = { { token = M.TOKEN } },
    localAPIEndpoint = { advertiseAddress = p.node_ip, bindPort = 6443 },
    nodeRegistration = registration,
  }
  local join = {
    apiVersion = api, kind = "JoinConfiguration", metadata = meta,
    nodeRegistration = registration,
    discovery = { bootstrapToken = { apiServerEndpoint = endpoint, token = M.TOKEN, unsafeSkipCAVerification = true } },
  }
  if p.role == "control-plane" and not p.bootstrap then
    join.controlPlane = { localAPIEndpoint = { advertiseAddress = p.node_ip, bindPort = 6443 } }
  end
  local kubelet = {
    apiVersion = "kubelet.config.k8s.io/v1beta1", kind = "KubeletConfiguration", metadata = meta,
    cgroupDriver = "systemd", cgroupRoot = "/kubelet", failSwapOn = false,
    imageGCHighThresholdPercent = 100,
    evictionHard = { ["nodefs.available"] = "0%", ["nodefs.inodesFree"] = "0%", ["imagefs.available"] = "0%" },
  }
  if next(p.feature_gates or {}) then kubelet.featureGates = p.feature_gates end
  local docs = { cluster, init, join, kubelet }
  if p.kube_proxy_mode ~= "none" then
    local proxy = {
      apiVersion = "kubeproxy.config.k8s.io/v1alpha1", kind = "KubeProxyConfiguration", metadata = meta,
      mode = p.kube_proxy_mode or "iptables",
      iptables = { minSyncPeriod = "1s" },
      conntrack = { maxPerCore = 0 },
    }
    if next(p.feature_gates or {}) then proxy.featureGates = p.feature_gates end
    docs[#docs + 1] = proxy
  end
  return docs
end

---------------------------------------------------------------------------------------------
-- Patches

local function is_map(v) return type(v) == "table" and (next(v) == nil or v[1] == nil) end
local function is_list(v) return type(v) == "table" and v[1] ~= nil end

-- extraArgs / kubeletExtraArgs given as a map in a patch onto a v1beta4 list: set by name
local ARG_LISTS = { extraArgs = true, kubeletExtraArgs = true }

local function merge(target, patch, key)
  if patch == lyaml.null then return nil end
  if key == "certSANs" and is_list(target) and is_list(patch) then
    local out, seen = {}, {}
    for _, list in ipairs{ target, patch } do
      for _, s in ipairs(list) do
        if not seen[s] then
          out[#out + 1] = s
          seen[s] = true
        end
      end
    end
    return out
  end
  if not is_map(patch) then return patch end
  if ARG_LISTS[key] and is_list(target) then
    local out = {}
    for _, a in ipairs(target) do out[#out + 1] = { name = a.name, value = a.value } end
    for _, k in ipairs(sorted_keys(patch)) do
      local v, found = patch[k], false
      for i, a in ipairs(out) do
        if a.name == k then
          found = true
          if v == lyaml.null then table.remove(out, i) else a.value = tostring(v) end
          break
        end
      end
      if not found and v ~= lyaml.null then out[#out + 1] = { name = k, value = tostring(v) } end
    end
    return out
  end
  local out = {}
  if is_map(target) then for k, v in pairs(target) do out[k] = v end end
  for k, v in pairs(patch) do out[k] = merge(out[k], v, k) end
  return out
end

--- Apply merge patches (YAML strings) to the documents. A patch applies to every document of
-- its `kind` (and `apiVersion`, when the patch names one). Raises naming the patch on bad YAML.
function M.apply_patches(docs, patches, label)
  for i, text in ipairs(patches or {}) do
    local ok, patch = pcall(lyaml.load, text)
    if not ok or type(patch) ~= "table" then
      error(("%s[%d]: not a YAML mapping: %s"):format(label or "kubeadmConfigPatches", i, tostring(patch)), 0)
    end
    if not patch.kind then error(("%s[%d]: a patch needs `kind` to say which document it patches"):format(label or "kubeadmConfigPatches", i), 0) end
    for d, doc in ipairs(docs) do
      if doc.kind == patch.kind and (patch.apiVersion == nil or patch.apiVersion == doc.apiVersion) then
        local p = {}
        for k, v in pairs(patch) do if k ~= "kind" and k ~= "apiVersion" then p[k] = v end end
        docs[d] = merge(doc, p)
      end
    end
  end
  return docs
end

--- The YAML text of the documents (metadata: name: config removed, as kind does).
function M.render(docs)
  local parts = {}
  for i, doc in ipairs(docs) do
    local d = {}
    for k, v in pairs(doc) do if k ~= "metadata" then d[k] = v end end
    local text = lyaml.dump({ d }):gsub("^%-%-%-%s*\n", ""):gsub("\n%.%.%.%s*\n?$", "\n")
    parts[i] = text
  end
  return table.concat(parts, "---\n")
end

--- documents + patches (cluster-level, then node-level) + render.
function M.config(p, cluster_patches, node_patches, node_label)
  local docs = M.documents(p)
  M.apply_patches(docs, cluster_patches, "kubeadmConfigPatches")
  M.apply_patches(docs, node_patches, (node_label or "node") .. ".kubeadmConfigPatches")
  return M.render(docs)
end

return M
