--- kina.sim.commands.network — network create list inspect delete (macOS 26 only).
local json = require("kina.json")
local errors = require("kina.sim.errors")
local validate = require("kina.sim.validate")
local render = require("kina.sim.render")
local net = require("kina.sim.net")
local container = require("kina.sim.commands.container")

local M = {}
local A = json.array

local function sorted_networks(data)
  net.get(data, "default")
  local list = {}
  for _, nw in pairs(data.networks) do list[#list + 1] = nw end
  table.sort(list, function(a, b)
    if a.builtin ~= b.builtin then return a.builtin end
    return a.name < b.name
  end)
  return list
end

function M.create(S, p)
  local name = p.args.name
  validate.network_name(name)
  local labels = validate.labels(p.opts.label)
  local subnet = p.opts.subnet
  if subnet and not net.parse_cidr(subnet) then errors.throw("invalidArgument", "invalid subnet " .. subnet) end
  container.fault_point(S, "network create", name, function(pattern)
    return errors.new("internalError", "failed to create network " .. name,
      string.format('internalError: "simulated failure (KINA_SIM_FAIL=%s)"', pattern))
  end)
  S.store:update(function(data)
    net.get(data, "default")
    if data.networks[name] then errors.throw("exists", "network " .. name .. " already exists") end
    if subnet then
      local overlap = net.overlapping(data, subnet)
      if overlap then
        errors.throw("exists", "IPv4 subnet " .. subnet .. " overlaps an existing network with subnet " .. overlap)
      end
    end
    net.create(data, name, subnet, { labels = labels, internal = p.opts.internal, plugin = p.opts.plugin,
      created = S.now(), explicit_subnet = subnet ~= nil })
  end)
  S.out(name .. "\n")
  return 0
end

function M.list(S, p)
  local data = S.store:load()
  local list = sorted_networks(data)
  if p.opts.format == "json" then
    local out = A()
    for i, nw in ipairs(list) do out[i] = render.network(nw, S.v) end
    S.out(render.encode(out, S.v, false) .. "\n")
  elseif p.opts.quiet then
    for _, nw in ipairs(list) do S.out(nw.name .. "\n") end
  else
    local rows = { { "NETWORK", "STATE", "SUBNET" } }
    if S.v.json_v1 then rows[1] = { "NETWORK", "SUBNET" } end
    for _, nw in ipairs(list) do
      rows[#rows + 1] = S.v.json_v1 and { nw.name, nw.subnet } or { nw.name, "running", nw.subnet }
    end
    S.out(render.table(rows) .. "\n")
  end
  return 0
end

function M.inspect(S, p)
  local data = S.store:load()
  net.get(data, "default")
  local out = A()
  for _, name in ipairs(p.args.networks) do
    local nw = data.networks[name]
    if not nw then errors.throw("notFound", "network not found: " .. name) end
    out[#out + 1] = render.network(nw, S.v)
  end
  S.out(render.encode(out, S.v, true) .. "\n")
  return 0
end

function M.delete(S, p)
  local names = p.args["network-names"] or {}
  local deleted = S.store:update(function(data)
    local targets = {}
    if p.opts.all then
      for _, nw in ipairs(sorted_networks(data)) do
        if not nw.builtin then targets[#targets + 1] = nw.name end
      end
    else
      if #names == 0 then errors.throw("invalidArgument", "no networks specified and --all not supplied") end
      targets = names
    end
    for _, name in ipairs(targets) do
      local failing, pattern = S.fault.should_fail("network delete", name)
      if failing then
        errors.throw("internalError", "failed to delete network " .. name,
          string.format('internalError: "simulated failure (KINA_SIM_FAIL=%s)"', pattern))
      end
      local nw = data.networks[name] or (name == "default" and net.get(data, "default"))
      if not nw then errors.throw("notFound", "network not found: " .. name) end
      if nw.builtin then errors.throw("invalidArgument", "cannot delete builtin network: " .. name) end
      for _, c in pairs(data.containers) do
        for _, n in ipairs(c.networks or {}) do
          if n.network == name then
            errors.throw("invalidState", "cannot delete network " .. name .. " with attached containers")
          end
        end
      end
      data.networks[name] = nil
      data.ipam[name] = nil
    end
    return targets
  end)
  for _, name in ipairs(deleted) do S.out(name .. "\n") end
  return 0
end

return M
