-- local-registry.lua — a registry container next to the cluster, wired into containerd in every
-- node (kind's local-registry recipe, on Apple's runtime: nodes reach the registry by its IP).
--   kina run examples/local-registry.lua [NAME]
-- Push to it from the host at localhost:5001; pods pull localhost:5001/IMAGE.
local kina = require "kina"

local name = arg[1] or "reg"
local registry = "kina-registry"
local c <close> = kina.cluster{
  name = name,
  config = {
    -- containerd reads registry hosts from /etc/containerd/certs.d/<host>/hosts.toml
    containerdConfigPatches = {
      '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n',
    },
  },
}
local p = c.provider

-- the registry: created once, kept across clusters (as in kind's recipe)
if not p:inspect(registry) then
  p:call("run", registry, { "run", "-d", "--name", registry, "-p", "127.0.0.1:5001:5000", "registry:2" })
end

-- a step after `prepare`: point localhost:5001 at the registry's IP in every node
local at = c:step("prepare")
table.insert(c.steps, at + 1, {
  name = "registry",
  title = "Wiring the local registry 📦",
  run = function(cl, ctx)
    local ip = p:ip(registry)
    local hosts = ('[host."http://%s:5000"]\n'):format(ip)
    cl:each(ctx.planned, function(node)
      p:copy_to(node, hosts, "/etc/containerd/certs.d/localhost:5001/hosts.toml")
    end)
  end,
})

-- and tell tools where it is (KEP-1755's ConfigMap), once the control plane is up
local cni = c:step("cni")
table.insert(c.steps, cni + 1, {
  name = "registry_configmap",
  title = "Documenting the local registry 📝",
  run = function(cl, ctx)
    local manifest = [[
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:5001"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
]]
    cl:exec(ctx.bootstrap, { "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "apply", "-f", "-" }, { stdin = manifest })
  end,
})

c:create()
print(("registry %s at localhost:5001 (in the nodes: %s:5000)"):format(registry, p:ip(registry)))
