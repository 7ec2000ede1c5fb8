--- kina.defaults — the values `kina create cluster` uses when the config says nothing.
--
-- One place for kina's documented defaults; kina.config fills every model from here. The
-- module is read-only (assigning to it raises) so that one embedder cannot change another's
-- defaults; use `defaults.copy()` for a table you may edit.
--
-- Facts behind the choices: ../shared/reference/apple-container.md (cited as "apple §n") and
-- kind-and-peers.md (cited as "kind §n").

local values = {
  --- Cluster name when neither the config nor --name / KINA_CLUSTER_NAME gives one.
  cluster_name = "kina",

  --- kind's config format, the only one kina reads (kind §8).
  api_version = "kind.x-k8s.io/v1alpha4",
  kind = "Cluster",

  --- Node image, pinned by digest so every machine boots the same bits. v1.35.5 is the image
  -- Apple's own `container k8s` plugin pins and runs in its integration tests on Apple's
  -- runtime (apple §2.9, §5.6), so it is the kindest/node release known to boot there; the
  -- digest is the multi-arch index of that tag (apple §3.4). Written in full (docker.io/...)
  -- because Apple's runtime normalises references that way (apple §3.2).
  image = "docker.io/kindest/node:v1.35.5@sha256:ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95",
  kubernetes_version = "v1.35.5",

  --- Per node. Apple's runtime would give 4 CPUs and 1 GiB (apple §2.1), too little memory for
  -- a control plane; kubeadm's own minimum is 2 CPUs and 1700 MB, and Apple's plugin never
  -- goes below 2 CPUs / 2 GiB (apple §2.9). Memory given to a node VM is not returned to
  -- macOS while it runs (apple §6), so kina stays at that floor; raise it per cluster or node.
  cpus = 2,
  memory = "2G",

  --- Networking (kind §8 defaults, IPv4 only: see kina.config for why IPv6 is refused).
  ip_family = "ipv4",
  pod_subnet = "10.244.0.0/16",
  service_subnet = "10.96.0.0/16",
  disable_default_cni = false,
  kube_proxy_mode = "iptables",
  --- The API server is published on the host's loopback, as kind does (kind §2.3).
  api_server_address = "127.0.0.1",
  --- 0: kina picks a free host port when it creates the cluster (kind picks a random one;
  -- Apple's runtime cannot pick, its -p needs a port, apple §2.1).
  api_server_port = 0,

  --- extraPortMappings defaults (kind §8): every host address, TCP.
  listen_address = "0.0.0.0",
  protocol = "tcp",

  --- Apple's default node network (vmnet NAT, apple §5.4); pod and service subnets must not
  -- overlap it, or nodes could not reach each other or the host.
  node_network_subnet = "192.168.64.0/24",

  --- Ports below this need root when bound on a given address (macOS; apple §4).
  privileged_port_limit = 1024,

  --- Bounds for a `.lua` config script, which runs in a sandbox: it is stopped with an error
  -- after this many VM instructions or CPU seconds, when its memory grows by more than
  -- `config_script_memory` bytes, or when one string operation would build more than
  -- `config_script_string` bytes. A cluster description needs a tiny fraction of each.
  config_script_instructions = 10000000,
  config_script_seconds = 5,
  config_script_memory = 64 * 1024 * 1024,
  config_script_string = 4 * 1024 * 1024,
  --- Config files larger than this are refused before parsing.
  config_file_max_bytes = 1024 * 1024,
}

local defaults = {}

--- A fresh, writable copy of every default.
-- @treturn table
function defaults.copy()
  local t = {}
  for k, v in pairs(values) do t[k] = v end
  return t
end

return setmetatable(defaults, {
  __index = values,
  __newindex = function(_, key)
    error(("kina.defaults is read-only (tried to set %s); use defaults.copy()"):format(tostring(key)), 2)
  end,
  __pairs = function() return next, values, nil end,
})
