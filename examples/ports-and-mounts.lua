-- ports-and-mounts.lua — publish a NodePort on the host and share a host directory with the node.
--   kina run examples/ports-and-mounts.lua [NAME] [HOST_DIR]
-- Host port 30080 on 127.0.0.1 reaches NodePort 30080; HOST_DIR (default: a new temp dir) is
-- mounted at /data in the node. kina checks the host port is free before creating anything.
local kina = require "kina"

local dir = arg[2] or assert(require("luv").fs_mkdtemp("/tmp/kina-data-XXXXXX"))
local c <close> = kina.cluster{
  name = arg[1] or "ports",
  config = {
    nodes = {
      {
        role = "control-plane",
        extraPortMappings = { { containerPort = 30080, hostPort = 30080, listenAddress = "127.0.0.1" } },
        extraMounts = { { hostPath = dir, containerPath = "/data" } },
      },
    },
  },
}
c:create()
print(("NodePort 30080 is published on 127.0.0.1:30080; %s is /data in the node"):format(dir))
