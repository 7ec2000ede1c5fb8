--- kina.sim.net — networks and IP allocation.
--
-- The builtin network `default` is 192.168.64.0/24 with gateway .1. Every network has a
-- rotating allocator (as the runtime's): addresses start at .2, an address is taken at start
-- and released at stop, and the next allocation continues after the last one handed out — so a
-- container that is stopped and started again usually gets a different IP.
local json = require("kina.json")

local M = {}

M.DEFAULT_SUBNET = "192.168.64.0/24"
M.IPV6_PREFIX = "fd5e:2a1c:9b0d:1"

function M.ip_to_int(ip)
  local a, b, c, d = ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return ((a * 256 + b) * 256 + c) * 256 + d
end

function M.int_to_ip(n)
  return string.format("%d.%d.%d.%d", (n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255)
end

--- Parse "a.b.c.d/p" → network base (int), prefix; or nil.
function M.parse_cidr(cidr)
  local ip, p = cidr:match("^([%d.]+)/(%d+)$")
  if not ip then return nil end
  local n, prefix = M.ip_to_int(ip), tonumber(p)
  if not n or prefix > 30 or prefix < 8 then return nil end
  local mask = (0xffffffff << (32 - prefix)) & 0xffffffff
  return n & mask, prefix
end

--- Network record for `name` (the builtin default is created on first use).
function M.get(data, name)
  local nw = data.networks[name]
  if not nw and name == "default" then
    nw = {
      name = "default", subnet = M.DEFAULT_SUBNET, gateway = "192.168.64.1", mode = "nat",
      labels = { ["com.apple.container.resource.role"] = "builtin" }, builtin = true,
      created = 0, plugin = "container-network-vmnet", options = {},
    }
    data.networks.default = nw
  end
  return nw
end

--- Add a network; subnet nil → the next free 192.168.N.0/24 after the default.
function M.create(data, name, subnet, opts)
  M.get(data, "default")
  local base, prefix
  if subnet then
    base, prefix = M.parse_cidr(subnet)
  else
    local used = {}
    for _, nw in pairs(data.networks) do used[nw.subnet] = true end
    for third = 65, 254 do
      local s = "192.168." .. third .. ".0/24"
      if not used[s] then subnet = s; break end
    end
    base, prefix = M.parse_cidr(subnet)
  end
  local nw = {
    name = name, subnet = M.int_to_ip(base) .. "/" .. prefix, gateway = M.int_to_ip(base + 1),
    mode = opts.internal and "hostOnly" or "nat", labels = opts.labels or {}, builtin = false,
    created = opts.created, plugin = opts.plugin or "container-network-vmnet", options = {},
    explicit_subnet = opts.explicit_subnet,
  }
  data.networks[name] = nw
  return nw
end

--- Subnet of an existing network overlapping `subnet`, or nil.
function M.overlapping(data, subnet)
  local base, prefix = M.parse_cidr(subnet)
  for _, nw in pairs(data.networks) do
    local b2, p2 = M.parse_cidr(nw.subnet)
    local p = math.min(prefix, p2)
    local mask = (0xffffffff << (32 - p)) & 0xffffffff
    if (base & mask) == (b2 & mask) then return nw.subnet end
  end
  return nil
end

--- Allocate an address on network `name` for container `id`; returns ip, prefix or nil, err.
function M.allocate(data, name, id)
  local nw = assert(M.get(data, name), "no network " .. name)
  local base, prefix = M.parse_cidr(nw.subnet)
  local pool = data.ipam[name]
  if not pool then
    pool = { next = 2, used = {} }
    data.ipam[name] = pool
  end
  local size = 1 << (32 - prefix)
  local first, last = 2, size - 2
  local start = pool.next
  if start < first or start > last then start = first end
  local host = start
  repeat
    local ip = M.int_to_ip(base + host)
    if pool.used[ip] == nil then
      pool.used[ip] = id
      pool.next = host + 1
      return ip, prefix
    end
    host = host + 1
    if host > last then host = first end
  until host == start
  return nil, "no available IP addresses on network " .. name
end

function M.release(data, name, ip)
  local pool = data.ipam[name]
  if pool and ip then pool.used[ip] = nil end
end

--- IPv6 address (EUI-64 from the MAC) on the vmnet ULA prefix.
function M.ipv6_for_mac(mac)
  local b = {}
  for h in mac:gmatch("%x%x") do b[#b + 1] = tonumber(h, 16) end
  b[1] = b[1] ~ 0x02
  return string.format("%s:%x:%x:%x:%x/64", M.IPV6_PREFIX,
    b[1] * 256 + b[2], b[3] * 256 + 0xff, 0xfe * 256 + b[4], b[5] * 256 + b[6])
end

M.array = json.array

return M
