--- kina.create_steps — what `kina create cluster` does, step by step.
--
-- kind's order (pkg/cluster/internal/create/create.go, kind-and-peers.md §3.1) fitted to Apple's
-- runtime: preflight, node image, network, provision (every node at once), prepare (what a VM
-- lacks), config, kubeadm init, CNI, StorageClass, LoadBalancer addresses, joins, wait,
-- kubeconfig. `M.list()` is a fresh list {name, title, run = function(c, ctx)} for a script to
-- edit (c.steps); kina.cluster's create runs the applicable ones in order and cleans up after a
-- failure.
local async = require "kina.async"
local common = require "kina.provider.common"
local config_lib = require "kina.config"
local hosts = require "kina.hosts"
local batch = require "kina.batch"
local containerd = require "kina.containerd"
local doctor = require "kina.doctor"
local json = require "kina.json"
local kubeadm = require "kina.kubeadm"
local toml = require "kina.toml"
local loadbalancer = require "kina.loadbalancer"
local ha = require "kina.ha"

local M = {}

-- kina.cluster requires this module: its helpers are looked up when a step runs
local function K() return require "kina.cluster" end

local function step(name, title, run) return { name = name, title = title, run = run } end

function M.title(c, s)
  if type(s.title) == "function" then return s.title(c) end
  return s.title or s.name
end

