--- kina.loadbalancer — the API server's load balancer of a cluster with several control planes.
--
-- kind runs one extra container, `<cluster>-external-load-balancer`, labelled with the role
-- external-load-balancer and not a Kubernetes node; every kubeconfig and the certificates name
-- it (controlPlaneEndpoint `<cluster>-external-load-balancer:6443`), and only it publishes the
-- API server on the host (kind-and-peers §2.3, §2.6). kina does the same, with one difference:
-- the container runs the cluster's own kindest/node image, not Envoy (kind v0.32+) or
-- kindest/haproxy. The reasons:
--
-- * Nothing more to pull. The node image is on the Mac already; `docker.io/envoyproxy/envoy`
--   would be one more image from Docker Hub (rate limits, proxies, air-gapped Macs), and kind
--   names it by tag only (pkg/cluster/internal/loadbalancer/const.go), so there is no digest
--   from kind to pin it by.
-- * It can be checked here. What the load balancer does is kernel NAT set up by iptables-
--   restore and a health loop in bash with curl and getent — all in kindest/node (kind
--   images/base/Dockerfile) and all in Debian, so the specs run the very rules against the real
--   iptables (spec/oracle_netfilter_spec.lua) and the very script under bash. Envoy is not in
--   Debian: the simulator could only guess how it behaves.
-- * It survives Apple's address changes by construction. Envoy's STRICT_DNS would need names
--   to resolve, which Apple's runtime does not do (apple-container §5.5); the loop resolves the
--   control planes' names through the container's /etc/hosts, where kina.hosts keeps them after
--   every start, so new addresses are picked up within a second.
--
-- The loop (`kina-apiserver-lb`, a systemd unit in the load balancer container): every second,
-- for each control plane named in BACKENDS_PATH, resolve it (getent ahostsv4: /etc/hosts
-- first), ask `https://IP:6443/healthz` (curl -k, 2 s: kind's Envoy health check is /healthz
-- over TLS, unverified, every 2 s); when the set of healthy addresses changed, replace the nat
-- chain KINA-APISERVER in one iptables-restore: a DNAT to each healthy control plane with
-- kube-proxy's random-probability spread, and MASQUERADE so answers come back through the load
-- balancer. With no healthy control plane the chain is empty and connections are refused.
-- PREROUTING only: the loop's own health checks (OUTPUT) go straight to the control planes.
-- iptables-nft as kina's MSS rules (kina.cluster DEFAULT_PREPARE): Apple's kernels have
-- nf_tables, which kube-proxy in the nodes needs anyway.
local batch = require "kina.batch"
local spec = require "kina.core.spec"

local M = {}

M.ROLE = "external-load-balancer"
M.SCRIPT_PATH = "/usr/local/bin/kina-apiserver-lb"
M.UNIT = "kina-apiserver-lb.service"
M.UNIT_PATH = "/etc/systemd/system/" .. M.UNIT
M.BACKENDS_PATH = "/kind/kina-apiserver-lb/backends"
M.CHAIN = "KINA-APISERVER"
M.SNAT_CHAIN = "KINA-APISERVER-SNAT"
M.PORT = 6443

--- The load balancer's container name: kind's namer, `<cluster>-external-load-balancer`.
function M.name(cluster) return spec.node_name(cluster, M.ROLE, 1) end

--- Does the model need a load balancer? (kind: config.ClusterHasImplicitLoadBalancer.)
function M.wanted(model) return model.high_availability == true end

