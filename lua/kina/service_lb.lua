--- kina.service_lb — addresses for Services of `type: LoadBalancer`, from inside the cluster.
--
-- On Apple's runtime every node VM has its own IP, reachable from the Mac (macOS 26), and
-- kube-proxy (iptables mode) serves a Service's LoadBalancer ingress IP on every node for the
-- Service's ports. So a node's InternalIP is a working load-balancer address for a Service: all
-- that is missing is something to write it into status.loadBalancer.ingress. kina does that with
-- a small bash loop on the control plane (systemd unit `kina-lb.service`), using only what
-- kindest/node has: bash, coreutils, kubectl and the admin kubeconfig. No image, no host daemon.
--
-- Every 2 s the loop lists the nodes that take external load-balancer traffic (not labelled
-- node.kubernetes.io/exclude-from-external-load-balancers) and every Service of type
-- LoadBalancer without spec.loadBalancerClass — those holding a node's address first, so they
-- keep it, then the others oldest first — and gives each the first node (by name; the one it has
-- now first) on which none of its PROTOCOL/port pairs is taken by an earlier Service. A
-- spec.loadBalancerIP is honoured when it is such a node's address and left alone otherwise. A
-- Service that finds no node gets a Warning Event saying why (once per message while the loop
-- runs), and loses an address it can no longer keep. Addresses follow the nodes' InternalIPs, so
-- they move after a restart.
--
-- Nothing read from the cluster becomes shell code: every expansion is quoted, and what goes into
-- a patch or an Event (addresses, names, ports) is checked against a strict pattern first.
-- `kina-lb --once` runs one pass (the specs run the script itself that way).
local batch = require "kina.batch"

local M = {}

M.SCRIPT_PATH = "/usr/local/bin/kina-lb"
M.UNIT = "kina-lb.service"
M.UNIT_PATH = "/etc/systemd/system/" .. M.UNIT
M.EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"