local function distinct_images(model)
  local seen, out = {}, {}
  for _, n in ipairs(model.nodes) do
    if not seen[n.image] then
      seen[n.image] = true
      out[#out + 1] = n.image
    end
  end
  return out
end

local function strip_digest(ref) return (ref:gsub("@sha256:%x+$", "")) end

-- A free TCP port on the loopback address, for the API server.
local function free_port(address)
  local uv = require "luv"
  local tcp = uv.new_tcp()
  assert(tcp:bind(address or "127.0.0.1", 0))
  local port = tcp:getsockname().port
  tcp:close()
  uv.run("nowait")
  return port
end

local function steps_preflight(c, ctx)
  -- the runtime checks of `kina doctor` (cli, version, services, server_version): the first
  -- failure is raised as the provider's error, warnings are shown
  local info, warnings = doctor.preflight(c.provider)
  ctx.info = info
  for _, w in ipairs(warnings or {}) do c.status:warn(w) end
  local model = c.model
  local can = c.provider:capabilities()
  if #model.nodes > 1 and not can.nodes_reach_each_other then
    K().fail(("a cluster of %d nodes needs macOS 26: on macOS 15 Apple's runtime keeps containers from reaching each other "
      .. "(apple/container#326)"):format(#model.nodes), "create a single-node cluster, or upgrade to macOS 26.")
  end
  if model.network and not can.networks then
    K().fail(("network %q: networks other than the default need macOS 26"):format(model.network), c.provider:hint("network_needs_macos26"))
  end
  local existing = c:nodes()
  if #existing > 0 then
    K().fail(("node(s) already exist for a cluster with the name %q"):format(c.name),
      ("delete it first (kina delete cluster --name %s) or choose another --name."):format(c.name))
  end
  -- the API server is published on the host's loopback; port 0 means "pick a free one"
  local cps = K().by_role(model.nodes, "control-plane")
  c.bootstrap_name = cps[1] and cps[1].name
  for _, w in ipairs(model.warnings or {}) do c.status:warn(w) end
  -- host port 0 means "kina picks a free one" (kind's 0 and -1): pick them now, avoiding the
  -- ports the config claims, so the check below and `container run` see real ports
  local net = model.networking
  local claimed = {}
  for _, n in ipairs(model.nodes) do
    for _, pm in ipairs(n.extra_port_mappings or {}) do
      if (pm.host_port or 0) ~= 0 then claimed[pm.host_port] = true end
    end
  end
  if (net.api_server_port or 0) ~= 0 then claimed[net.api_server_port] = true end
  local function pick(address)
    for _ = 1, 100 do
      local port = free_port(address)
      if not claimed[port] then
        claimed[port] = true
        return port
      end
    end
    K().fail("could not find a free host port")
  end
  for _, n in ipairs(model.nodes) do
    for _, pm in ipairs(n.extra_port_mappings or {}) do
      if (pm.host_port or 0) == 0 then pm.host_port = pick(pm.listen_address) end
    end
  end
  -- containerd patches must be TOML before any node exists to apply them to
  for i, patch in ipairs(model.containerd_config_patches or {}) do
    local ok, err = toml.parse(patch)
    if not ok then K().fail(("containerdConfigPatches[%d]: not valid TOML (%s)"):format(i, err)) end
  end
  if (net.api_server_port or 0) == 0 then c.api_server_port = pick(net.api_server_address)
  else c.api_server_port = net.api_server_port end
  -- validate every node's command line and find taken host ports before anything is created
  local ports = {}
  for _, d in ipairs(c:descriptions()) do
    local extra = c.provider:validate(d.desc, d.field)
    for _, w in ipairs(extra.warnings or {}) do c.status:warn(M.config_field_names(w)) end
    for _, p in ipairs(extra.host_ports or {}) do
      p.field = p.field and M.config_field_names(p.field)
      ports[#ports + 1] = p
    end
  end
  c.provider:check_host_ports(ports)
end

-- The node spec builder names the fields of its own description (Cluster:descriptions); the
-- user wrote kind's: say those.
local DESCRIPTION_FIELDS = {
  { "(nodes%[%d+%])%.ports(%[%d+%])%.host_port", "%1.extraPortMappings%2.hostPort" },
  { "(nodes%[%d+%])%.ports(%[%d+%])%.host_address", "%1.extraPortMappings%2.listenAddress" },
  { "(nodes%[%d+%])%.ports(%[%d+%])%.container_port", "%1.extraPortMappings%2.containerPort" },
  { "(nodes%[%d+%])%.ports(%[%d+%])%.protocol", "%1.extraPortMappings%2.protocol" },
  { "(nodes%[%d+%])%.ports(%[%d+%])", "%1.extraPortMappings%2.hostPort" },
  { "nodes%[%d+%]%.api_server%.address", "networking.apiServerAddress" },
  { "nodes%[%d+%]%.api_server%.port", "networking.apiServerPort" },
  { "nodes%[%d+%]%.api_server", "networking.apiServerPort" },
  { "loadbalancer%.api_server%.address", "networking.apiServerAddress" },
  { "loadbalancer%.api_server%.port", "networking.apiServerPort" },
  { "loadbalancer%.api_server", "networking.apiServerPort" },
}

--- `text` with the spec builder's field names turned into the config's.
function M.config_field_names(text)
  for _, rule in ipairs(DESCRIPTION_FIELDS) do text = text:gsub(rule[1], rule[2]) end
  return text
end

local function steps_ensure_image(c, ctx)
  for _, image in ipairs(distinct_images(c.model)) do
    if not c.provider:image_exists(image) then
      c.status:debug("pulling " .. image)
      -- registrySchemes names the scheme; without it kina.core.apple picks http where
      -- Apple's old `--scheme auto` did (1.3.0+ only)
      c.provider:image_pull(image, { scheme = (c.model.registry_schemes or {})[config_lib.registry_of(image)],
        on_progress = function(line) c.status:debug(line) end })
    end
  end
  ctx.images = distinct_images(c.model)
end

local function steps_network(c, ctx)
  local name = c.model.network
  if not name then return end
  local existing = c.provider:network_inspect(name)
  if not existing then
    c.provider:network_create(name, { labels = { [K().CLUSTER_LABEL] = c.name } })
    ctx.created_network = name
  end
end

local function steps_provision(c, ctx)
  local descriptions = c:descriptions()
  ctx.planned = {}
  for _, d in ipairs(descriptions) do ctx.planned[#ctx.planned + 1] = d.desc.name end
  c:each(descriptions, function(d)
    c.provider:create(d.desc, d.field)
    c:wait_for_boot(d.desc.name)
  end)
end

-- prepare: per node one round trip: the boot preparation, and the files config needs (the
-- containerd configuration, the Kubernetes version, /etc/hosts; on the bootstrap node the CNI
-- and storage manifests), kept in ctx.reads[name] for config and the add-on steps.
local function steps_prepare(c, ctx)
  ctx.reads = ctx.reads or {}
  local wants_containerd = c:changes_containerd()
  local lb = loadbalancer.wanted(c.model) and loadbalancer.name(c.name) or nil
  c:each(ctx.planned, function(name)
    local b = batch.new()
    c:add_boot_preparation(b)
    local h = {
      -- the load balancer runs no Kubernetes: containerd's configuration is not its concern
      containerd = wants_containerd and name ~= lb and b:read(containerd.CONFIG_PATH) or nil,
      version = b:read("/kind/version"),
      hosts = b:read("/etc/hosts"),
    }
    if name == c.bootstrap_name then
      if not c.model.networking.disable_default_cni then h.cni = b:read(K().CNI_MANIFEST) end
      h.storage = b:read(K().STORAGE_MANIFEST, { optional = true })
    end
    local res = c:run_batch(name, b)
    local files = {}
    for k, handle in pairs(h) do files[k] = res.reads[handle] end
    ctx.reads[name] = files
  end)
end

-- loadbalancer (several control planes, kind's "Configuring the external load balancer ⚖️"):
-- kina's block of node names in the load balancer's /etc/hosts (its loop finds the control
-- planes by name), kina's state there, then the loop itself with every control plane as a
-- backend (kina.loadbalancer), in one round trip. Control planes that do not serve yet are left
-- out by the loop until they answer, as kind's Envoy health check does.
local function steps_loadbalancer(c, ctx)
  local name = loadbalancer.name(c.name)
  local listed = c:nodes()
  local ip
  for _, n in ipairs(listed) do if n.name == name then ip = n.ip end end
  if not ip then K().fail(("the load balancer %s has no IP address"):format(name)) end
  local files = (ctx.reads or {})[name] or {}
  local current = files.hosts
  if current == nil then current = c:exec(name, { "cat", "/etc/hosts" }).stdout end
  local cps = ha.control_planes(c.model)
  local b = loadbalancer.install_batch(cps)
  b:write("/etc/hosts", hosts.merge(current, hosts.entries(listed)))
  b:write(K().STATE_FILE, json.encode({ format = 2, ip = ip, role = loadbalancer.ROLE, backends = cps }))
  c:run_batch(name, b)
end

-- The files of a node prepare did not read (a script replaced prepare, or left a file out).
local function read_missing(c, name, files)
  local want = {}
  if files.containerd == nil and c:changes_containerd() then want.containerd = containerd.CONFIG_PATH end
  if files.version == nil then want.version = "/kind/version" end
  if files.hosts == nil then want.hosts = "/etc/hosts" end
  if not next(want) then return files end
  local b, handles = batch.new(), {}
  for k, path in pairs(want) do handles[k] = b:read(path) end
  local res = c:run_batch(name, b)
  for k, h in pairs(handles) do files[k] = res.reads[h] end
  return files
end

-- config: per node one round trip writing containerd's configuration (then restarting it),
-- kina's block of node names in /etc/hosts (the nodes and the API server are found by name:
-- kina.hosts), the kubeadm configuration and kina's state.
local function steps_config(c, ctx)
  local model = c.model
  local listed = c:nodes()
  local ips = {}
  for _, n in ipairs(listed) do ips[n.name] = n.ip end
  local bootstrap = c.bootstrap_name
  ctx.bootstrap = bootstrap
  -- the API server's name in every kubeconfig and certificate: the load balancer with several
  -- control planes (kind's GetAPIServerInternalEndpoint), else the control plane
  local endpoint = loadbalancer.wanted(model) and loadbalancer.name(c.name) or bootstrap
  if loadbalancer.wanted(model) and not ctx.certificate_key then ctx.certificate_key = ha.certificate_key() end
  for _, n in ipairs(model.nodes) do
    if not ips[n.name] then K().fail(("node %s has no IP address"):format(n.name)) end
  end
  local entries = hosts.entries(listed)
  local sans = {}
  local net = model.networking
  if net.api_server_address and net.api_server_address ~= "0.0.0.0" then sans[#sans + 1] = net.api_server_address end
  ctx.ips = ips
  ctx.reads = ctx.reads or {}
  c:each(model.nodes, function(n)
    local files = read_missing(c, n.name, ctx.reads[n.name] or {})
    ctx.reads[n.name] = files
    local version = files.version:gsub("%s+$", "")
    local node_index = 0 -- for errors naming the node's patches as the config does: nodes[2]...
    for i, m in ipairs(model.nodes) do if m == n then node_index = i end end
    local text = kubeadm.config({
      cluster = model.name, node = n.name, role = n.role, bootstrap = n.name == bootstrap,
      k8s_version = version, node_ip = ips[n.name], endpoint = endpoint, cert_sans = sans,
      certificate_key = n.role == "control-plane" and ctx.certificate_key or nil,
      pod_subnet = net.pod_subnet, service_subnet = net.service_subnet, kube_proxy_mode = net.kube_proxy_mode,
      feature_gates = model.feature_gates, runtime_config = model.runtime_config, node_labels = n.labels,
      provider = c.provider.name,
    }, {
      -- kind applies the cluster's patches, then the node's (actions/config/config.go)
      { merge = model.kubeadm_config_patches, json6902 = model.kubeadm_config_patches_json6902 },
      { prefix = ("nodes[%d]."):format(node_index), merge = n.kubeadm_config_patches,
        json6902 = n.kubeadm_config_patches_json6902 },
    })
    local b = batch.new()
    b:write("/etc/hosts", hosts.merge(files.hosts, entries))
    b:write(kubeadm.CONFIG_PATH, text)
    -- what kina needs to know at start: the address the node had, and that the cluster names
    -- its API server by name (format 2; clusters of older kina have an IP endpoint)
    b:write(K().STATE_FILE, json.encode({ format = 2, ip = ips[n.name], cert_sans = sans,
      endpoint = endpoint .. ":6443", service_vip = config_lib.first_host(net.service_subnet) }))
    local containerd_text = files.containerd and c:containerd_config(n.name, files.containerd)
    if containerd_text then
      b:write(containerd.CONFIG_PATH, containerd_text)
      c:add_containerd_restart(b)
      c:finish_containerd_restart(n.name, b, select(2, pcall(c.run_batch, c, n.name, b)))
    else
      c:run_batch(n.name, b)
    end
  end)
end

local function kubeadm_failure(c, node, what, err)
  if common.is_error(err) and err.result then
    local out = (err.result.stdout or "") .. (err.result.stderr or "")
    -- the status as the provider saw it ("exit status 1", "timed out after 600s") and the
    -- command line, so a failure names the command that failed
    -- without --retain the nodes are gone by the time the user reads this: say how to keep them
    local hint = c.retain
      and ("see the whole story with `kina export logs --name %s` (kubelet.log, journal.log) or run "
        .. "`%s`."):format(c.name, c.provider:user_command({ "exec", node, "journalctl", "-u", "kubelet", "--no-pager" }))
      or ("the nodes are deleted after a failure: run the create again with --retain to keep them, then "
        .. "`kina export logs --name %s` (kubelet.log, journal.log)."):format(c.name)
    K().fail(("%s failed on %s (%s)\n  command: %s\nthe last lines of its output:\n%s"):format(what, node,
      err.status or ("exit status " .. tostring(err.result.code)), common.command_line(err.argv or {}), K().tail(out, 15)),
      hint)
  end
  error(err, 0)
end

local function steps_kubeadm_init(c, ctx)
  local node = ctx.bootstrap
  -- kind's argv (actions/kubeadminit/init.go); preflight is skipped in the config (skipPhases)
  local argv = { "kubeadm", "init", "--config=" .. kubeadm.CONFIG_PATH, "--skip-token-print", "--v=6" }
  -- several control planes: the CAs go to the other control planes through kubeadm's Secret,
  -- encrypted with the config's certificateKey (kina.ha); --upload-certs is one of the flags
  -- kubeadm takes beside --config (apis/kubeadm/validation isAllowedFlag)
  if ctx.certificate_key then table.insert(argv, 4, "--upload-certs") end
  local ok, err = pcall(c.exec, c, node, argv)
  if not ok then kubeadm_failure(c, node, "kubeadm init", err) end
  if #c.model.nodes == 1 then
    -- a single node must also run workloads, and be a target of external load balancers
    -- (MetalLB ...): kind removes the taint and the label kubeadm puts on control planes
    -- (init.go, the same two commands); only then — with several control planes and no
    -- worker they keep both, as in kind (its node count includes the load balancer)
    local b = batch.new()
    b:run(K().kubectl{ "taint", "nodes", "--all", "node-role.kubernetes.io/control-plane-" })
    b:run(K().kubectl{ "label", "nodes", "--all", "node.kubernetes.io/exclude-from-external-load-balancers-" })
    c:run_batch(node, b)
  end
end

-- the bootstrap node's file `key` as prepare read it, else read now (false: absent)
local function bootstrap_file(c, ctx, key, path)
  local files = ctx.reads and ctx.reads[ctx.bootstrap]
  if files and files[key] ~= nil then return files[key] end
  local r = c:exec(ctx.bootstrap, { "cat", path }, { check = false })
  return r.code == 0 and r.stdout or false
end

local function steps_cni(c, ctx)
  if c.model.networking.disable_default_cni then return end
  local manifest = bootstrap_file(c, ctx, "cni", K().CNI_MANIFEST)
  if not manifest then K().fail(("the node image has no %s"):format(K().CNI_MANIFEST)) end
  manifest = manifest:gsub("{{%s*%.PodSubnet%s*}}", function() return c.model.networking.pod_subnet end)
  c:exec(ctx.bootstrap, K().kubectl{ "create", "-f", "-" }, { stdin = manifest })
end

local function steps_storage(c, ctx)
  if not bootstrap_file(c, ctx, "storage", K().STORAGE_MANIFEST) then
    c.status:warn("could not read the storage manifest from the node image; no default StorageClass installed")
    return
  end
  -- the manifest is on the node: no need to send it back
  c:exec(ctx.bootstrap, K().kubectl{ "apply", "-f", K().STORAGE_MANIFEST })
end

-- kubeadm join on one node: kind's argv (actions/kubeadmjoin/join.go); preflight is skipped in
-- the config (skipPhases), a control plane's config carries controlPlane and its certificate key
local function join_node(c, name)
  local ok, err = pcall(c.exec, c, name, { "kubeadm", "join", "--config", kubeadm.CONFIG_PATH, "--v=6" })
  if not ok then kubeadm_failure(c, name, "kubeadm join", err) end
end

local function steps_join_control_planes(c, ctx) ha.join_control_planes(c, ctx, join_node) end

local function steps_join(c, ctx)
  -- with several control planes the workers' joins began beside theirs
  if ha.await_worker_joins(c, ctx) then return end
  c:each(K().by_role(c.model.nodes, "worker"), function(n) join_node(c, n.name) end)
end

local function steps_wait(c, ctx)
  local start = async.now()
  local deadline = start + c.wait
  local pending, problem
  while true do
    local conds, err = c:node_conditions(ctx.bootstrap)
    -- when kubectl itself fails, that is the reason to show, not "not registered"
    problem = not conds and ("kubectl get nodes failed: " .. tostring(err):gsub("%s+$", "")) or nil
    conds = conds or {}
    pending = {}
    for _, n in ipairs(c.model.nodes) do
      local cond = conds[n.name]
      if not (cond and cond.ready) then pending[#pending + 1] = { name = n.name, reason = cond and cond.reason or "not registered" } end
    end
    if #pending == 0 then
      c.status:finish(true)
      c.status:info((" • Ready after %s 💚"):format(K().go_duration(async.now() - start)))
      return
    end
    if async.now() >= deadline then break end
    c.sched:sleep(1)
  end
  c.status:finish(false)
  local lines = {}
  for _, p in ipairs(pending) do lines[#lines + 1] = ("%s: %s"):format(p.name, problem or p.reason) end
  -- as kind: not being Ready in time is a warning; the cluster exists and may still get there
  c.status:warn(("timed out waiting for Ready ⚠️  not ready: %s"):format(table.concat(lines, "; ")))
end

local function steps_kubeconfig(c, ctx)
  ctx.kubeconfig_path = c:export_kubeconfig({ admin = ctx.admin_conf or nil })
  ctx.kubeconfig_written = true
end

--- The steps of create, in order: a fresh list each time, for a script to edit.
function M.list()
  return {
    step("preflight", function(c) return ("Checking %s and the configuration"):format(c.provider.display_name or "the runtime") end,
      steps_preflight),
    step("ensure_image", function(c)
      local images = distinct_images(c.model)
      for i, img in ipairs(images) do images[i] = strip_digest(img) end
      return ("Ensuring node image (%s) 🖼"):format(table.concat(images, ", "))
    end, steps_ensure_image),
    step("network", function(c) return ("Ensuring network %s 🌐"):format(c.model.network or "default") end, steps_network),
    step("provision", function(c) return "Preparing nodes " .. ("📦 "):rep(#c.model.nodes):gsub(" $", "") end, steps_provision),
    step("prepare", function(c) return ("Configuring nodes for %s 🔧"):format(c.provider.display_name or "the runtime") end,
      steps_prepare),
    step("loadbalancer", "Configuring the external load balancer ⚖️", steps_loadbalancer),
    step("config", "Writing configuration 📜", steps_config),
    step("kubeadm_init", "Starting control-plane 🕹️", steps_kubeadm_init),
    step("cni", "Installing CNI 🔌", steps_cni),
    step("storage", "Installing StorageClass 💾", steps_storage),
    -- addresses for Services of type LoadBalancer: kina.service_lb (off: --no-lb, loadBalancerServices: false)
    step("service_lb", "Installing LoadBalancer addresses ⚖️", function(c, ctx) require("kina.service_lb").install(c, ctx) end),
    step("join_control_planes", "Joining more control-plane nodes 🎮", steps_join_control_planes),
    step("join", "Joining worker nodes 🚜", steps_join),
    step("wait", function(c) return ("Waiting ≤ %s for control-plane = Ready ⏳"):format(K().go_duration(c.wait)) end, steps_wait),
    step("kubeconfig", "Writing kubeconfig 🔑", steps_kubeconfig),
  }
end

-- Steps that do nothing for this cluster are not shown.
function M.applicable(c, s)
  if s.name == "network" then return c.model.network ~= nil end
  if s.name == "loadbalancer" or s.name == "join_control_planes" then return loadbalancer.wanted(c.model) end
  if s.name == "cni" then return not c.model.networking.disable_default_cni end
  if s.name == "join" then return #K().by_role(c.model.nodes, "worker") > 0 end
  if s.name == "wait" then return (c.wait or 0) > 0 end
  if s.name == "service_lb" then return c.model.load_balancer_services ~= false end
  return true
end

return M
