-- add-step.lua — change what create does: add a step, wrap one, drop one.
--   kina run examples/add-step.lua [NAME]
-- c.steps is a plain list of {name, title, run = function(c, ctx)}; edit it before c:create().
local kina = require "kina"

local c <close> = kina.cluster{ name = arg[1] or "stepped" }

-- 1. a new step after the CNI: label every node once the control plane is up
local i = c:step("cni")
table.insert(c.steps, i + 1, {
  name = "label",
  title = "Labelling nodes 🏷",
  run = function(cl, ctx)
    cl:exec(ctx.bootstrap, { "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "label", "nodes", "--all",
      "example.kina.io/created-by=add-step" })
  end,
})

-- 2. wrap a step: time the kubeadm init
local _, init = c:step("kubeadm_init")
local original = init.run
init.run = function(cl, ctx)
  local t0 = kina.async.now()
  original(cl, ctx)
  cl.status:debug(("kubeadm init took %.1fs"):format(kina.async.now() - t0))
end

-- 3. drop a step: no default StorageClass for this cluster
table.remove(c.steps, (c:step("storage")))

c:create()
