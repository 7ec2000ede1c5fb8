--- kina.cluster — a Kubernetes cluster of kindest/node containers on Apple's runtime.
--
--   local kina = require "kina"
--   local c <close> = kina.cluster{ name = "dev", config = "dev.yaml" }
--   c:create()                         -- runs c.steps, in order
--   for _, n in ipairs(c:nodes()) do print(n.name, n.role, n.ip) end
--   c:delete()
--
-- `create` is a list of named steps (c.steps, each {name, title, run = function(c, ctx)}) that a
-- script can replace, wrap, skip or extend before calling create(); see scripts/create.lua and
-- examples/add-step.lua. A failing (or interrupted) step removes every node and network this
-- create made, and its kubeconfig entries, unless `retain` is set, then raises a CreateError
-- naming the step.

local async = require "kina.async"
local apple = require "kina.provider.apple"
local provider_lib = require "kina.provider"
local common = require "kina.provider.common"
local config_lib = require "kina.config"
local hosts = require "kina.hosts"
local batch = require "kina.batch"
local lifecycle = require "kina.lifecycle"
local containerd = require "kina.containerd"
local json = require "kina.json"
local kubeconfig = require "kina.kubeconfig"
local status_lib = require "kina.status"
local create_steps = require "kina.create_steps"
local loadbalancer = require "kina.loadbalancer"

local M = {}

M.CLUSTER_LABEL = apple.CLUSTER_LABEL
M.ROLE_LABEL = apple.ROLE_LABEL
M.ADMIN_CONF = "/etc/kubernetes/admin.conf"
M.STATE_FILE = "/kind/kina-state.json"
-- kindest/node's add-on manifests (kind's node image build: /kind/manifests)
M.CNI_MANIFEST = "/kind/manifests/default-cni.yaml"
M.STORAGE_MANIFEST = "/kind/manifests/default-storage.yaml"