M.SCRIPT = [==[#!/bin/bash
# kina-lb: gives every Service of type LoadBalancer a node's address (kina.service_lb).
# Usage: kina-lb [--once]
set -u
kubectl=(kubectl "--kubeconfig=${KINA_LB_KUBECONFIG:-/etc/kubernetes/admin.conf}")
exclude=node.kubernetes.io/exclude-from-external-load-balancers
ip_re='^[0-9]{1,3}(\.[0-9]{1,3}){3}$'
label_re='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
node_re='^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$'
port_re='^[0-9]{1,5}$'
proto_re='^(TCP|UDP|SCTP)$'
declare -A reported=()

log() { printf 'kina-lb: %s\n' "$*" >&2; }

# set the Service's ingress to one address, or none ("")
set_ingress() {
  local ns=$1 svc=$2 ip=$3 patch
  if [[ -n "$ip" ]]; then
    patch=$(printf '{"status":{"loadBalancer":{"ingress":[{"ip":"%s"}]}}}' "$ip")
  else
    patch='{"status":{"loadBalancer":{"ingress":null}}}'
  fi
  "${kubectl[@]}" patch service "$svc" -n "$ns" --subresource=status --type=merge -p "$patch" </dev/null >/dev/null ||
    log "could not set the address of service $ns/$svc"
}

# a Warning Event on the Service, once per message
warn() {
  local ns=$1 svc=$2 message=$3 now stamp
  [[ "${reported["$ns/$svc"]:-}" == "$message" ]] && return 0
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  stamp=$(date -u +%s%N)
  printf '{"apiVersion":"v1","kind":"Event","metadata":{"name":"%s.kina-lb.%s","namespace":"%s"},"involvedObject":{"apiVersion":"v1","kind":"Service","name":"%s","namespace":"%s"},"reason":"NoFreeNode","message":"%s","type":"Warning","source":{"component":"kina-lb"},"count":1,"firstTimestamp":"%s","lastTimestamp":"%s"}\n' \
    "$svc" "$stamp" "$ns" "$svc" "$ns" "$message" "$now" "$now" |
    "${kubectl[@]}" create -f - >/dev/null && reported["$ns/$svc"]=$message
  log "service $ns/$svc: $message"
}

pass() {
  local nodes services
  nodes=$("${kubectl[@]}" get nodes -l "!$exclude" --no-headers \
    -o 'custom-columns=NAME:.metadata.name,IP:.status.addresses[?(@.type=="InternalIP")].address') ||
    { log "cannot list the nodes"; return 1; }
  services=$("${kubectl[@]}" get services -A --no-headers \
    -o 'custom-columns=CREATED:.metadata.creationTimestamp,NAMESPACE:.metadata.namespace,NAME:.metadata.name,TYPE:.spec.type,CLASS:.spec.loadBalancerClass,LBIP:.spec.loadBalancerIP,PORTS:.spec.ports[*].port,PROTOCOLS:.spec.ports[*].protocol,INGRESS:.status.loadBalancer.ingress[*].ip') ||
    { log "cannot list the services"; return 1; }

  local -a names=() ips=()
  local name ip _
  while read -r name ip _; do
    [[ "$name" =~ $node_re && "$ip" =~ $ip_re ]] || continue
    names+=("$name"); ips+=("$ip")
  done < <(printf '%s\n' "$nodes" | LC_ALL=C sort)

  # the Services that hold a node's address come first (they keep it), then the others,
  # oldest first; ties by namespace and name
  local -A is_node_ip=()
  for ip in "${ips[@]}"; do is_node_ip["$ip"]=1; done
  local created ns svc type class lbip ports protocols current rank ordered
  ordered=$(while read -r created ns svc type class lbip ports protocols current _; do
      [[ -n "$current" ]] || continue
      rank=1
      [[ -n "${is_node_ip["${current%%,*}"]:-}" ]] && rank=0
      printf '%s %s %s %s %s %s %s %s %s %s\n' "$rank" "$created" "$ns" "$svc" "$type" "$class" "$lbip" "$ports" "$protocols" "$current"
    done <<<"$services" | LC_ALL=C sort -k1,1 -k2,2 -k3,3 -k4,4)

  local -A taken=()   # "node-index PROTOCOL/port" -> "namespace/name"
  while read -r rank created ns svc type class lbip ports protocols current _; do
    [[ -n "$current" ]] || continue
    [[ "$type" == LoadBalancer && "$class" == "<none>" ]] || continue
    [[ "$ns" =~ $label_re && "$svc" =~ $label_re ]] || continue
    local -a port_list=() proto_list=() keys=()
    IFS=, read -r -a port_list <<<"$ports"
    IFS=, read -r -a proto_list <<<"$protocols"
    local i ok=1
    for i in "${!port_list[@]}"; do
      local proto=${proto_list[$i]:-TCP}
      [[ "${port_list[$i]}" =~ $port_re && "$proto" =~ $proto_re ]] || ok=0
      keys+=("$proto/${port_list[$i]}")
    done
    (( ok && ${#keys[@]} > 0 )) || continue

    # candidates: the node of spec.loadBalancerIP only, else the node it has now, then all
    local -a order=()
    local k
    if [[ "$lbip" != "<none>" ]]; then
      for k in "${!ips[@]}"; do [[ "${ips[$k]}" == "$lbip" ]] && order+=("$k"); done
      (( ${#order[@]} > 0 )) || continue   # not a node's address: not ours to honour
    else
      for k in "${!ips[@]}"; do [[ "${ips[$k]}" == "${current%%,*}" ]] && order+=("$k"); done
      for k in "${!ips[@]}"; do [[ "${ips[$k]}" != "${current%%,*}" ]] && order+=("$k"); done
    fi

    local chosen="" holders="" key
    for k in "${order[@]}"; do
      local free=1
      for key in "${keys[@]}"; do
        if [[ -n "${taken["$k $key"]:-}" ]]; then
          free=0
          holders+="${holders:+, }${names[$k]} ($key: ${taken["$k $key"]})"
          break
        fi
      done
      if (( free )); then chosen=$k; break; fi
    done

    if [[ -n "$chosen" ]]; then
      for key in "${keys[@]}"; do taken["$chosen $key"]="$ns/$svc"; done
      [[ "$current" == "${ips[$chosen]}" ]] || set_ingress "$ns" "$svc" "${ips[$chosen]}"
      unset 'reported["$ns/$svc"]'
    else
      [[ "$current" == "<none>" ]] || set_ingress "$ns" "$svc" ""
      if (( ${#names[@]} == 0 )); then
        warn "$ns" "$svc" "no node takes load-balancer traffic: every node is labelled $exclude"
      elif [[ "$lbip" != "<none>" ]]; then
        warn "$ns" "$svc" "loadBalancerIP $lbip is taken on its node: $holders"
      else
        warn "$ns" "$svc" "no node is free for $(IFS=' '; printf '%s' "${keys[*]}"): taken on $holders"
      fi
    fi
  done <<<"$ordered"
}

if [[ "${1:-}" == --once ]]; then
  pass
  exit
fi
while :; do
  pass || :
  sleep 2
done
]==]

M.UNIT_TEXT = [[
[Unit]
Description=kina: addresses for Services of type LoadBalancer
After=kubelet.service

[Service]
ExecStart=/usr/local/bin/kina-lb
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
]]

--- The batch that installs and starts the controller on a control plane.
function M.install_batch()
  local b = batch.new()
  b:install_unit(M.SCRIPT_PATH, M.SCRIPT, M.UNIT_PATH, M.UNIT_TEXT)
  return b
end

--- The create step's work: install the controller on the bootstrap control plane.
function M.install(c, ctx)
  local b = M.install_batch()
  -- the last round trip to the control plane before the kubeconfig step: it takes admin.conf
  -- along (ctx.admin_conf), so the kubeconfig step makes no call of its own
  local admin = b:read(c.ADMIN_CONF)
  ctx.admin_conf = c:run_batch(ctx.bootstrap, b).reads[admin]
end

return M
