-- multi-node.lua — one control plane and two workers, described as a Lua table.
-- Needs macOS 26: on macOS 15 Apple's runtime does not let containers reach each other.
--   kina run examples/multi-node.lua [NAME]
local kina = require "kina"

local c <close> = kina.cluster{
  name = arg[1] or "multi",
  config = {
    nodes = {
      { role = "control-plane" },
      { role = "worker", labels = { tier = "frontend" } },
      { role = "worker", labels = { tier = "backend" }, memory = "3G" },
    },
    cpus = 2,
    memory = "2G",
  },
  wait = 120,
}
c:create()
for _, n in ipairs(c:nodes()) do print(n.name, n.role, n.ip) end