--- Node preparation Apple's runtime needs (apple-container §5.6: what `container k8s` found
-- necessary). Each can be turned off or changed through `prepare` in kina.cluster{...}.
M.DEFAULT_PREPARE = {
  -- Linux's default is 0; pods' traffic is routed through the node (§5.2: the runtime only sets
  -- vm.* sysctls). Needs a writable /proc/sys: --read-only-path NONE on 1.2.1+.
  ip_forward = true,
  -- kube-proxy and CNIs expect bridged traffic to pass iptables; the keys may not exist yet, so
  -- failures are ignored (as Apple's plugin does).
  bridge_netfilter = true,
  -- containerd's CRI snapshotter: Apple's plugin forces "native" in kind nodes (§5.6).
  snapshotter = "native",
  -- Attachments have MTU 1280 (§5.4, #1110): clamp TCP MSS to 1280 - 60 = 1220 so TCP through
  -- pods and NAT does not stall on large segments.
  mss_clamp = 1220,
}

M.BOOT_TIMEOUT = 240 -- seconds for containerd's socket to appear, as Apple's plugin waits

---------------------------------------------------------------------------------------------
-- Errors

local CreateError = {}
CreateError.__index = CreateError
CreateError.__tostring = function(e)
  local lines = { ("failed to create cluster %q: step %q (%s) failed"):format(e.cluster, e.step, e.title) }
  lines[#lines + 1] = tostring(e.cause)
  if e.cleanup then lines[#lines + 1] = e.cleanup end
  return table.concat(lines, "\n")
end
M.CreateError = CreateError

function M.is_create_error(e) return getmetatable(e) == CreateError end

local function fail(message, hint)
  error(setmetatable({ message = message, hint = hint }, {
    __tostring = function(e) return e.message .. (e.hint and ("\n  hint: " .. e.hint) or "") end,
  }), 0)
end
M.fail = fail

---------------------------------------------------------------------------------------------
-- The cluster object

local Cluster = {}
Cluster.__index = Cluster
-- for the modules that work on a cluster (kina.lifecycle)
Cluster.fail = fail
Cluster.STATE_FILE = M.STATE_FILE
Cluster.ADMIN_CONF = M.ADMIN_CONF
Cluster.__close = function(c) c:close() end

local option_fields = {
  name = true, config = true, image = true, provider = true, scheduler = true, status = true,
  kubeconfig = true, retain = true, wait = true, prepare = true, getenv = true, boot_timeout = true,
}

--- A cluster handle. opts: name (default $KINA_CLUSTER_NAME, the config's, or "kina"),
-- config (a model from kina.config, a table in config form, or a path to a Lua/YAML file),
-- image (overrides every node's image), provider, scheduler, status (kina.status writer),
-- kubeconfig (path, as --kubeconfig), retain (keep nodes after a failed create), wait (seconds
-- to wait for Ready), prepare (overrides of DEFAULT_PREPARE), boot_timeout, getenv.
function M.new(opts)
  opts = opts or {}
  for k in pairs(opts) do
    if not option_fields[k] then error("kina.cluster: unknown option '" .. tostring(k) .. "'", 2) end
  end
  local getenv = opts.getenv or os.getenv
  -- the name: --name, then $KINA_CLUSTER_NAME, then the config's, then "kina" (kind's order)
  local name = opts.name
  if name == "" then name = nil end
  if name == nil then
    local env = getenv("KINA_CLUSTER_NAME")
    if env and env ~= "" then name = env end
  end
  local load_opts = { name = name, image = opts.image }
  local model
  if type(opts.config) == "string" then
    model = config_lib.load(opts.config, load_opts)
  elseif type(opts.config) == "table" and opts.config.nodes and opts.config.networking and opts.config.name
      and opts.config.nodes[1] and opts.config.nodes[1].name then
    model = opts.config -- already a model
  elseif type(opts.config) == "table" then
    model = config_lib.from_table(opts.config, "config", load_opts)
  else
    model = config_lib.from_table({}, "default", load_opts)
  end
  local prepare = {}
  for k, v in pairs(M.DEFAULT_PREPARE) do prepare[k] = v end
  for k, v in pairs(opts.prepare or {}) do
    if M.DEFAULT_PREPARE[k] == nil then error("kina.cluster: unknown prepare option '" .. tostring(k) .. "'", 2) end
    prepare[k] = v
  end
  local sched = opts.scheduler
  local own_sched = false
  if not sched then
    sched = async.new({ max = 16 })
    own_sched = true
  end
  local c = setmetatable({
    name = model.name,
    model = model,
    sched = sched,
    own_sched = own_sched,
    provider = opts.provider or provider_lib.new{ scheduler = sched },
    status = opts.status or status_lib.new{},
    kubeconfig_path = opts.kubeconfig,
    retain = opts.retain,
    wait = opts.wait or 0,
    prepare = prepare,
    prepare_given = opts.prepare,
    getenv = getenv,
    boot_timeout = opts.boot_timeout or M.BOOT_TIMEOUT,
  }, Cluster)
  c.steps = create_steps.list()
  return c
end

--- The node preparation this cluster's nodes get: DEFAULT_PREPARE with the `prepare` given to
-- new, where the provider's nodes need it (capability needs_node_preparation: Apple's VMs);
-- otherwise only what `prepare` asked for (kind prepares nothing on Docker or podman).
function Cluster:preparation()
  if not self.prepared then
    if self.provider:capabilities().needs_node_preparation then
      self.prepared = self.prepare
    else
      self.prepared = {}
      for k, v in pairs(self.prepare_given or {}) do self.prepared[k] = v end
    end
  end
  return self.prepared
end

function Cluster:close()
  if self.own_sched and self.sched then
    self.sched:close()
    self.sched = nil
  end
end

--- The labels that select this cluster's nodes.
function Cluster:selector()
  return { [M.CLUSTER_LABEL] = self.name }
end

--- This cluster's nodes (records from the provider: name, role, state, ip, labels, ports ...).
function Cluster:nodes()
  return self.provider:list{ labels = self:selector() }
end

local function by_role(nodes, role)
  local out = {}
  for _, n in ipairs(nodes) do if n.role == role then out[#out + 1] = n end end
  return out
end
M.by_role = by_role

--- The control plane to ask: the first running one by name (kind's bootstrap node when it
-- runs; with several control planes, another while it is stopped), else the first; or raise.
function Cluster:control_plane(nodes)
  nodes = nodes or self:nodes()
  local cps = by_role(nodes, "control-plane")
  if #cps == 0 then
    fail(("could not locate any control plane nodes for cluster named %q. Use the --name option to select a different cluster"):format(self.name))
  end
  table.sort(cps, function(a, b)
    local ra, rb = a.state == nil or a.state == "running", b.state == nil or b.state == "running"
    if ra ~= rb then return ra end
    return a.name < b.name
  end)
  return cps[1]
end

--- The node that publishes the API server on the host: the load balancer of a cluster with
-- several control planes (kind's APIServerEndpointNode), else the control plane.
function Cluster:endpoint_node(nodes)
  nodes = nodes or self:nodes()
  for _, n in ipairs(nodes) do
    if n.role == loadbalancer.ROLE then return n end
  end
  return self:control_plane(nodes)
end

--- The Kubernetes nodes of `nodes` (provider records): all but the load balancer.
function M.kubernetes_nodes(nodes)
  local out = {}
  for _, n in ipairs(nodes) do if n.role ~= loadbalancer.ROLE then out[#out + 1] = n end end
  return out
end
Cluster.kubernetes_nodes = function(_, nodes) return M.kubernetes_nodes(nodes) end

function Cluster:exec(node, argv, opts)
  if type(node) == "table" then node = node.name end
  return self.provider:exec(node, argv, opts)
end

local function kubectl(args)
  local argv = { "kubectl", "--kubeconfig=" .. M.ADMIN_CONF }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return argv
end
M.kubectl = kubectl
Cluster.kubectl = kubectl

-- Run fn(item) for every item concurrently; returns results in order, raises the first error
-- after all have finished.
function Cluster:each(items, fn)
  local tasks = {}
  for i, item in ipairs(items) do tasks[i] = self.sched:go(fn, item) end
  local results = self.sched:await_all(tasks)
  local out = {}
  for i, r in ipairs(results) do out[i] = r[1] end
  return out
end

-- Run fn() while the status spinner turns (on a terminal).
function Cluster:with_spinner(fn)
  if not self.status.smart then return fn() end
  local running = true
  local spinner = self.sched:go(function()
    while running do
      self.status:spin()
      self.sched:sleep(0.1)
    end
  end)
  local ok, err = pcall(fn)
  running = false
  self.sched:join(spinner)
  if not ok then error(err, 0) end
  return err
end

---------------------------------------------------------------------------------------------
-- Node descriptions

local function proxy_env(getenv)
  local out, any = {}, false
  for _, k in ipairs{ "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy" } do
    local v = getenv(k)
    if v and v ~= "" then
      out[k:upper()] = out[k:upper()] or v
      any = true
    end
  end
  return any and out or nil
end

--- The spec-builder description of every node of the model, in order.
function Cluster:descriptions()
  local model, out = self.model, {}
  local net = model.networking
  local proxy = proxy_env(self.getenv)
  -- kind's NO_PROXY additions: the nodes' address ranges and names, the cluster's subnets and
  -- its service domains
  local no_proxy
  if proxy then
    no_proxy = { net.pod_subnet, net.service_subnet }
    for _, s in ipairs(self.provider:node_subnets(model.network)) do no_proxy[#no_proxy + 1] = s end
    for _, n in ipairs(model.nodes) do no_proxy[#no_proxy + 1] = n.name end
    for _, s in ipairs{ "localhost", "127.0.0.1", ".svc", ".svc.cluster", ".svc.cluster.local" } do no_proxy[#no_proxy + 1] = s end
  end
  -- a VM has the size it is given, so Apple's nodes always get one; containers sharing the
  -- host's kernel get limits only where the config sets them (kind sets none)
  local sized = self.provider:capabilities().node_size_required
  for i, n in ipairs(model.nodes) do
    local d = {
      name = n.name, cluster = model.name, role = n.role, image = n.image,
      cpus = (sized or n.cpus_given ~= false) and (n.cpus or model.cpus) or nil,
      memory = (sized or n.memory_given ~= false) and (n.memory or model.memory) or nil,
      labels = n.labels and next(n.labels) and n.labels or nil,
      network = model.network, kernel = n.kernel or model.kernel,
      scheme = (model.registry_schemes or {})[config_lib.registry_of(n.image)],
    }
    local mounts = {}
    for _, m in ipairs(n.extra_mounts or {}) do
      mounts[#mounts + 1] = { host_path = m.host_path, container_path = m.container_path, readonly = m.readonly or nil, type = "bind" }
    end
    if #mounts > 0 then d.mounts = mounts end
    local ports = {}
    for _, pm in ipairs(n.extra_port_mappings or {}) do
      ports[#ports + 1] = { host_address = pm.listen_address, host_port = pm.host_port, container_port = pm.container_port,
        protocol = pm.protocol and pm.protocol:lower() or nil }
    end
    if #ports > 0 then d.ports = ports end
    if n.name == self.bootstrap_name and not loadbalancer.wanted(model) then
      d.api_server = { address = net.api_server_address, port = self.api_server_port or net.api_server_port }
    end
    if proxy then
      d.proxy = proxy
      d.no_proxy_extra = no_proxy
    end
    out[i] = { desc = d, field = ("nodes[%d]"):format(i), node = n }
  end
  if loadbalancer.wanted(model) then
    local image = model.nodes[1].image
    for _, n in ipairs(model.nodes) do if n.name == self.bootstrap_name then image = n.image end end
    out[#out + 1] = { field = "loadbalancer", desc = loadbalancer.description(self, image,
      { address = net.api_server_address, port = self.api_server_port or net.api_server_port }) }
  end
  return out
end

-- Poll until containerd's socket exists in the node (what Apple's plugin waits for).
function Cluster:wait_for_boot(name, timeout)
  local deadline = async.now() + (timeout or self.boot_timeout)
  while true do
    local r = self.provider:exec(name, { "test", "-S", "/run/containerd/containerd.sock" }, { check = false, timeout = 30 })
    if r.code == 0 then return end
    if async.now() >= deadline then
      fail(("node %s did not come up within %gs: /run/containerd/containerd.sock never appeared"):format(name, timeout or self.boot_timeout),
        "look at the node's boot log: " .. self.provider:user_command({ "logs", name }))
    end
    self.sched:sleep(0.25)
  end
end

-- The last `lines` lines of a command's output, for errors that should not be a wall of text.
local function tail(text, lines)
  local all = {}
  for line in (text or ""):gmatch("[^\n]+") do all[#all + 1] = line end
  local from = math.max(1, #all - lines + 1)
  return table.concat(all, "\n", from)
end
M.tail = tail

--- The sysctl commands of node preparation, in order: { argv = {...}, check = bool } each.
-- The bridge keys exist only once bridge netfilter is there, so their failure is ignored.
function M.sysctl_commands(prepare)
  local out = {}
  if prepare.ip_forward then out[#out + 1] = { argv = { "sysctl", "-w", "net.ipv4.ip_forward=1" }, check = true } end
  if prepare.bridge_netfilter then
    for _, key in ipairs{ "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1" } do
      out[#out + 1] = { argv = { "sysctl", "-w", key }, check = false }
    end
  end
  return out
end

--- The iptables commands that clamp TCP MSS (prepare.mss_clamp), in order.
function M.mss_clamp_commands(prepare)
  local out = {}
  if prepare.mss_clamp then
    for _, chain in ipairs{ "OUTPUT", "FORWARD" } do
      out[#out + 1] = { argv = { "iptables-nft", "-t", "mangle", "-A", chain, "-p", "tcp", "--tcp-flags", "SYN,RST", "SYN",
        "-j", "TCPMSS", "--set-mss", tostring(prepare.mss_clamp) }, check = true }
    end
  end
  return out
end

-- Each warning once per cluster, not once per node.
function Cluster:warn_once(text)
  self.warned = self.warned or {}
  if not self.warned[text] then
    self.warned[text] = true
    self.status:warn(text)
  end
end

--- Run kina.batch `b` in node `name` (one round trip): {reads = {...}} ; a failed step raises
-- naming its command (Provider:exec_batch). Providers without exec_batch (test doubles) get
-- the batch's commands one by one.
function Cluster:run_batch(name, b)
  if self.provider.exec_batch then return (self.provider:exec_batch(name, b)) end
  return b:run_each(function(argv, check) return self.provider:exec(name, argv, { check = check }) end,
    function(path, content) self.provider:copy_to(name, content, path) end)
end

-- The journal's tail when containerd did not come back, for the error.
local function containerd_failure(c, name, err)
  local journal = c:exec(name, { "journalctl", "--no-pager", "-u", "containerd.service", "-n", "20" }, { check = false })
  fail(("containerd did not restart on %s with its new configuration (%s)\nits journal:\n%s")
    :format(name, tostring(err):gsub("\n.*", ""), tail(journal.stdout, 20)),
    "look at containerdConfigPatches: containerd rejected the merged /etc/containerd/config.toml "
      .. (c.retain and "(kina export logs writes it as containerd-config.toml)"
        or "(run the create again with --retain, then `kina export logs` writes it as containerd-config.toml)"))
end

--- containerd's configuration for a node whose /etc/containerd/config.toml reads `current`: the
-- snapshotter of prepare and the config's containerdConfigPatches merged into the file itself (a
-- kindest/node reads no drop-ins: kina.containerd). nil when there is nothing to change.
function Cluster:changes_containerd()
  local model = self.model
  return self:preparation().snapshotter and true or #(model.containerd_config_patches or {}) > 0
    or #(model.containerd_config_patches_json6902 or {}) > 0
end

function Cluster:containerd_config(name, current)
  local model = self.model
  local patches = model.containerd_config_patches or {}
  local patches_json6902 = model.containerd_config_patches_json6902 or {}
  if not self:changes_containerd() then return nil end
  local ok, text, warnings = pcall(containerd.patch_config, current,
    { snapshotter = self:preparation().snapshotter or nil, patches = patches, patches_json6902 = patches_json6902 })
  if not ok then fail(("node %s: %s"):format(name, tostring(text))) end
  for _, w in ipairs(warnings) do self:warn_once(w) end
  return text
end

--- Write containerd's configuration into a node and restart it (one round trip), waiting for
-- its socket; when it does not come back, fail with what its journal says.
function Cluster:configure_containerd(name, current)
  if current == nil then
    local b = batch.new()
    local h = b:read(containerd.CONFIG_PATH)
    current = self:run_batch(name, b).reads[h]
  end
  local text = self:containerd_config(name, current)
  if not text then return end
  local b = batch.new()
  b:write(containerd.CONFIG_PATH, text)
  self:add_containerd_restart(b)
  self:finish_containerd_restart(name, b, select(2, pcall(self.run_batch, self, name, b)))
end

--- Add `systemctl restart containerd` and the socket check to batch `b`; remembers the steps.
function Cluster:add_containerd_restart(b)
  b.containerd_restart = b:run{ "systemctl", "restart", "containerd" }
  -- containerd.service is Type=notify: the restart returns once containerd is ready, so its
  -- socket is there; the check is a safety net (a miss falls back to polling)
  b.containerd_socket = b:run{ "test", "-S", "/run/containerd/containerd.sock" }
end

--- After a batch with add_containerd_restart ran (`res` is what run_batch returned or raised).
function Cluster:finish_containerd_restart(name, b, res)
  if type(res) == "table" and res.reads then return res end
  local err = res
  if common.is_error(err) and err.argv and err.argv[1] == "test" and err.argv[2] == "-S" then
    self:wait_for_boot(name)
    return
  end
  if common.is_error(err) and err.argv and err.argv[1] == "systemctl" then containerd_failure(self, name, err) end
  error(err, 0)
end

--- Add the preparation a node loses at every boot to batch `b`: the sysctls (ip_forward
-- checked; the bridge keys not, they exist only with bridge netfilter) and the MSS rules, each
-- added unless present (`iptables -C`), so a start may run it again on a node that kept running.
function Cluster:add_boot_preparation(b)
  local prepare = self:preparation()
  for _, cmd in ipairs(M.sysctl_commands(prepare)) do b:run(cmd.argv, { check = cmd.check }) end
  for _, cmd in ipairs(M.mss_clamp_commands(prepare)) do
    local probe = table.move(cmd.argv, 1, #cmd.argv, 1, {})
    for i, a in ipairs(probe) do if a == "-A" then probe[i] = "-C" end end
    b:ensure(probe, cmd.argv)
  end
end

--- Whether a boot loses anything kina sets again (none where the runtime needs no
-- preparation, as podman's and Docker's nodes).
function Cluster:has_boot_preparation()
  local prepare = self:preparation()
  return #M.sysctl_commands(prepare) + #M.mss_clamp_commands(prepare) > 0
end

--- The preparation a node loses at every boot (sysctls and iptables rules live in the VM's
-- kernel; containerd's configuration is on the node's disk and stays), in one round trip.
function Cluster:prepare_boot(name)
  local b = batch.new()
  self:add_boot_preparation(b)
  self:run_batch(name, b)
end

--- Run the node preparation of DEFAULT_PREPARE (as configured) on one node.
function Cluster:prepare_node(name)
  self:prepare_boot(name)
  self:configure_containerd(name)
end

-- IPs of this cluster's nodes, by name (one `list`).
function Cluster:node_ips()
  local ips = {}
  for _, n in ipairs(self:nodes()) do ips[n.name] = n.ip end
  return ips
end

--- Write kina's block of node names (kina.hosts) into the /etc/hosts of every running node of
-- `nodes` (a provider list: every node's current IP), keeping the lines Apple's runtime wrote.
-- Returns {name = the block it had before ({name = ip}, empty when Apple's runtime had just
-- written the file)} for the nodes whose block changed.
-- `texts` ({name = /etc/hosts text}) saves reading files the caller has just read.
function Cluster:write_hosts(nodes, texts)
  local entries = hosts.entries(nodes)
  local changed = {}
  self:each(nodes, function(n)
    if n.state ~= "running" then return end
    local current = texts and texts[n.name] or self:exec(n.name, { "cat", "/etc/hosts" }).stdout
    local wanted = hosts.merge(current, entries)
    if wanted ~= current then
      self.provider:copy_to(n.name, wanted, "/etc/hosts")
      changed[n.name] = hosts.parse(current)
    end
  end)
  return changed
end

-- Round a duration as Go's time.Duration.Round(time.Second).String() does: 1m0s, 21s.
local function go_duration(seconds)
  seconds = math.floor(seconds + 0.5)
  if seconds < 60 then return seconds .. "s" end
  local m, s = seconds // 60, seconds % 60
  if m < 60 then return ("%dm%ds"):format(m, s) end
  return ("%dh%dm%ds"):format(m // 60, m % 60, s)
end
M.go_duration = go_duration

--- Node readiness from `kubectl get nodes -o json` on the control plane: {name = {ready, reason}}.
function Cluster:node_conditions(cp)
  local r = self:exec(cp, kubectl{ "get", "nodes", "-o", "json" }, { check = false })
  if r.code ~= 0 then return nil, r.stderr end
  local doc = json.decode(r.stdout)
  local out = {}
  for _, item in ipairs(doc and doc.items or {}) do
    local ready, reason = false, "no Ready condition yet"
    for _, cond in ipairs(item.status and item.status.conditions or {}) do
      if cond.type == "Ready" then
        ready = cond.status == "True"
        reason = ("%s: %s"):format(tostring(cond.reason), tostring(cond.message))
      end
    end
    out[item.metadata.name] = { ready = ready, reason = reason }
  end
  return out
end

--- The kubeconfig files to write (merge) and clean (all) — kubectl's rules.
function Cluster:kubeconfig_paths()
  return kubeconfig.paths{ kubeconfig = self.kubeconfig_path, env = self.getenv("KUBECONFIG"), home = self.getenv("HOME") }
end

--- The host-reachable API server: the published loopback port when there is one, else the
-- control plane's IP (reachable from macOS on Apple's runtime, given Local Network permission).
function Cluster:api_server_url(cp)
  for _, p in ipairs(cp.ports or {}) do
    if p.container_port == 6443 then
      local address = p.host_address
      if address == nil or address == "0.0.0.0" then address = "127.0.0.1" end
      return ("https://%s:%d"):format(address, p.host_port)
    end
  end
  if cp.ip then return ("https://%s:6443"):format(cp.ip) end
  fail(("control plane %s has neither a published API server port nor an IP (is it running?)"):format(cp.name),
    self.provider:hint("not_running"))
end

--- The kubeconfig document for this cluster: external (host) or internal (node network) server.
-- opts.internal (the server kubeadm wrote), opts.admin (admin.conf's text, when the caller has
-- just read it).
function Cluster:kubeconfig_doc(opts)
  opts = opts or {}
  local nodes = self:nodes()
  local cp = self:control_plane(nodes)
  local admin = opts.admin or self:exec(cp.name, { "cat", M.ADMIN_CONF }).stdout
  local server
  if not opts.internal then server = self:api_server_url(self:endpoint_node(nodes)) end
  return kubeconfig.from_admin_conf(admin, { name = self.name, server = server })
end

--- The kubeconfig YAML (kina get kubeconfig).
function Cluster:kubeconfig(opts)
  return kubeconfig.render(self:kubeconfig_doc(opts))
end

--- Merge this cluster's entries into the kubeconfig file (kina export kubeconfig); returns the path.
function Cluster:export_kubeconfig(opts)
  local doc = self:kubeconfig_doc(opts)
  local path = self:kubeconfig_paths().write
  -- waiting for another writer's lock must not block the scheduler's other tasks
  kubeconfig.merge(path, doc, { sleep = function(s) self.sched:sleep(s) end })
  return path
end


--- The steps of create, in order (kina.create_steps): a fresh list each time, for a script to edit.
M.create_steps = create_steps.list
M.config_field_names = create_steps.config_field_names

--- Find a step by name: index, step.
function Cluster:step(name)
  for i, s in ipairs(self.steps) do
    if s.name == name then return i, s end
  end
end

---------------------------------------------------------------------------------------------
-- Cleanup

-- Remove what a failed create made: nodes (every container labelled with this cluster — there
-- were none before, preflight checked — and the planned names), the network it created, and
-- kubeconfig entries it wrote. Returns a line for the user, or nil when there was nothing to
-- remove (a preflight failure). An interrupt (a second Ctrl-C) stops it at once: it raises, and
-- ctx.leftover describes what may be left.
function Cluster:cleanup(ctx)
  local names, seen = {}, {}
  -- a failure is noted and cleanup goes on; an interrupt is not a failure to go on after
  local function try(fn, ...)
    local ok, err = pcall(fn, ...)
    if not ok and async.is_interrupted(err) then error(err, 0) end
    return ok, err
  end
  local function leftover()
    local quoted = {}
    for i, n in ipairs(names) do quoted[i] = ("%q"):format(n) end
    local parts = {}
    if #quoted > 0 then parts[#parts + 1] = ("nodes [%s]"):format(table.concat(quoted, " ")) end
    if ctx.created_network then parts[#parts + 1] = ("network %q"):format(ctx.created_network) end
    if ctx.kubeconfig_written then parts[#parts + 1] = ("kubeconfig entries %q"):format(kubeconfig.key(self.name)) end
    ctx.leftover = #parts > 0 and table.concat(parts, ", ") or nil
  end
  leftover()
  if ctx.planned then
    -- provisioning began, and preflight found no node of this cluster before it: every node
    -- labelled with it now is ours (a failed `run` may leave one under its planned name)
    local ok_list, listed = try(self.nodes, self)
    for _, n in ipairs(ok_list and listed or {}) do
      if not seen[n.name] then names[#names + 1] = n.name; seen[n.name] = true end
    end
  end
  for _, n in ipairs(ctx.planned or {}) do
    if not seen[n] then names[#names + 1] = n; seen[n] = true end
  end
  leftover()
  local problems = {}
  if ctx.kubeconfig_written then
    local ok, err = try(kubeconfig.remove, self:kubeconfig_paths().all, self.name)
    if not ok then problems[#problems + 1] = "kubeconfig: " .. tostring(err) end
  end
  if #names > 0 then
    local ok, err = try(self.provider.delete, self.provider, names, { force = true })
    if not ok then problems[#problems + 1] = tostring(err) end
  end
  if ctx.created_network then
    local ok, err = try(self.provider.network_delete, self.provider, ctx.created_network)
    if not ok then problems[#problems + 1] = tostring(err) end
  end
  if #names == 0 and not ctx.created_network and #problems == 0 then return nil, true end
  local quoted = {}
  for i, n in ipairs(names) do quoted[i] = ("%q"):format(n) end
  local line = ("Deleted nodes: [%s]"):format(table.concat(quoted, " "))
  if ctx.created_network then line = line .. (" and network %q"):format(ctx.created_network) end
  if #problems > 0 then
    line = line .. "\ncleanup was incomplete:\n  " .. table.concat(problems, "\n  ")
  end
  return line, #problems == 0
end

---------------------------------------------------------------------------------------------
-- create

--- Create the cluster by running self.steps in order. Returns the context the steps shared.
function Cluster:create()
  local ctx = { cluster = self }
  self.status:info(("Creating cluster %q ..."):format(self.name))
  local current
  local ok, err = pcall(function()
    for _, s in ipairs(self.steps) do
      if create_steps.applicable(self, s) then
        current = s
        self.status:start(create_steps.title(self, s))
        self:with_spinner(function() s.run(self, ctx) end)
        self.status:finish(true)
      end
    end
  end)
  if ok then
    self:print_usage(ctx)
    return ctx
  end
  self.status:finish(false)
  local e = setmetatable({ cluster = self.name, step = current and current.name or "?", title = current and create_steps.title(self, current) or "?", cause = err }, CreateError)
  if async.is_interrupted(err) then e.interrupted = true end
  if self.retain then
    e.cleanup = ("the nodes were kept (--retain): delete them with `kina delete cluster --name %s`"):format(self.name)
  else
    local cok, line = pcall(self.cleanup, self, ctx)
    if cok then
      if line then self.status:info(line) end
    else
      -- an Interrupted reads "interrupted (SIGINT)": name just the signal after "interrupted"
      local why = async.is_interrupted(line) and ("SIG" .. line.signal) or tostring(line)
      e.cleanup = ("cleanup was interrupted (%s): %s of cluster %q may be left; `kina delete cluster --name %s` removes them"):format(
        why, ctx.leftover or "nodes", self.name, self.name)
    end
  end
  error(e, 0)
end

local SALUTATIONS = {
  "Have a nice day! 👋",
  "Thanks for using kina! 😊",
}

function Cluster:print_usage(ctx)
  if ctx.kubeconfig_written then
    self.status:info(("Set kubectl context to %q"):format(kubeconfig.key(self.name)))
    local cmd = "kubectl cluster-info --context " .. kubeconfig.key(self.name)
    if self.kubeconfig_path then cmd = cmd .. " --kubeconfig " .. common.command_line({ self.kubeconfig_path }) end
    self.status:info("You can now use your cluster with:\n\n" .. cmd .. "\n")
    self.status:info(SALUTATIONS[(#self.name % #SALUTATIONS) + 1])
  end
end

---------------------------------------------------------------------------------------------
-- delete, stop, start

--- Delete the cluster: kubeconfig entries first (as kind), then the nodes, then the network kina
-- made for it. Deleting a cluster that does not exist is not an error. Returns the node names.
function Cluster:delete()
  local nodes = self:nodes()
  local names = {}
  for i, n in ipairs(nodes) do names[i] = n.name end
  local kerr
  local ok, err = pcall(kubeconfig.remove, self:kubeconfig_paths().all, self.name)
  if not ok then kerr = err end
  if #names > 0 then self.provider:delete(names, { force = true }) end
  -- the network is looked for even when no node is left: a delete that failed at the network
  -- must finish when it is run again
  if self.provider:capabilities().networks then
    for _, net in ipairs(self.provider:network_list()) do
      if net.labels and net.labels[M.CLUSTER_LABEL] == self.name then self.provider:network_delete(net.name) end
    end
  end
  if kerr then error(("failed to update kubeconfig: %s"):format(tostring(kerr)), 0) end
  return names
end

--- Stop every node (kina.lifecycle.stop).
function Cluster:stop(opts) return lifecycle.stop(self, opts) end

--- Start the cluster and wait until it is healthy (kina.lifecycle.start): {changes, repairs, kubeconfig}.
function Cluster:start(opts) return lifecycle.start(self, opts) end

--- "running", "stopped" or "partly running" (kina.lifecycle.state), from one `list`.
function Cluster:state() return lifecycle.state(self:nodes()) end

---------------------------------------------------------------------------------------------
-- Images

--- Which nodes to act on: all, or those named in `only` (raises on an unknown name).
function Cluster:select_nodes(only)
  local all = self:nodes()
  if #all == 0 then fail(("no nodes found for cluster %q"):format(self.name)) end
  -- images go to Kubernetes nodes only (kind: nodeutils.InternalNodes)
  local nodes = M.kubernetes_nodes(all)
  if not only or #only == 0 then return nodes end
  local by_name, out = {}, {}
  for _, n in ipairs(nodes) do by_name[n.name] = n end
  for _, name in ipairs(only) do
    if name == loadbalancer.name(self.name) then
      fail(("%q is the cluster's load balancer, not a Kubernetes node: it runs no containerd images"):format(name))
    end
    if not by_name[name] then fail(("unknown node: %q"):format(name)) end
    out[#out + 1] = by_name[name]
  end
  return out
end

--- The `ctr import` command for a node: its containerd version and CRI snapshotter (from
-- `containerd --version` and `containerd config dump`, asked at once) and its platform.
function Cluster:import_argv(node)
  local name = type(node) == "table" and node.name or node
  local outputs = self:each({ { "containerd", "--version" }, { "containerd", "config", "dump" } }, function(argv)
    return self:exec(name, argv).stdout
  end)
  local version = containerd.parse_version(outputs[1])
  if not version then
    fail(("node %s: cannot read containerd's version from %q"):format(name, tail(outputs[1], 1)))
  end
  local snapshotter, err = containerd.snapshotter(outputs[2])
  if not snapshotter then fail(("node %s: %s"):format(name, err)) end
  return containerd.import_argv{ version = version, snapshotter = snapshotter,
    platform = type(node) == "table" and node.platform or "linux/arm64" }
end

-- docker.io/library/ and :latest, as kind sanitises names before comparing
local function full_ref(ref)
  local name, rest = ref:match("^([^@]+)(.*)$")
  if not name:match("^[^/]+[.:][^/]*/") and not name:match("^localhost/") then
    if not name:find("/", 1, true) then name = "docker.io/library/" .. name else name = "docker.io/" .. name end
  end
  if not name:match(":[^/]+$") and rest == "" then name = name .. ":latest" end
  return name .. rest
end
M.full_ref = full_ref

--- Load host images (from Apple's image store) into nodes: `container image save --platform
-- <node platform> IMAGE` is piped into `container exec -i NODE ctr ... import -` on every
-- selected node at once — one save per node, no temporary file on kina's side, memory
-- independent of the image's size. Apple's CLI itself writes the whole archive to a temporary
-- file in $TMPDIR before the first byte reaches its stdout (ImageSave.swift, 0.7.0 to 1.2.2),
-- so the imports sit silent meanwhile: a step says so first, and each import may wait as long
-- as its save may take. Nodes that already have the image are skipped.
-- Returns {node = "loaded"|"present"}.
function Cluster:load_images(refs, opts)
  opts = opts or {}
  local nodes = self:select_nodes(opts.nodes)
  for _, ref in ipairs(refs) do
    local problem = config_lib.image_problem(ref)
    if problem then
      fail(("image %s is not an image reference (like \"busybox:1.36\"): it %s"):format(config_lib.quote(ref), problem))
    end
    if not self.provider:image_exists(ref) then
      fail(("image: %s not present locally"):format(config_lib.quote(ref)),
        "pull or build it first (" .. self.provider:pull_command(ref) .. ")")
    end
  end
  local report = {}
  local missing_by_node = self:each(nodes, function(n)
    -- every image's presence on this node in one round trip
    local b, checks = batch.new(), {}
    for i, ref in ipairs(refs) do checks[i] = b:status{ "crictl", "inspecti", full_ref(ref) } end
    local res = self:run_batch(n.name, b)
    local missing = {}
    for i, ref in ipairs(refs) do
      if res.reads[checks[i]] ~= 0 then missing[#missing + 1] = ref end
    end
    if #missing == 0 then report[n.name] = "present" end
    return missing
  end)
  local pending, saved, saving = {}, {}, {}
  for i, n in ipairs(nodes) do
    if #missing_by_node[i] > 0 then
      pending[#pending + 1] = { node = n, missing = missing_by_node[i] }
      for _, ref in ipairs(missing_by_node[i]) do
        if not saved[ref] then saved[ref] = true; saving[#saving + 1] = ref end
      end
    end
  end
  if #pending == 0 then return report end
  -- the saves stream into the imports, which wait for the save's whole run first
  local import_timeout = self.provider:timeout("save") + self.provider:timeout("exec")
  local function load_node(job)
    local n = job.node
    local argv = self:import_argv(n)
    local platform = n.platform or "linux/arm64"
    local producer, save_argv = self.provider:image_save(job.missing, { platform = platform, pipe = true })
    local consumer = self.provider:exec_job(n.name, argv, { stdin_from = producer, timeout = import_timeout })
    local results = self.sched:await_all{ producer, consumer }
    local save, import = results[1], results[2]
    local save_failed = save.error or save.code ~= 0
    local import_failed = import.error or import.code ~= 0
    -- a save killed by SIGPIPE only lost its reader: the import's failure is the one to report
    if save_failed and not (import_failed and save.signal == "PIPE") then
      self.provider:fail("save", nil, save_argv, save.error and { code = -1, stderr = save.error } or save)
    end
    if import_failed then
      self.provider:fail("exec", n.name, import.argv, import.error and { code = -1, stderr = import.error } or import)
    end
    report[n.name] = "loaded"
  end
  self.status:start(("Saving %s from %s"):format(table.concat(saving, ", "), self.provider.image_store))
  local ok, err = pcall(self.with_spinner, self, function() self:each(pending, load_node) end)
  self.status:finish(ok)
  if not ok then error(err, 0) end
  return report
end

--- Load image archives (tar files on the host) into nodes, one archive at a time, all selected
-- nodes at once, each streaming the file into `ctr import`.
function Cluster:load_archives(paths, opts)
  opts = opts or {}
  for _, path in ipairs(paths) do
    local f = io.open(path, "rb")
    if not f then fail(("image archive %s not found"):format(config_lib.quote(path))) end
    f:close()
  end
  local nodes = self:select_nodes(opts.nodes)
  local argvs = {}
  for _, path in ipairs(paths) do
    self:each(nodes, function(n)
      argvs[n.name] = argvs[n.name] or self:import_argv(n)
      local r = self:exec(n.name, argvs[n.name], { stdin_file = path })
      for _, w in ipairs(M.unusable_image_names(r.stdout, path)) do self:warn_once(w) end
    end)
  end
  return nodes
end

--- Warnings for the images a `ctr import` (its "unpacking NAME (DIGEST)...done" lines) stored
-- under names the kubelet never asks for: an archive naming no repository (an OCI layout with
-- only a tag: ctr names it import-<date>:<tag>) or naming one in short form (kept as written,
-- while the kubelet asks for docker.io/library/...). The digest names --digests adds and the
-- CRI's sha256: records are left out.
function M.unusable_image_names(import_output, archive)
  local out = {}
  for name in (import_output or ""):gmatch("unpacking (%S+) %(sha256:%x+%)") do
    if name:match("^import%-%d%d%d%d%-%d%d%-%d%d@") or name:match("^sha256:") then
      -- the digest names of --digests, and the CRI's image ID records
    elseif name:match("^import%-%d%d%d%d%-%d%d%-%d%d:") then
      out[#out + 1] = ("image archive %s names no repository for its image, only the tag %s: it was loaded as %s, which no pod can ask for"
        .. " (save it with its full name, e.g. `container image save` or `docker save NAME:TAG`)")
        :format(config_lib.quote(archive), name:match(":(.*)$"), name)
    elseif full_ref(name) ~= name then
      out[#out + 1] = ("image archive %s names its image %s; it was loaded under that name, but pods asking for %s look up %s"
        .. " (save it under its full name, %s)"):format(config_lib.quote(archive), name, name, full_ref(name), full_ref(name))
    end
  end
  return out
end

---------------------------------------------------------------------------------------------
-- Logs

local function write_file(path, data)
  local f, err = io.open(path, "wb")
  if not f then error(err, 0) end
  f:write(data)
  f:close()
end

local function mkdir_p(path)
  local uv = require "luv"
  local parts = ""
  for part in path:gmatch("[^/]+") do
    parts = parts .. "/" .. part
    if path:sub(1, 1) ~= "/" and parts:sub(1, 1) == "/" then parts = parts:sub(2) end
    uv.fs_mkdir(parts, 493) -- 0755; EEXIST is fine
  end
end

--- kind's `export logs` layout under `dir`: kina-version.txt, the runtime's report
-- (provider:runtime_report: container-system-status.txt, podman-info.txt), and per node serial.log,
-- kubernetes-version.txt, journal.log, kubelet.log, containerd.log, images.log, inspect.json,
-- kubelet-config.yaml, containerd-config.toml, /var/log (var-log/); on the bootstrap control
-- plane also kubectl get/describe of nodes and pods. Everything is collected concurrently;
-- what fails is reported after everything else was written. Returns dir, problems.
function Cluster:export_logs(dir, version_line)
  local nodes = self:nodes()
  if #nodes == 0 then fail(("unknown cluster %q"):format(self.name)) end
  mkdir_p(dir)
  write_file(dir .. "/kina-version.txt", (version_line or "kina") .. "\n")
  local cp = self:control_plane(nodes)
  local problems = {}
  local function collect(node_dir, file, fn)
    local ok, err = pcall(fn)
    if ok then write_file(node_dir .. "/" .. file, err or "")
    else problems[#problems + 1] = ("%s/%s: %s"):format(node_dir:match("[^/]+$"), file, tostring(err)) end
  end
  local jobs = {
    -- the runtime's own report (kind's docker-info.txt / podman-info.txt)
    self.sched:go(function()
      local ok, file, text = pcall(self.provider.runtime_report, self.provider)
      if ok then write_file(dir .. "/" .. file, text)
      else problems[#problems + 1] = "runtime report: " .. tostring(file) end
    end),
  }
  for _, n in ipairs(nodes) do
    local nd = dir .. "/" .. n.name
    mkdir_p(nd)
    local function node_cmd(argv)
      return function()
        local r = self:exec(n.name, argv, { check = false })
        if r.code ~= 0 then error(("%s exited %s: %s"):format(table.concat(argv, " "), tostring(r.code), r.stderr), 0) end
        return r.stdout .. r.stderr
      end
    end
    local items = n.role == loadbalancer.ROLE and {
      -- the load balancer is no Kubernetes node: its console, journal, loop and backends
      { "serial.log", function() return self.provider:logs(n.name) end },
      { "journal.log", node_cmd{ "journalctl", "--no-pager" } },
      { "kina-apiserver-lb.log", node_cmd{ "journalctl", "--no-pager", "-u", loadbalancer.UNIT } },
      { "backends.txt", node_cmd{ "cat", loadbalancer.BACKENDS_PATH } },
      { "inspect.json", function() return self.provider:call("inspect", n.name, { "inspect", n.name }).stdout end },
    } or {
      { "serial.log", function() return self.provider:logs(n.name) end },
      { "kubernetes-version.txt", node_cmd{ "cat", "/kind/version" } },
      { "journal.log", node_cmd{ "journalctl", "--no-pager" } },
      { "kubelet.log", node_cmd{ "journalctl", "--no-pager", "-u", "kubelet.service" } },
      { "containerd.log", node_cmd{ "journalctl", "--no-pager", "-u", "containerd.service" } },
      { "images.log", node_cmd{ "crictl", "images" } },
      { "kubelet-config.yaml", node_cmd{ "cat", "/var/lib/kubelet/config.yaml" } },
      { "containerd-config.toml", node_cmd{ "cat", "/etc/containerd/config.toml" } },
      { "inspect.json", function() return self.provider:call("inspect", n.name, { "inspect", n.name }).stdout end },
    }
    if n.name == cp.name then
      items[#items + 1] = { "kubectl-get-nodes.txt", node_cmd(kubectl{ "get", "nodes", "-o", "wide" }) }
      items[#items + 1] = { "kubectl-describe-nodes.txt", node_cmd(kubectl{ "describe", "nodes" }) }
      items[#items + 1] = { "kubectl-get-pods.txt", node_cmd(kubectl{ "get", "pods", "-A", "-o", "wide" }) }
      items[#items + 1] = { "kubectl-describe-pods.txt", node_cmd(kubectl{ "describe", "pods", "-A" }) }
    end
    for _, item in ipairs(items) do
      jobs[#jobs + 1] = self.sched:go(collect, nd, item[1], item[2])
    end
    -- /var/log, streamed as a tar from the node into `tar -x` on the host
    jobs[#jobs + 1] = self.sched:go(function()
      local out = nd .. "/var-log"
      mkdir_p(out)
      -- kind's command; GNU tar's exit 1 with --create means a file changed while it was read
      -- (a journal being written): the archive is whole, so kind masks it and so does kina
      local producer = self.provider:exec_job(n.name, { "tar", "--hard-dereference", "-C", "/var/log", "-chf", "-", "." }, { stdout = "pipe" })
      local untar = self.sched:spawn{ argv = { "tar", "-xf", "-", "-C", out }, stdin_from = producer }
      local rs = self.sched:await_all{ producer, untar }
      if (rs[1].code ~= 0 and rs[1].code ~= 1) or rs[2].code ~= 0 then
        problems[#problems + 1] = ("%s/var-log: %s%s"):format(n.name, rs[1].stderr or rs[1].error or "", rs[2].stderr or rs[2].error or "")
      end
    end)
  end
  self.sched:await_all(jobs)
  table.sort(problems)
  return dir, problems
end

return M
