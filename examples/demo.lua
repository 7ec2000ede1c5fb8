-- demo.lua — what `make demo` runs: a 1 control-plane + 2 worker cluster on the `container`
-- simulator, in a throw-away state directory and KUBECONFIG, then gone again.
--   build/kina run examples/demo.lua
-- Each command is printed before it runs; their output is shown as it comes.
local kina = require "kina"
local uv = require "luv"

local host = package.loaded["kina.host"] or {}
local root = host.root or uv.cwd()
local kina_bin = host.exe or (root .. "/build/kina")
local dir = assert(uv.fs_mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/kina-demo-XXXXXX"))
local env = {
  KINA_CONTAINER = root .. "/build/sim/container", -- the simulator stands in for Apple's CLI
  KINA_SIM_STATE = dir .. "/state",
  KINA_SIM_LATENCY = os.getenv("KINA_SIM_LATENCY") or "200", -- a little VM boot time, to see concurrency
  KUBECONFIG = dir .. "/kubeconfig",
  KINA_CLUSTER_NAME = false,
}
local config = dir .. "/demo.yaml"
local f = assert(io.open(config, "w"))
f:write([[
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: demo
nodes:
- role: control-plane
- role: worker
- role: worker
]])
f:close()

local function shown(argv)
  local parts = {}
  for i, a in ipairs(argv) do parts[i] = a:find("[%s']") and ("'" .. a .. "'") or a end
  return table.concat(parts, " "):gsub(root .. "/build/sim/container", "container"):gsub(kina_bin, "kina")
end

local failed = false
kina.run(function(k)
  local function step(argv, optional)
    io.stdout:write("\n$ ", shown(argv), "\n")
    io.stdout:flush()
    local r, err = k:exec{ argv = argv, env = env, stdout = "inherit", stderr = "inherit", stdin_inherit = false }
    if not r or r.code ~= 0 then
      if optional then return end
      failed = true
      error(("demo step failed: %s (%s)"):format(shown(argv), err or ("exit " .. tostring(r.code))), 0)
    end
  end
  local ok, err = pcall(function()
    step{ kina_bin, "create", "cluster", "--config", config, "--wait", "1m" }
    step{ kina_bin, "get", "clusters" }
    step{ kina_bin, "get", "nodes", "--name", "demo" }
    step{ env.KINA_CONTAINER, "image", "pull", "registry.example/hello:1.0" }
    step{ env.KINA_CONTAINER, "image", "save", "--output", dir .. "/hello.tar", "registry.example/hello:1.0" }
    step{ kina_bin, "load", "image-archive", dir .. "/hello.tar", "--name", "demo" }
    step{ env.KINA_CONTAINER, "exec", "demo-worker", "crictl", "images" }
    -- a real kubectl reads kina's kubeconfig (when one is installed)
    if os.execute("command -v kubectl >/dev/null 2>&1") then
      step{ "kubectl", "config", "get-contexts", "--kubeconfig", env.KUBECONFIG }
    else
      step{ "grep", "current-context", env.KUBECONFIG }
    end
  end)
  step{ kina_bin, "delete", "cluster", "--name", "demo" }
  if not ok then error(err, 0) end
end)
os.execute("rm -rf '" .. dir .. "'")
if not failed then print("\ndemo done: the cluster, its state directory and its kubeconfig are gone.") end
