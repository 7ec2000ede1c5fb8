-- examples/ingress.yaml, kind's ingress guide as written, on the simulator: the control plane is
-- started with ports 80 and 443 published on every address (`container run -p 0.0.0.0:80:80/tcp`)
-- and its kubelet gets the ingress-ready=true label; the same ports on 127.0.0.1 are refused
-- before anything is made, naming the macOS rule.
local json = require "kina.json"
local World = dofile("spec/support/world.lua")

local EXAMPLE = World.ROOT .. "/examples/ingress.yaml"

local in_world = World.in_world

-- the values that follow each `flag` in argv
local function values_of(argv, flag)
  local out = {}
  for i = 1, #argv - 1 do if argv[i] == flag then out[#out + 1] = argv[i + 1] end end
  return out
end

describe("examples/ingress.yaml", function()
  it("publishes 80 and 443 on 0.0.0.0 and labels the control plane ingress-ready=true", function()
    local res = in_world({ prefix = "kina-ingress", cluster = "ingress" }, function(w)
      local out = {}
      out.create = w.kina{ "create", "cluster", "--config", EXAMPLE }
      for _, argv in ipairs(w.log()) do
        if argv[1] == "run" and values_of(argv, "--name")[1] == "ingress-control-plane" then out.run = argv end
      end
      out.flags = w.sim{ "exec", "ingress-control-plane", "cat", "/var/lib/kubelet/kubeadm-flags.env" }
      out.nodes = w.kina{ "get", "nodes", "--name", "ingress", "-o", "json" }
      return out
    end)
    assert.equal(0, res.create.code, res.create.stderr)
    assert.is_table(res.run, "no `container run` of ingress-control-plane logged")
    local published = values_of(res.run, "-p")
    for _, want in ipairs{ "0.0.0.0:80:80/tcp", "0.0.0.0:443:443/tcp" } do
      assert.truthy(table.concat(published, " "):find(want, 1, true), ("%s not in -p %s"):format(want, table.concat(published, " -p ")))
    end
    -- kubeadm wrote the kubelet's flags from the InitConfiguration patch: the kubelet registers
    -- the node with the label
    assert.equal(0, res.flags.code, res.flags.stderr)
    assert.matches('KUBELET_KUBEADM_ARGS="[^"\n]*%-%-node%-labels=ingress%-ready=true[ "]', res.flags.stdout)
    -- and kina reports the ports as Apple's runtime publishes them
    local node = json.decode(res.nodes.stdout)[1]
    local ports = {}
    for _, p in ipairs(node.ports) do ports[#ports + 1] = ("%s:%d->%d/%s"):format(p.host_address, p.host_port, p.container_port, p.protocol) end
    table.sort(ports)
    assert.truthy(table.concat(ports, " "):find("0.0.0.0:443->443/tcp 0.0.0.0:80->80/tcp", 1, true), table.concat(ports, " "))
  end)

  it("with listenAddress 127.0.0.1 is refused before anything is created, naming the macOS rule", function()
    local text = assert(World.read(EXAMPLE)):gsub("(hostPort: 80\n)", "%1    listenAddress: 127.0.0.1\n")
    local res = in_world({ prefix = "kina-ingress", cluster = "ingress", config = text }, function(w)
      local out = { create = w.kina{ "create", "cluster", "--config", w.config } }
      out.runs = w.calls("run")
      out.nodes = w.node_names()
      return out
    end)
    assert.equal(1, res.create.code, res.create.stderr)
    assert.truthy(res.create.stderr:find("80 on 127.0.0.1 is below 1024: macOS lets your user bind such ports only on every address", 1, true),
      res.create.stderr)
    assert.equal(0, res.runs)
    assert.same({}, res.nodes)
  end)
end)
