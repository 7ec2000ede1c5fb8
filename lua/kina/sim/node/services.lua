--- kina.sim.node.services — Services, Events and their printing in the simulated cluster,
-- and the systemd unit kina installs for them (kina.service_lb).
--
-- What kina's LoadBalancer controller asks of a cluster, no more: Service and Event objects kept
-- whole in cluster.json (objects[key].body), with the defaults the API server fills in; `kubectl
-- patch --subresource=status --type=merge`; `-o custom-columns`; and whether an address:port is
-- served by a LoadBalancer Service (used by the simulated curl in kina.sim.node.kube).
local rootfs = require("kina.sim.node.rootfs")
local digest = require("kina.core.digest")

local S = {}

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t)) end

local function uid(seed)
  local h = digest.sha256(seed)
  return ("%s-%s-%s-%s-%s"):format(h:sub(1, 8), h:sub(9, 12), h:sub(13, 16), h:sub(17, 20), h:sub(21, 32))
end

--- Kinds kept whole (the others keep only a hash of their manifest).
S.KEPT = { Service = true, Event = true }

--- The object the API server stores for manifest `d` in namespace `ns` at time `now`, given
-- the one stored before (nil when new): metadata.namespace, uid and creationTimestamp, and for
-- a Service the defaults of pkg/apis/core/v1/defaults.go (SetDefaults_Service: type ClusterIP,
-- sessionAffinity None, ports' protocol TCP and targetPort = port, externalTrafficPolicy
-- Cluster for LoadBalancer and NodePort) plus an allocated clusterIP and, for LoadBalancer,
-- nodePorts (allocateLoadBalancerNodePorts defaults to true). Status is the server's: an
-- apply keeps it (kubectl apply never sends status), a new Service has an empty one.
function S.stored(d, ns, now, before, service_vip)
  local body = rootfs.decode_json(rootfs.encode_json(d))
  body.metadata.namespace = ns ~= "" and ns or nil
  local old = before and before.body
  body.metadata.uid = old and old.metadata.uid or uid(body.kind .. "/" .. ns .. "/" .. body.metadata.name .. "/" .. now)
  body.metadata.creationTimestamp = old and old.metadata.creationTimestamp or iso(now)
  if body.kind == "Service" then
    local spec = body.spec or {}
    body.spec = spec
    spec.type = spec.type or "ClusterIP"
    spec.sessionAffinity = spec.sessionAffinity or "None"
    local seed = tonumber(digest.sha256(ns .. "/" .. body.metadata.name):sub(1, 6), 16)
    local prefix = (service_vip or "10.96.0.1"):match("^(%d+%.%d+)%.") or "10.96"
    spec.clusterIP = spec.clusterIP or (old and old.spec.clusterIP) or ("%s.%d.%d"):format(prefix, seed % 250, seed // 250 % 250 + 2)
    local lb = spec.type == "LoadBalancer"
    if lb or spec.type == "NodePort" then spec.externalTrafficPolicy = spec.externalTrafficPolicy or "Cluster" end
    if lb and spec.allocateLoadBalancerNodePorts == nil then spec.allocateLoadBalancerNodePorts = true end
    for i, p in ipairs(spec.ports or {}) do
      p.protocol = p.protocol or "TCP"
      p.targetPort = p.targetPort or p.port
      if (lb and spec.allocateLoadBalancerNodePorts) or spec.type == "NodePort" then
        p.nodePort = p.nodePort or 30000 + (seed + i * 97) % 2768
      end
    end
    body.status = old and old.status or { loadBalancer = {} }
  end
  return body
end

--- RFC 7386 JSON merge patch of `target` by `patch` (null removes a key).
local function merge(target, patch, null)
  -- a value or a list replaces what was there
  if type(patch) ~= "table" or patch[1] ~= nil or getmetatable(patch) == rootfs.array_mt then return patch end
  if type(target) ~= "table" or target[1] ~= nil or getmetatable(target) == rootfs.array_mt then target = {} end
  for k, v in pairs(patch) do
    if v == null then target[k] = nil else target[k] = merge(target[k], v, null) end
  end
  return target
end
S.merge = merge

--- `kubectl patch KIND NAME --subresource=status --type=merge -p PATCH` on the stored body: the
-- status strategy keeps everything but status (pkg/registry/core/service/strategy.go,
-- serviceStatusStrategy.PrepareForUpdate: newService.Spec = oldService.Spec). Returns the new
-- body and whether it changed, or nil + kubectl's error.
function S.patch_status(body, text, null)
  local patch = rootfs.decode_json(text)
  if type(patch) ~= "table" then
    return nil, "error: unable to parse \"" .. text .. "\": yaml: did not find expected node content"
  end
  local before = rootfs.encode_json(body.status or {})
  if patch.status ~= nil then
    if patch.status == null then body.status = {} else body.status = merge(body.status or {}, patch.status, null) end
  end
  return body, rootfs.encode_json(body.status or {}) ~= before
end

-- kubectl's custom-columns printer (staging/src/k8s.io/kubectl/pkg/cmd/get/customcolumn.go,
-- printOneObject): each column is a JSONPath evaluated on the object (missing keys allowed);
-- several results are joined with ",", none print "<none>"; --no-headers leaves out the header
-- line; columns are aligned by cli-runtime's printers.GetNewTabWriter (text/tabwriter, minwidth
-- 6, padding 3, padded with spaces; the last cell of a line is not padded).
function S.custom_columns(objects, spec, headers, jsonpath)
  local cols = {}
  for part in spec:gmatch("[^,]+") do
    local head, expr = part:match("^([^:]+):(.*)$")
    if not head then return nil, "error: unexpected custom-columns spec: " .. part .. ", expected <header>:<json-path-expr>" end
    expr = expr:gsub("^{", ""):gsub("}$", "")
    if expr:sub(1, 1) ~= "." then expr = "." .. expr end
    cols[#cols + 1] = { head = head, expr = expr }
  end
  local rows = {}
  if headers then
    local r = {}
    for i, c in ipairs(cols) do r[i] = c.head end
    rows[#rows + 1] = r
  end
  for _, o in ipairs(objects) do
    local r = {}
    for i, c in ipairs(cols) do
      local res = jsonpath(o, c.expr) or {}
      local parts = {}
      for _, v in ipairs(res) do
        parts[#parts + 1] = type(v) == "table" and rootfs.encode_json(v) or tostring(v)
      end
      r[i] = #parts > 0 and table.concat(parts, ",") or "<none>"
    end
    rows[#rows + 1] = r
  end
  local width = {}
  for _, r in ipairs(rows) do
    for i, cell in ipairs(r) do width[i] = math.max(width[i] or 0, #cell) end
  end
  local out = {}
  for _, r in ipairs(rows) do
    local line = {}
    for i, cell in ipairs(r) do
      line[i] = i < #r and cell .. (" "):rep(math.max(width[i] + 3, 6) - #cell) or cell
    end
    out[#out + 1] = table.concat(line) .. "\n"
  end
  return table.concat(out)
end

--- The LoadBalancer Service of cluster `cl` whose status has ingress IP `ip` and a `protocol`
-- port `port`, or nil.
function S.serving(cl, ip, port, protocol)
  for _, o in pairs(cl.objects or {}) do
    local b = o.body
    if b and b.kind == "Service" and b.spec and b.spec.type == "LoadBalancer" then
      local has_ip = false
      for _, ing in ipairs(b.status and b.status.loadBalancer and b.status.loadBalancer.ingress or {}) do
        if ing.ip == ip then has_ip = true end
      end
      if has_ip then
        for _, p in ipairs(b.spec.ports or {}) do
          if p.port == port and (p.protocol or "TCP") == protocol then return b end
        end
      end
    end
  end
  return nil
end

-- systemd, for the units kina writes (kina.service_lb, kina.loadbalancer): `systemctl enable
-- [--now]` links the unit into the target of its [Install] WantedBy= (systemctl's words on
-- stderr), `start`, `stop`, `is-active`, `is-enabled`; an enabled unit runs after every boot.
-- Other units go to the simulator's systemctl (kina.sim.node.runtime).
S.KINA_UNITS = { ["kina-lb"] = true, ["kina-apiserver-lb"] = true }

local function wants_path(unit) return "/etc/systemd/system/multi-user.target.wants/" .. unit .. ".service" end

--- Is kina's unit `u` active on node view `n`: started in this boot, or enabled and booted.
function S.unit_active(n, u)
  local s = n:runtime().services[u]
  if s then return s == "active" end
  return n:booted() and rootfs.is_file(n.root, wants_path(u)) or false
end

function S.install(commands)
  local builtin = commands.systemctl
  commands.systemctl = function(n, argv)
    local verb, units, now, quiet = nil, {}, false, false
    for i = 2, #argv do
      local a = argv[i]
      if a == "--now" then now = true
      elseif a == "-q" or a == "--quiet" then quiet = true
      elseif a:sub(1, 1) ~= "-" then
        if not verb then verb = a else units[#units + 1] = (a:gsub("%.service$", "")) end
      end
    end
    local ours = #units > 0
    for _, u in ipairs(units) do
      if not (S.KINA_UNITS[u] and rootfs.is_file(n.root, "/etc/systemd/system/" .. u .. ".service")) then ours = false end
    end
    if not ours then return builtin(n, argv) end
    local rt = n:runtime()
    local function state(u)
      local s = rt.services[u]
      if s then return s end
      return (n:booted() and rootfs.is_file(n.root, wants_path(u))) and "active" or "inactive"
    end
    for _, u in ipairs(units) do
      if verb == "enable" then
        if not rootfs.is_file(n.root, wants_path(u)) then
          rootfs.mkdir_p(n.root, "/etc/systemd/system/multi-user.target.wants")
          rootfs.write(n.root, wants_path(u), rootfs.read(n.root, "/etc/systemd/system/" .. u .. ".service"))
          n:err("Created symlink '" .. wants_path(u) .. "' → '/etc/systemd/system/" .. u .. ".service'.\n")
        end
        if now then rt.services[u] = "active"; n:journal(u, "Started " .. u .. ".service.") end
      elseif verb == "disable" then
        if rootfs.is_file(n.root, wants_path(u)) then
          rootfs.remove(n.root, wants_path(u))
          n:err("Removed '" .. wants_path(u) .. "'.\n")
        end
        if now then rt.services[u] = "inactive" end
      elseif verb == "start" or verb == "restart" then rt.services[u] = "active"
      elseif verb == "stop" then rt.services[u] = "inactive"
      elseif verb == "is-enabled" then
        local on = rootfs.is_file(n.root, wants_path(u))
        if not quiet then n:out((on and "enabled" or "disabled") .. "\n") end
        if not on then return 1 end
      elseif verb == "is-active" then
        local s = state(u)
        if not quiet then n:out(s .. "\n") end
        if s ~= "active" then return 3 end
      else
        return builtin(n, argv)
      end
    end
    return 0
  end
end

return S
