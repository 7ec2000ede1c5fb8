-- kina create cluster — create a Kubernetes cluster on Apple's container runtime (or podman/Docker on Linux).
--
-- This script is what `kina create cluster` runs. Copy it, change it, and run your copy with
-- `kina run my-create.lua --name dev`: `c.steps` is the list of named steps create runs
-- (preflight, ensure_image, network, provision, prepare, loadbalancer, config, kubeadm_init,
-- cni, storage, service_lb, join_control_planes, join, wait, kubeconfig: kina.create_steps;
-- loadbalancer and join_control_planes run with several control planes only); replace, wrap,
-- remove or add steps before calling c:create().
local kina = require "kina"
local args = require "kina.args"
local async = require "kina.async"

local command = {
  usage = "kina create cluster [flags]",
  summary = "Creates a local Kubernetes cluster of kindest/node containers on Apple's runtime (podman or Docker on Linux).",
  flags = {
    args.CREATE_NAME,
    { name = "config", kind = "string", metavar = "FILE", complete = "files", help = "cluster config: a Lua file returning a table, or kind's v1alpha4 YAML" },
    { name = "image", kind = "string", metavar = "IMAGE", help = "node image for every node (overrides the config)" },
    { name = "wait", kind = "duration", default = 0, metavar = "DURATION", help = "wait for the nodes to be Ready (e.g. 60s, 5m)" },
    { name = "retain", kind = "boolean", help = "keep the nodes when creation fails, for debugging" },
    { name = "no-lb", kind = "boolean", help = "no addresses for Services of type LoadBalancer (config: loadBalancerServices: false)" },
    args.KUBECONFIG,
    args.OUTPUT,
    args.VERBOSE, args.QUIET,
  },
  outputs = { "json" },
}
local opts = args.command(command, { ... })
if not opts then return 0 end

local status = kina.status{ quiet = opts.quiet, verbose = opts.verbose }
local sched <close> = async.new{ max = 16 }
local c <close> = kina.cluster{
  name = opts.given and opts.given.name and opts.name or nil,
  config = opts.config,
  image = opts.image,
  wait = opts.wait,
  retain = opts.retain,
  kubeconfig = opts.kubeconfig,
  status = status,
  scheduler = sched,
  -- every call of the runtime's CLI reported to the status: -v shows each with its duration, and a
  -- call that hangs while no step is on screen (a cleanup) says what it waits for
  provider = kina.provider{ scheduler = status:runtime_calls(sched) },
}
-- Ctrl-C stops what runs, then create cleans up as after a failure (exit 130); a second one
-- stops the cleanup. Each ends the line the terminal echoed `^C` on.
-- --no-lb: the LoadBalancer controller's step is dropped, as a script would (kina.service_lb)
if opts.no_lb then table.remove(c.steps, (c:step("service_lb"))) end
sched:watch_interrupts(function() status:interrupted() end)
local ctx = c:create()
if opts.output == "json" then
  -- after the create: the nodes with their IPs and published ports
  local output = require "kina.output"
  output.write{ name = c.name, context = require("kina.kubeconfig").key(c.name),
    kubeconfig = ctx.kubeconfig_path or require("kina.json").null, nodes = output.nodes(c:nodes()) }
end
return 0
