-- single-node.lua — the smallest cluster: one control plane that also runs workloads.
-- Works on macOS 15 and 26.   kina run examples/single-node.lua [NAME]
local kina = require "kina"

local c <close> = kina.cluster{ name = arg[1] or "single", wait = 60 }
c:create()
for _, n in ipairs(c:nodes()) do print(n.name, n.role, n.state, n.ip) end
