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
  validate.network_name(name, S.v)
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

-- Apple's client sends `network list` with a 1-second timeout (updates-2026-12 §1, from the
-- 1.2.2 source), so under load it fails although the service is fine.
-- KINA_SIM_NETWORK_LIST_TIMEOUTS=N makes the first N calls of a state directory fail so, with
-- XPCClient.send's error (internalError "XPC timeout for request to <service>/<route>", route
-- XPCRoute.networkList), which NetworkClient.list does not wrap; it names no XPC connection
-- error, so Application.swift adds no hint.
local function network_list_timeout(S)
  local n = tonumber(S.getenv("KINA_SIM_NETWORK_LIST_TIMEOUTS") or "")
  if not n or n < 1 then return end
  local calls = S.store:update(function(data)
    data.network_list_calls = (data.network_list_calls or 0) + 1
    return data.network_list_calls
  end)
  if calls <= n then
    errors.throw("internalError", "XPC timeout for request to com.apple.container.apiserver/networkList")
  end
end

function M.list(S, p)
  network_list_timeout(S)
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
  local missing = {}
  for _, name in ipairs(p.args.networks) do
    local nw = data.networks[name]
    if nw then out[#out + 1] = render.network(nw, S.v) else missing[#missing + 1] = name end
  end
  -- NetworkInspect.swift: one error naming every missing network
  if #missing > 0 then table.sort(missing); errors.throw("notFound", "network not found: " .. table.concat(missing, ", ")) end
  S.out(render.encode(out, S.v, true) .. "\n")
  return 0
end

-- NetworkDelete.swift: builtin and missing names fail before anything is deleted; a network
-- still referred to by containers fails in the server, logged, and the command then fails.
function M.delete(S, p)
  local names = p.args["network-names"] or {}
  for _, name in ipairs(names) do
    if S.fault.should_hang("network delete", name) then S.hang() end
  end
  if #names == 0 and not p.opts.all then errors.throw("invalidArgument", "no networks specified and --all not supplied") end
  local failed = {}
  local deleted = S.store:update(function(data)
    net.get(data, "default")
    local targets, seen = {}, {}
    if p.opts.all then
      for _, nw in ipairs(sorted_networks(data)) do
        if not nw.builtin then targets[#targets + 1] = nw.name end
      end
    else
      local missing = {}
      for _, name in ipairs(names) do
        if not seen[name] then
          seen[name] = true
          local nw = data.networks[name]
          if nw and nw.builtin then
            errors.throw("invalidArgument", S.v:ge("0.10.0") and ("cannot delete a builtin network: " .. name)
              or "cannot delete the default network")
          end
          if nw then targets[#targets + 1] = name else missing[#missing + 1] = '"' .. name .. '"' end
        end
      end
      if #missing > 0 then
        errors.throw("notFound", "failed to delete one or more networks: [" .. table.concat(missing, ", ") .. "]")
      end
    end
    local done = {}
    for _, name in ipairs(targets) do
      local err
      local failing, pattern = S.fault.should_fail("network delete", name)
      if failing then
        err = string.format('internalError: "simulated failure (KINA_SIM_FAIL=%s)"', pattern)
      else
        local users = {}
        for _, c in ipairs(require("kina.sim.state").sorted_containers(data)) do
          for _, n in ipairs(c.networks or {}) do
            if n.network == name then users[#users + 1] = c.id; break end
          end
        end
        if #users > 0 then
          err = errors.nested("invalidState", "cannot delete subnet " .. name .. " with referring containers: " .. table.concat(users, ", "))
        end
      end
      if err then
        io.stderr:write('failed to delete network: ["error": ' .. err .. ', "id": ' .. name .. ']\n')
        failed[#failed + 1] = '"' .. name .. '"'
      else
        data.networks[name] = nil
        data.ipam[name] = nil
        done[#done + 1] = name
      end
    end
    return done
  end)
  for _, name in ipairs(deleted) do S.out(name .. "\n") end
  if #failed > 0 then
    errors.throw("internalError", "delete failed for one or more networks: [" .. table.concat(failed, ", ") .. "]")
  end
  return 0
end

return M
