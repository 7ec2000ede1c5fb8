--- kina.sim.node.apiserver_lb — what kina's API server load balancer does to a connection.
--
-- kina's load balancer (kina.loadbalancer) is a bash loop in a kindest/node container that
-- points nat rules at the control planes answering /healthz. The simulator does not run bash;
-- it applies what the loop would have made of the current state to each connection:
-- a connection to the container's port 6443 goes to the first control plane of the backends
-- file (the loop's order) that resolves through the container's /etc/hosts (getent: files
-- first) and answers `curl -k https://IP:6443/healthz` from the load balancer; none: refused,
-- as the empty chain leaves the port to the VM, where nothing listens. Taken as given (README
-- "Known differences"): the loop has run since the last change (it runs every second), and
-- the rules spread connections at random over all healthy control planes where the simulator
-- takes the first. The rules themselves are checked against the real iptables
-- (spec/oracle_netfilter_spec.lua) and the script under bash (spec/loadbalancer_spec.lua).
local rootfs = require "kina.sim.node.rootfs"

local L = {}

L.BACKENDS_PATH = "/kind/kina-apiserver-lb/backends"
L.UNIT = "kina-apiserver-lb"

--- Is `rec` a load balancer whose loop runs?
function L.serving(ctx, rec)
  if not (rec.rootfs and rootfs.is_file(rec.rootfs, L.BACKENDS_PATH)) then return false end
  local view = require("kina.sim.node").context(ctx, rec)
  return require("kina.sim.node.services").unit_active(view, L.UNIT)
end

--- The backend a connection through load balancer `rec` reaches: connect(ip) is the health
-- check (a connection from the load balancer, certificate unchecked) returning what
-- connect_from returns. Returns its results, or nil + why.
function L.forward(rec, connect)
  local hosts = rootfs.read(rec.rootfs, "/etc/hosts") or ""
  local lookup = require("kina.sim.node.kube").hosts_lookup
  local why = "no control plane answers"
  for name in (rootfs.read(rec.rootfs, L.BACKENDS_PATH) or ""):gmatch("[^\n]+") do
    local ip = lookup(hosts, name)
    if ip then
      local a, b, c = connect(ip)
      if a then return a, b, c end
      why = b
    end
  end
  return nil, why
end

return L