M.SCRIPT = [==[#!/bin/bash
# kina-apiserver-lb: TCP 6443 of this container to the control planes that answer /healthz
# (kina.loadbalancer). Usage: kina-apiserver-lb [--once]
set -u
backends=${KINA_APISERVER_LB_BACKENDS:-/kind/kina-apiserver-lb/backends}
restore=${KINA_APISERVER_LB_RESTORE:-iptables-nft-restore}
iptables=${KINA_APISERVER_LB_IPTABLES:-iptables-nft}
chain=KINA-APISERVER
snat=KINA-APISERVER-SNAT
name_re='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
ip_re='^[0-9]{1,3}(\.[0-9]{1,3}){3}$'
applied=unset

log() { printf 'kina-apiserver-lb: %s\n' "$*" >&2; }

# the jumps into kina's chains, once (iptables -C before -A keeps a restart from doubling them)
setup() {
  sysctl -q -w net.ipv4.ip_forward=1 || log "could not enable IPv4 forwarding"
  printf '*nat\n:%s - [0:0]\n:%s - [0:0]\nCOMMIT\n' "$chain" "$snat" | "$restore" --noflush ||
    { log "cannot create the nat chains"; return 1; }
  "$iptables" -t nat -C PREROUTING -p tcp --dport 6443 -j "$chain" 2>/dev/null ||
    "$iptables" -t nat -A PREROUTING -p tcp --dport 6443 -j "$chain" || return 1
  "$iptables" -t nat -C POSTROUTING -j "$snat" 2>/dev/null ||
    "$iptables" -t nat -A POSTROUTING -j "$snat" || return 1
}

# "name=IP" of every control plane that answers, in the order of the backends file
healthy() {
  local name ip _
  [[ -r "$backends" ]] || return 0
  while read -r name _; do
    [[ "$name" =~ $name_re ]] || continue
    read -r ip _ < <(getent ahostsv4 "$name")
    [[ "${ip:-}" =~ $ip_re ]] || continue
    curl -fsk --max-time 2 -o /dev/null "https://$ip:6443/healthz" </dev/null && printf '%s=%s\n' "$name" "$ip"
    ip=
  done <"$backends"
}

# the nat rules for the healthy addresses: rule i of n takes 1/(n-i+1) of what is left
rules() {
  local -a ips=("$@")
  local n=${#ips[@]} i
  printf '*nat\n:%s - [0:0]\n:%s - [0:0]\n' "$chain" "$snat"
  for ((i = 0; i < n; i++)); do
    if ((i < n - 1)); then
      printf -- '-A %s -p tcp -m statistic --mode random --probability 0.%05d -j DNAT --to-destination %s:6443\n' \
        "$chain" $((100000 / (n - i))) "${ips[$i]}"
    else
      printf -- '-A %s -p tcp -j DNAT --to-destination %s:6443\n' "$chain" "${ips[$i]}"
    fi
  done
  printf -- '-A %s -p tcp -m conntrack --ctstate DNAT --ctorigdstport 6443 -j MASQUERADE\n' "$snat"
  printf 'COMMIT\n'
}

pass() {
  local now pair
  local -a ips=()
  now=$(healthy)
  [[ "$now" == "$applied" ]] && return 0
  while read -r pair; do [[ -n "$pair" ]] && ips+=("${pair#*=}"); done <<<"$now"
  if rules "${ips[@]}" | "$restore" --noflush; then
    applied=$now
    log "control planes in service: ${now//$'\n'/ }"
  else
    log "iptables-restore failed; will try again"
    return 1
  fi
}

setup || exit 1
if [[ "${1:-}" == --once ]]; then
  pass
  exit
fi
while :; do
  pass || :
  sleep 1
done
]==]

M.UNIT_TEXT = [[
[Unit]
Description=kina: the API server's load balancer (TCP 6443 to the healthy control planes)
After=network-online.target

[Service]
ExecStart=/usr/local/bin/kina-apiserver-lb
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
]]

--- The backends file: one control-plane name per line, sorted.
function M.backends_text(names)
  local sorted = table.move(names, 1, #names, 1, {})
  table.sort(sorted)
  for _, n in ipairs(sorted) do
    if not n:match("^[a-z0-9][a-z0-9%-]*$") then error(("kina.loadbalancer: %q is not a node name"):format(n), 2) end
  end
  return table.concat(sorted, "\n") .. "\n"
end

--- The batch that installs the loop with `backends` (control-plane names) and starts it.
function M.install_batch(backends)
  local b = batch.new()
  b:run{ "mkdir", "-p", (M.BACKENDS_PATH:match("^(.*)/")) }
  b:write(M.BACKENDS_PATH, M.backends_text(backends))
  b:install_unit(M.SCRIPT_PATH, M.SCRIPT, M.UNIT_PATH, M.UNIT_TEXT)
  return b
end

--- The spec-builder description of the load balancer container: the bootstrap control plane's
-- image, the cluster's network and kernel, kina's labels with role external-load-balancer, and
-- the API server published on the host (kind gives it the configured address and port, and
-- the control planes none, kind-and-peers §2.3). No mounts, ports or node labels of a node.
function M.description(c, image, api_server)
  local model = c.model
  return {
    name = M.name(model.name), cluster = model.name, role = M.ROLE, image = image,
    network = model.network, kernel = model.kernel,
    scheme = (model.registry_schemes or {})[require("kina.config").registry_of(image)],
    api_server = api_server,
  }
end

return M
