--- kina.sim.node.kube — kubeadm and kubectl inside a simulated kindest/node.
--
-- The control plane's cluster lives in its rootfs (/var/lib/kina-sim/cluster.json): tokens,
-- registered nodes, taints, applied objects.  `kubeadm join` and `kubectl` find it through the
-- API endpoint they are given (an IP resolved with ctx.find_by_ip; bare names do not resolve,
-- as on Apple's runtime without a DNS domain), check ctx.reachable, and update it under
-- ctx.lock.  Strict on purpose: a missing config, a wrong token, an unreachable or
-- uninitialised control plane or a stale IP fail as they would on a real node.
local uv = require("luv")
local lyaml = require("lyaml")
local digest = require("kina.core.digest")
local rootfs = require("kina.sim.node.rootfs")
local services = require("kina.sim.node.services")

local K = {}
local write_kubelet_flags -- below, with kubeadm
local join_control_plane -- below, with kubeadm join

local STACK_HINT = "To see the stack trace of this error execute with --v=5 or higher\n"
local TOKEN_RE = "^[a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9]%.[a-z0-9]+$"

-- base64 and "real-shaped" PEM data ------------------------------------------------------------

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = {}
    for k = 3, 0, -1 do
      local idx = (v >> (6 * k)) & 63
      chars[#chars + 1] = B64:sub(idx + 1, idx + 1)
    end
    if not b then chars[3], chars[4] = "=", "=" elseif not c then chars[4] = "=" end
    out[#out + 1] = table.concat(chars)
  end
  return table.concat(out)
end
K.base64 = base64

local function bytes_from(seed, len)
  local parts, i = {}, 0
  while #table.concat(parts) < len do
    local hex = digest.sha256(seed .. "/" .. i)
    parts[#parts + 1] = (hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
    i = i + 1
  end
  return table.concat(parts):sub(1, len)
end

-- A PEM block whose base64 body decodes to a DER-shaped SEQUENCE (30 82 len) of seeded bytes.
local function pem(label, seed, len)
  local body = bytes_from(seed, len)
  local der = string.char(0x30, 0x82, (len >> 8) & 255, len & 255) .. body
  local b = base64(der)
  local lines = {}
  for i = 1, #b, 64 do lines[#lines + 1] = b:sub(i, i + 63) end
  return "-----BEGIN " .. label .. "-----\n" .. table.concat(lines, "\n") .. "\n-----END " .. label .. "-----\n"
end
K.pem = pem

-- config --------------------------------------------------------------------------------------

local KUBEADM_GROUP = "kubeadm.k8s.io"
local KINDS = {
  [KUBEADM_GROUP] = { InitConfiguration = true, ClusterConfiguration = true, JoinConfiguration = true, ResetConfiguration = true, UpgradeConfiguration = true },
  ["kubelet.config.k8s.io"] = { KubeletConfiguration = true },
  ["kubeproxy.config.k8s.io"] = { KubeProxyConfiguration = true },
}
local VERSIONS = {
  [KUBEADM_GROUP] = { v1beta3 = true, v1beta4 = true },
  ["kubelet.config.k8s.io"] = { v1beta1 = true },
  ["kubeproxy.config.k8s.io"] = { v1alpha1 = true },
}

-- v1beta4 turned every extraArgs map into a list of {name, value} (kubeadm rejects the old
-- shape with Go's unmarshal error, and v1beta3 rejects the new one).
local function check_arg_shapes(doc, version)
  local function is_list(v) return type(v) == "table" and (v[1] ~= nil or next(v) == nil) end
  local function is_map(v) return type(v) == "table" and v[1] == nil end
  local places = {}
  for _, comp in ipairs({ "apiServer", "controllerManager", "scheduler" }) do
    if type(doc[comp]) == "table" then
      places[#places + 1] = { doc[comp].extraArgs, comp .. ".extraArgs", comp:sub(1, 1):upper() .. comp:sub(2) }
    end
  end
  if type(doc.etcd) == "table" and type(doc.etcd["local"]) == "table" then
    places[#places + 1] = { doc.etcd["local"].extraArgs, "etcd.local.extraArgs", "LocalEtcd" }
  end
  if type(doc.nodeRegistration) == "table" then
    places[#places + 1] = { doc.nodeRegistration.kubeletExtraArgs, "nodeRegistration.kubeletExtraArgs", "NodeRegistrationOptions" }
  end
  for _, pl in ipairs(places) do
    local v, field, struct = pl[1], pl[2], pl[3]
    if v ~= nil and v ~= lyaml.null then
      if version == "v1beta4" and not is_list(v) then
        return "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go struct field " ..
          struct .. "." .. field .. " of type []v1beta4.Arg"
      elseif version == "v1beta3" and not is_map(v) then
        return "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go struct field " ..
          struct .. "." .. field .. " of type map[string]string"
      end
      if version == "v1beta4" then
        for _, a in ipairs(v) do
          if type(a) ~= "table" or type(a.name) ~= "string" then
            return "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal " .. type(a) ..
              " into Go struct field " .. struct .. "." .. field .. " of type v1beta4.Arg"
          end
        end
      end
    end
  end
  return nil
end

-- Load and validate a kubeadm config file; returns docs by kind, or nil + error text.
local function load_config(n, path)
  local text = n:read(path)
  if not text then
    if rootfs.is_dir(n.root, n:path(path)) then return nil, "read " .. path .. ": is a directory" end
    return nil, "unable to read config from \"" .. path .. "\" : open " .. path .. ": no such file or directory"
  end
  local ok, docs = pcall(lyaml.load, text, { all = true })
  if not ok then
    return nil, "error converting YAML to JSON: yaml: " .. tostring(docs):gsub("^.-:%d+: ", "")
  end
  local by_kind = {}
  for _, doc in ipairs(docs) do
    if doc ~= lyaml.null and doc ~= nil then
      if type(doc) ~= "table" then return nil, "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal " .. type(doc) .. " into Go value of type struct" end
      if type(doc.apiVersion) ~= "string" or doc.apiVersion == "" then
        return nil, "invalid configuration for GroupVersionKind /, Kind=" .. tostring(doc.kind or "") .. ": kind and apiVersion is mandatory information that must be specified"
      end
      if type(doc.kind) ~= "string" or doc.kind == "" then
        return nil, "Object 'Kind' is missing in '" .. text:sub(1, 60):gsub("\n", " ") .. "'"
      end
      local group, version = doc.apiVersion:match("^([^/]+)/([^/]+)$")
      if group and KINDS[group] then
        if not VERSIONS[group][version] then
          if group == KUBEADM_GROUP and (version == "v1beta1" or version == "v1beta2") then
            return nil, "your configuration file uses an old API spec: \"" .. doc.apiVersion .. "\" (kind: \"" .. doc.kind .. "\"). Please use kubeadm v1.21 instead and run 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', which will write the new, similar spec using a newer API version."
          end
          return nil, "no kind \"" .. doc.kind .. "\" is registered for version \"" .. doc.apiVersion .. "\" in scheme \"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31\""
        end
        local shape_err = group == KUBEADM_GROUP and check_arg_shapes(doc, version)
        if shape_err then return nil, shape_err end
        if not KINDS[group][doc.kind] then
          return nil, "no kind \"" .. doc.kind .. "\" is registered for version \"" .. doc.apiVersion .. "\" in scheme \"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31\""
        end
        by_kind[doc.kind] = doc
      else
        n:err("[config] WARNING: Ignored configuration document with GroupVersionKind " .. doc.apiVersion .. ", Kind=" .. doc.kind .. "\n")
      end
    end
  end
  return by_kind
end

-- cluster lookup -------------------------------------------------------------------------------

local function split_endpoint(ep)
  ep = (ep or ""):gsub("^https://", "")
  local host, port = ep:match("^%[(.-)%]:(%d+)$")
  if not host then host, port = ep:match("^([^:]+):?(%d*)$") end
  return host, tonumber(port) or 6443
end

-- the first address of a subnet (kubeadm's Service address rule), as kina computes it
local function first_ip(cidr)
  local ok, ip = pcall(require("kina.config").first_host, cidr)
  return ok and ip or "10.96.0.1"
end
K.first_ip = first_ip

--- The address /etc/hosts text gives `name` (the first line naming it), or nil.
function K.hosts_lookup(text, name)
  for line in (text or ""):gmatch("[^\n]+") do
    local addr, names = (line:gsub("#.*$", "")):match("^%s*(%S+)%s+(.-)%s*$")
    if addr and names then
      for word in names:gmatch("%S+") do if word == name then return addr end end
    end
  end
  return nil
end

-- Resolve `host` as container `from` sees it, with `hosts` its /etc/hosts text: its own
-- addresses, then (a name) /etc/hosts first, as glibc and Go's resolver do with Debian's
-- `hosts: files dns` (/etc/nsswitch.conf), then DNS, which on Apple's runtime knows
-- container names only under a configured DNS domain (apple-container §5.5); an IP of another
-- container is that container.
local function resolve_from(ctx, from, hosts, host)
  if host == "localhost" or host == "::1" or host:match("^127%.") then return from end
  if host == from.ip then return from end
  if host:match("^%d+%.%d+%.%d+%.%d+$") then
    return ctx.find_by_ip and ctx.find_by_ip(host) or nil, "ip"
  end
  local addr = K.hosts_lookup(hosts, host)
  if addr then
    if addr:match("^127%.") or addr == from.ip then return from end
    return ctx.find_by_ip and ctx.find_by_ip(addr) or nil, "ip", addr
  end
  local domain = ctx.dns_domain
  if domain and ctx.containers then
    for _, c in ipairs(ctx.containers()) do
      if host == c.id .. "." .. domain then return c end
    end
  end
  return nil, "name"
end

local function cluster_of(rec)
  return rootfs.load_json(rec.rootfs, rootfs.STATE_DIR .. "/cluster.json")
end

local function save_cluster(rec, cl)
  return rootfs.save_json(rec.rootfs, rootfs.STATE_DIR .. "/cluster.json", cl)
end

local apiserver_lb = require "kina.sim.node.apiserver_lb"
local etcd = require "kina.sim.node.etcd"

local function with_lock(n, name, fn)
  local lock = n.ctx.lock and n.ctx.lock(name)
  local ok, a, b = pcall(fn)
  if lock and lock.unlock then lock:unlock() end
  if not ok then error(a, 0) end
  return a, b
end

local function running_in(ctx, from, rec)
  if rec.state and rec.state ~= "running" then return false end
  if ctx.containers and rec.id ~= from.id then
    for _, c in ipairs(ctx.containers()) do
      if c.id == rec.id then return c.state == nil or c.state == "running" end
    end
    return false
  end
  return true
end

-- The record whose rootfs keeps the cluster's data (cluster.json) for a control plane `rec`:
-- itself (the bootstrap control plane), or the one its join connected to.
local function holder_of(ctx, rec)
  if not rec.rootfs then return nil end
  if rootfs.is_file(rec.rootfs, rootfs.STATE_DIR .. "/cluster.json") then return rec end
  local member = rootfs.load_json(rec.rootfs, rootfs.STATE_DIR .. "/member.json")
  if type(member) ~= "table" or member.role ~= "control-plane" or not member.control_plane then return nil end
  for _, c in ipairs(ctx.containers and ctx.containers() or {}) do
    if c.id == member.control_plane then return c end
  end
end

-- Go's error when control plane `rec`'s serving certificate (its own, apiserver.json; else the
-- cluster's) does not name `host`; nil when it does.
local function certificate_problem(rec, cl, host)
  local state = rootfs.load_json(rec.rootfs, rootfs.STATE_DIR .. "/apiserver.json")
  local sans = type(state) == "table" and state.sans or cl.sans or {}
  for _, s in ipairs(sans) do if s == host then return nil end end
  local ips = {}
  for _, s in ipairs(sans) do if s:match("^[%d%.]+$") then ips[#ips + 1] = s end end
  return "tls: failed to verify certificate: x509: certificate is valid for " .. table.concat(ips, ", ") .. ", not " .. host
end

--- Connect to the API server at `server` (https://host:port) from container `from` whose
-- /etc/hosts reads `hosts`: the record keeping the cluster (holder_of), its cluster, and the
-- control plane that serves; or nil + a dial error in Go's words (+ "etcd" when the API
-- server answers but etcd has no quorum). opts.insecure: the certificate is not checked
-- (curl -k, the load balancer's health check).
local function connect_from(ctx, from, hosts, server, opts)
  local insecure = opts and opts.insecure
  local host, port = split_endpoint(server)
  local target, how = resolve_from(ctx, from, hosts, host)
  local addr = host .. ":" .. port
  if not target then
    if how == "name" then
      -- Go's resolver (net/dnsclient_unix.go, tryOneName) stops at the first nameserver that
      -- answers "no such host" and names it as JoinHostPort(server, "53"): the first of the
      -- node's resolv.conf (Apple's runtime writes its gateway there; podman and Docker their own)
      local conf = from.rootfs and rootfs.read(from.rootfs, "/etc/resolv.conf") or ""
      local server = ("\n" .. conf):match("\n%s*nameserver%s+(%S+)") or "192.168.64.1"
      if server:find(":", 1, true) then server = "[" .. server .. "]" end
      return nil, "dial tcp: lookup " .. host .. " on " .. server .. ":53: no such host"
    end
    return nil, "dial tcp " .. addr .. ": connect: no route to host"
  end
  -- vmnet does not forward between isolated VMs (macOS 15, or different networks): the
  -- guest's SYN gets an ICMP host-unreachable back, Go reports "no route to host"
  if target.id ~= from.id and ctx.reachable and not ctx.reachable(from, target) then
    return nil, "dial tcp " .. addr .. ": connect: no route to host"
  end
  if not running_in(ctx, from, target) then return nil, "dial tcp " .. addr .. ": connect: no route to host" end
  local serving = target
  if port == 6443 and apiserver_lb.serving(ctx, target) then
    -- kina's load balancer: the connection goes on to a healthy control plane (the client's
    -- TLS session is with that control plane's API server)
    local backend_hosts = rootfs.read(target.rootfs, "/etc/hosts") or ""
    local holder, cl, backend = apiserver_lb.forward(target, function(ip)
      return connect_from(ctx, target, backend_hosts, "https://" .. ip .. ":6443", { insecure = true })
    end)
    if not holder then return nil, "dial tcp " .. addr .. ": connect: connection refused" end
    serving = backend
    if not insecure then
      local bad = certificate_problem(serving, cl, host)
      if bad then return nil, bad end
    end
    return holder, cl, serving
  end
  local holder = holder_of(ctx, target)
  local cl = holder and cluster_of(holder)
  if not cl or not cl.initialized_at or port ~= 6443
      or not rootfs.is_file(target.rootfs, "/etc/kubernetes/manifests/kube-apiserver.yaml") then
    return nil, "dial tcp " .. addr .. ": connect: connection refused"
  end
  -- etcd listens on the addresses of its static Pod manifest (kubeadm phases/etcd/local.go
  -- getEtcdCommand): with an address the VM no longer has it cannot bind, kube-apiserver
  -- cannot reach it and never serves, so the port refuses connections. kind's entrypoint
  -- rewrites the manifests at boot (enable_network_magic), which is what keeps this working.
  local etcd_manifest = rootfs.read(target.rootfs, "/etc/kubernetes/manifests/etcd.yaml")
  local listen = etcd_manifest and etcd_manifest:match("%-%-listen%-client%-urls=https://127%.0%.0%.1:2379,https://([%d%.]+):2379")
  if listen and listen ~= target.ip then
    return nil, "dial tcp " .. addr .. ": connect: connection refused"
  end
  -- kube-apiserver binds 0.0.0.0:6443, so a node that changed IP still answers on the new
  -- one, but its serving certificate only names what it named when it was made
  if not insecure then
    local bad = certificate_problem(target, cl, host)
    if bad then return nil, bad end
  end
  -- several control planes: the API server answers, but without etcd's quorum it serves
  -- nothing (and /healthz fails, so the load balancer leaves it out)
  if not etcd.quorum(ctx, cl, target) then return nil, "etcdserver: request timed out", "etcd" end
  return holder, cl, serving
end
K.connect_from = connect_from

local function connect(n, server)
  return connect_from(n.ctx, n.rec, n:read("/etc/hosts"), server)
end

-- kubeadm -------------------------------------------------------------------------------------

local function parse_flags(argv, start, takes_value)
  local flags, pos = {}, {}
  local i = start
  while i <= #argv do
    local a = argv[i]
    local name, value = a:match("^%-%-?([%w%-]+)=(.*)$")
    if name then
      flags[name] = value
    elseif a:match("^%-%-?[%w%-]+$") then
      name = a:gsub("^%-+", "")
      if takes_value[name] then flags[name] = argv[i + 1]; i = i + 1
      else flags[name] = true end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return flags, pos
end

local function split_list(s)
  local out = {}
  if type(s) == "table" then for _, v in ipairs(s) do out[#out + 1] = tostring(v) end return out end
  for item in tostring(s or ""):gmatch("[^,]+") do out[#out + 1] = item end
  return out
end

local function kubeconfig(server, cluster_name, user, ca, cert, key)
  return table.concat({
    "apiVersion: v1",
    "clusters:",
    "- cluster:",
    "    certificate-authority-data: " .. base64(ca),
    "    server: " .. server,
    "  name: " .. cluster_name,
    "contexts:",
    "- context:",
    "    cluster: " .. cluster_name,
    "    user: " .. user,
    "  name: " .. user .. "@" .. cluster_name,
    "current-context: " .. user .. "@" .. cluster_name,
    "kind: Config",
    "preferences: {}",
    "users:",
    "- name: " .. user,
    "  user:",
    "    client-certificate-data: " .. base64(cert),
    "    client-key-data: " .. base64(key),
    "",
  }, "\n")
end

local function preflight_fail(n, errors)
  n:err("error execution phase preflight: [preflight] Some fatal errors occurred:\n")
  for _, e in ipairs(errors) do n:err("\t[ERROR " .. e[1] .. "]: " .. e[2] .. "\n") end
  n:err("[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`\n")
  n:err(STACK_HINT)
  return 1
end

local function run_preflight(n, checks, ignore)
  local ignored = {}
  for _, name in ipairs(ignore) do ignored[name:lower()] = true end
  local errors = {}
  for _, c in ipairs(checks) do
    if c.failed then
      if ignored.all or ignored[c.name:lower()] then
        n:out("\t[WARNING " .. c.name .. "]: " .. c.msg .. "\n")
      else
        errors[#errors + 1] = { c.name, c.msg }
      end
    end
  end
  return errors
end

local function write_pki(n, seed)
  local files = {}
  rootfs.mkdir_p(n.root, "/etc/kubernetes/pki/etcd")
  for _, name in ipairs({ "ca", "front-proxy-ca", "etcd/ca", "apiserver", "apiserver-kubelet-client", "front-proxy-client",
    "etcd/server", "etcd/peer", "etcd/healthcheck-client", "apiserver-etcd-client" }) do
    local crt = pem("CERTIFICATE", seed .. "/" .. name .. ".crt", 790)
    local key = pem("RSA PRIVATE KEY", seed .. "/" .. name .. ".key", 1190)
    rootfs.write(n.root, "/etc/kubernetes/pki/" .. name .. ".crt", crt)
    rootfs.write(n.root, "/etc/kubernetes/pki/" .. name .. ".key", key)
    files[name] = { crt = crt, key = key }
  end
  rootfs.write(n.root, "/etc/kubernetes/pki/sa.key", pem("RSA PRIVATE KEY", seed .. "/sa.key", 1190))
  rootfs.write(n.root, "/etc/kubernetes/pki/sa.pub", pem("PUBLIC KEY", seed .. "/sa.pub", 290))
  return files
end

local function ca_hash(ca_crt)
  return "sha256:" .. digest.sha256("spki " .. ca_crt)
end

-- The machine as kubeadm sees it: Apple's runtime gives a VM 4 CPUs and 1 GiB unless told
-- otherwise (reference apple §2.1); runtime.NumCPU() and the RAM in MB.
local function machine(n)
  local cpus = tonumber(n.rec.cpus) or 4
  local mem = tonumber(n.rec.memory) or (1024 * 1024 * 1024)
  return math.floor(cpus), math.floor(mem / 1024 / 1024)
end

local CRI_DOWN = "could not connect to the container runtime: failed to create new CRI runtime service: validate service connection: validate CRI v1 runtime API for endpoint \"unix:///run/containerd/containerd.sock\": rpc error: code = Unavailable desc = connection error: desc = \"transport: error while dialing: dial unix /run/containerd/containerd.sock: connect: no such file or directory\""

-- preflight InitNodeChecks (checks.go): NumCPU, Mem (checks_linux.go), ports, the static Pod
-- manifests, then the common checks (CRI, kubelet port), ip_forward, the etcd data directory.
local function init_checks(n, already)
  local cpus, mem = machine(n)
  local ip_forward = n.commands.__sysctl_read(n, "net.ipv4.ip_forward") ~= "1"
  local checks = {
    { name = "NumCPU", failed = cpus < 2, msg = ("the number of available CPUs %d is less than the required 2"):format(cpus) },
    { name = "Mem", failed = mem < 1700, msg = ("the system RAM (%d MB) is less than the minimum 1700 MB"):format(mem) },
    { name = "Port-6443", failed = already, msg = "Port 6443 is in use" },
    { name = "Port-10259", failed = already, msg = "Port 10259 is in use" },
    { name = "Port-10257", failed = already, msg = "Port 10257 is in use" },
  }
  for _, c in ipairs({ "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd" }) do
    local path = "/etc/kubernetes/manifests/" .. c .. ".yaml"
    checks[#checks + 1] = { name = "FileAvailable-" .. path:gsub("/", "-"), failed = rootfs.is_file(n.root, path), msg = path .. " already exists" }
  end
  checks[#checks + 1] = { name = "CRI", failed = n:service_state("containerd") ~= "active", msg = CRI_DOWN }
  checks[#checks + 1] = { name = "Port-10250", failed = already, msg = "Port 10250 is in use" }
  checks[#checks + 1] = { name = "FileContent--proc-sys-net-ipv4-ip_forward", failed = ip_forward, msg = "/proc/sys/net/ipv4/ip_forward contents are not set to 1" }
  local etcd = rootfs.list(n.root, "/var/lib/etcd")
  checks[#checks + 1] = { name = "DirAvailable--var-lib-etcd", failed = etcd ~= nil and #etcd > 0, msg = "/var/lib/etcd is not empty" }
  return checks
end

-- /var/lib/kubelet/kubeadm-flags.env as kubeadm's kubelet-start phase writes it: the CRI
-- endpoint, the pause image and nodeRegistration.kubeletExtraArgs (a map in v1beta3, a list of
-- {name, value} in v1beta4), sorted by name (phases/kubelet/flags.go, BuildArgumentListFromMap).
-- Without --node-ip the kubelet takes the address of the default route's interface.
write_kubelet_flags = function(n, node_reg)
  local flags = { ["container-runtime-endpoint"] = "unix:///run/containerd/containerd.sock",
    ["pod-infra-container-image"] = "registry.k8s.io/pause:3.10.1" }
  local extra = type(node_reg) == "table" and node_reg.kubeletExtraArgs or nil
  if type(extra) == "table" then
    if extra[1] ~= nil then
      for _, a in ipairs(extra) do if type(a) == "table" and a.name then flags[a.name] = tostring(a.value) end end
    else
      for k, v in pairs(extra) do flags[k] = tostring(v) end
    end
  end
  local names = {}
  for k in pairs(flags) do names[#names + 1] = k end
  table.sort(names)
  local parts = {}
  for i, k in ipairs(names) do parts[i] = "--" .. k .. "=" .. flags[k] end
  rootfs.mkdir_p(n.root, "/var/lib/kubelet")
  rootfs.write(n.root, "/var/lib/kubelet/kubeadm-flags.env", "KUBELET_KUBEADM_ARGS=\"" .. table.concat(parts, " ") .. "\"\n")
end

-- What `--upload-certs` puts in the kubeadm-certs Secret (copycerts.certsToTransfer, stacked etcd).
local UPLOADED_CERTS = { "ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.pub", "sa.key",
  "etcd/ca.crt", "etcd/ca.key" }

local function kubeadm_init(n, argv, start)
  local flags = parse_flags(argv, start, { config = true, ["skip-phases"] = true, ["ignore-preflight-errors"] = true,
    ["pod-network-cidr"] = true, ["apiserver-advertise-address"] = true, ["apiserver-cert-extra-sans"] = true,
    ["control-plane-endpoint"] = true, ["service-cidr"] = true, ["kubernetes-version"] = true, ["node-name"] = true,
    ["cri-socket"] = true, ["token"] = true, v = true })
  local known = { config = 1, ["skip-phases"] = 1, ["ignore-preflight-errors"] = 1, ["pod-network-cidr"] = 1,
    ["apiserver-advertise-address"] = 1, ["apiserver-cert-extra-sans"] = 1, ["control-plane-endpoint"] = 1,
    ["service-cidr"] = 1, ["kubernetes-version"] = 1, ["node-name"] = 1, ["cri-socket"] = 1, token = 1, v = 1,
    ["skip-token-print"] = 1, ["upload-certs"] = 1, ["dry-run"] = 1 }
  for k in pairs(flags) do
    if not known[k] then n:err("unknown flag: --" .. k .. "\n" .. STACK_HINT); return 1 end
  end
  local init, cluster, kubelet = {}, {}, {}
  if flags.config then
    local docs, err = load_config(n, flags.config)
    if not docs then n:err(err .. "\n" .. STACK_HINT); return 1 end
    init = docs.InitConfiguration or {}
    cluster = docs.ClusterConfiguration or {}
    kubelet = docs.KubeletConfiguration or {}
    for _, flag in ipairs({ "pod-network-cidr", "apiserver-advertise-address", "control-plane-endpoint", "kubernetes-version", "node-name", "token" }) do
      if flags[flag] then
        n:err("can not mix '--config' with arguments [" .. flag .. "]\n" .. STACK_HINT); return 1
      end
    end
  end
  local k8s = cluster.kubernetesVersion or flags["kubernetes-version"] or n:k8s_version()
  if not tostring(k8s):match("^v?%d+%.%d+%.%d+") then
    n:err("couldn't parse Kubernetes version \"" .. tostring(k8s) .. "\": could not parse \"" .. tostring(k8s) .. "\" as version\n" .. STACK_HINT)
    return 1
  end
  local lae = type(init.localAPIEndpoint) == "table" and init.localAPIEndpoint or {}
  local advertise = lae.advertiseAddress or flags["apiserver-advertise-address"] or n.rec.ip
  if not advertise then
    n:err("unable to select an IP from default routes.\n" .. STACK_HINT); return 1
  end
  if not tostring(advertise):match("^%d+%.%d+%.%d+%.%d+$") then
    n:err("localAPIEndpoint.advertiseAddress: Invalid value: \"" .. tostring(advertise) .. "\": couldn't use \"" .. tostring(advertise) .. "\" as \"apiserver-advertise-address\", must be ipv4 or ipv6 address\n" .. STACK_HINT)
    return 1
  end
  local node_reg = type(init.nodeRegistration) == "table" and init.nodeRegistration or {}
  local node_name = node_reg.name or flags["node-name"] or n:hostname()
  local token = flags.token
  if type(init.bootstrapTokens) == "table" and type(init.bootstrapTokens[1]) == "table" then token = init.bootstrapTokens[1].token end
  if token and not tostring(token):match(TOKEN_RE) or (token and #tostring(token) ~= 23) then
    n:err("bootstrapTokens[0].token: Invalid value: \"" .. tostring(token) .. "\": the bootstrap token \"" .. tostring(token) .. "\" was not of the form \"\\\\A([a-z0-9]{6})\\\\.([a-z0-9]{16})\\\\z\"\n" .. STACK_HINT)
    return 1
  end
  token = token or (digest.sha256("token " .. n.rec.id .. n:now()):gsub("%d", "a"):sub(1, 6) .. "." .. digest.sha256("secret " .. n:now()):sub(1, 16))
  local skip = split_list(flags["skip-phases"] or init.skipPhases)
  local skipped = {}
  for _, p in ipairs(skip) do skipped[p] = true end
  local ignore = split_list(flags["ignore-preflight-errors"] or node_reg.ignorePreflightErrors)
  local networking = type(cluster.networking) == "table" and cluster.networking or {}
  local endpoint = cluster.controlPlaneEndpoint or flags["control-plane-endpoint"]
  local server_host_port = endpoint and (endpoint:find(":%d+$") and endpoint or endpoint .. ":6443") or (advertise .. ":" .. (lae.bindPort or 6443))

  local already = rootfs.is_file(n.root, "/etc/kubernetes/manifests/kube-apiserver.yaml")
  n:out("[init] Using Kubernetes version: " .. k8s .. "\n")
  if not skipped.preflight then
    -- cmd/kubeadm/app/preflight/checks.go InitNodeChecks, in its order (the checks the
    -- simulator can fail; the others always pass here)
    n:out("[preflight] Running pre-flight checks\n")
    local errors = run_preflight(n, init_checks(n, already), ignore)
    if #errors > 0 then return preflight_fail(n, errors) end
  end
  if n:service_state("containerd") ~= "active" then
    n:err("[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory \"/etc/kubernetes/manifests\"\n")
    n:err("error execution phase wait-control-plane: failed while waiting for the kubelet to start: The HTTP call equal to 'curl -sSL http://127.0.0.1:10248/healthz' returned error: Get \"http://127.0.0.1:10248/healthz\": dial tcp 127.0.0.1:10248: connect: connection refused\n" .. STACK_HINT)
    return 1
  end
  if advertise ~= n.rec.ip then
    n:err("[api-check] Waiting for a healthy API server. This can take up to 4m0s\n")
    n:err("error execution phase wait-control-plane: could not initialize a Kubernetes cluster: [api-check] The API server is not healthy after 4m0s: Get \"https://" .. advertise .. ":6443/livez?timeout=10s\": dial tcp " .. advertise .. ":6443: connect: no route to host\n" .. STACK_HINT)
    return 1
  end

  local seed = n.rec.id .. "/" .. tostring(n:now())
  local sans = { "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", node_name,
    K.first_ip(networking.serviceSubnet or "10.96.0.0/12"), advertise }
  local api = type(cluster.apiServer) == "table" and cluster.apiServer or {}
  for _, s in ipairs(split_list(api.certSANs or flags["apiserver-cert-extra-sans"])) do sans[#sans + 1] = s end
  if endpoint then sans[#sans + 1] = (split_endpoint(endpoint)) end
  n:out("[certs] Using certificateDir folder \"/etc/kubernetes/pki\"\n[certs] Generating \"ca\" certificate and key\n[certs] Generating \"apiserver\" certificate and key\n")
  local dns, ips = {}, {}
  for _, s in ipairs(sans) do if s:match("^[%d%.]+$") then ips[#ips + 1] = s else dns[#dns + 1] = s end end
  n:out("[certs] apiserver serving cert is signed for DNS names [" .. table.concat(dns, " ") .. "] and IPs [" .. table.concat(ips, " ") .. "]\n")
  local pki = rootfs.is_file(n.root, "/etc/kubernetes/pki/ca.crt") and {
    ca = { crt = n:read("/etc/kubernetes/pki/ca.crt"), key = n:read("/etc/kubernetes/pki/ca.key") } } or write_pki(n, seed)
  local server = "https://" .. server_host_port
  n:out("[kubeconfig] Using kubeconfig folder \"/etc/kubernetes\"\n")
  for _, f in ipairs({ { "admin.conf", "kubernetes-admin" }, { "super-admin.conf", "kubernetes-super-admin" },
    { "kubelet.conf", "system:node:" .. node_name }, { "controller-manager.conf", "system:kube-controller-manager" },
    { "scheduler.conf", "system:kube-scheduler" } }) do
    n:out("[kubeconfig] Writing \"" .. f[1] .. "\" kubeconfig file\n")
    rootfs.write(n.root, "/etc/kubernetes/" .. f[1], kubeconfig(server, cluster.clusterName or "kubernetes", f[2], pki.ca.crt,
      pem("CERTIFICATE", seed .. f[1] .. "crt", 720), pem("RSA PRIVATE KEY", seed .. f[1] .. "key", 1190)))
  end
  rootfs.mkdir_p(n.root, "/etc/kubernetes/manifests")
  for _, c in ipairs({ "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler" }) do
    if c ~= "etcd" then n:out("[control-plane] Creating static Pod manifest for \"" .. c .. "\"\n")
    else n:out("[etcd] Creating static Pod manifest for local etcd in \"/etc/kubernetes/manifests\"\n") end
    -- the flags that carry the node's address, by name as kubeadm sorts them (etcd:
    -- phases/etcd/local.go getEtcdCommand; kube-apiserver: phases/controlplane/manifests.go)
    local command = ""
    if c == "kube-apiserver" then
      command = "    command:\n    - kube-apiserver\n    - --advertise-address=" .. advertise .. "\n    - --etcd-servers=https://127.0.0.1:2379\n"
    elseif c == "etcd" then
      command = "    command:\n    - etcd\n    - --advertise-client-urls=https://" .. advertise .. ":2379\n    - --data-dir=/var/lib/etcd\n"
        .. "    - --initial-advertise-peer-urls=https://" .. advertise .. ":2380\n    - --initial-cluster=" .. node_name .. "=https://" .. advertise .. ":2380\n"
        .. "    - --listen-client-urls=https://127.0.0.1:2379,https://" .. advertise .. ":2379\n    - --listen-metrics-urls=http://127.0.0.1:2381\n"
        .. "    - --listen-peer-urls=https://" .. advertise .. ":2380\n    - --name=" .. node_name .. "\n"
    end
    rootfs.write(n.root, "/etc/kubernetes/manifests/" .. c .. ".yaml",
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " .. c .. "\n  namespace: kube-system\nspec:\n  hostNetwork: true\n  containers:\n  - name: " .. c ..
      "\n    image: registry.k8s.io/" .. c .. ":" .. k8s .. "\n" .. command)
  end
  rootfs.mkdir_p(n.root, "/var/lib/kubelet")
  rootfs.write(n.root, "/var/lib/kubelet/config.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: " .. tostring(kubelet.cgroupDriver or "systemd") .. "\n")
  write_kubelet_flags(n, node_reg)
  n:out("[kubelet-start] Writing kubelet configuration to file \"/var/lib/kubelet/config.yaml\"\n[kubelet-start] Starting the kubelet\n")
  n:runtime().services.kubelet = "active"
  -- kube-proxy's pod starts now, with a copy of the node's /etc/hosts (kube_proxy_reaches)
  n:runtime().kube_proxy_hosts = n:read("/etc/hosts") or ""
  n:journal("kubelet", "Started kubelet.service - kubelet: The Kubernetes Node Agent.")
  n:out("[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory \"/etc/kubernetes/manifests\"\n")
  n:out("[kubelet-check] The kubelet is healthy after 501.2ms\n[api-check] The API server is healthy after 2.5s\n")
  n:out("[upload-config] Storing the configuration used in ConfigMap \"kubeadm-config\" in the \"kube-system\" Namespace\n")
  -- phase upload-certs (--upload-certs): the CAs and keys other control planes need, encrypted
  -- with the certificate key into Secret kube-system/kubeadm-certs, which lives 2 hours
  -- (copycerts.UploadCerts, constants.DefaultCertTokenDuration); without a key in the config
  -- kubeadm makes one (32 random bytes, hex) and prints it
  local certs_secret
  if flags["upload-certs"] then
    local key = init.certificateKey
    if key ~= nil and (type(key) ~= "string" or not key:match("^%x+$") or #key % 2 ~= 0) then
      n:err("error execution phase upload-certs: error uploading certs: error decoding certificate key: encoding/hex: invalid byte\n" .. STACK_HINT)
      return 1
    end
    key = key or digest.sha256("certificate key " .. n.rec.id .. "/" .. tostring(n:now()))
    local files = {}
    for _, f in ipairs(UPLOADED_CERTS) do files[f] = n:read("/etc/kubernetes/pki/" .. f) end
    certs_secret = { key = key, expires = n:now() + 7200, files = files }
    n:out("[upload-certs] Storing the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace\n")
    n:out("[upload-certs] Using certificate key:\n" .. key .. "\n")
  end
  n:out("[mark-control-plane] Marking the node " .. node_name .. " as control-plane by adding the labels: [node-role.kubernetes.io/control-plane node.kubernetes.io/exclude-from-external-load-balancers]\n")
  n:out("[mark-control-plane] Marking the node " .. node_name .. " as control-plane by adding the taints [node-role.kubernetes.io/control-plane:NoSchedule]\n")
  if not flags["skip-token-print"] then n:out("[bootstrap-token] Using token: " .. token .. "\n") end
  -- phases "addon/coredns", "addon/kube-proxy" (kind skips the latter for kubeProxyMode none)
  if not (skipped.addon or skipped["addon/coredns"]) then n:out("[addons] Applied essential addon: CoreDNS\n") end
  local kube_proxy = not (skipped.addon or skipped["addon/kube-proxy"])
  if kube_proxy then n:out("[addons] Applied essential addon: kube-proxy\n") end
  n:out("\n")
  local now = n:now()
  local cl = {
    initialized_at = now, name = cluster.clusterName or "kubernetes", k8s = k8s, advertise = advertise,
    endpoint = server_host_port, sans = sans, ca_hash = ca_hash(pki.ca.crt), pod_subnet = networking.podSubnet or flags["pod-network-cidr"],
    tokens = { [token] = now + 24 * 3600 }, objects = {}, kube_proxy = kube_proxy,
    -- the server of the kube-proxy ConfigMap's kubeconfig.conf (the control-plane endpoint:
    -- kubeadm phases/addons/proxy) and the `kubernetes` Service's address (the first of the
    -- service subnet, kubeadm constants.GetAPIServerVirtualIP)
    kube_proxy_server = server, service_vip = K.first_ip(networking.serviceSubnet or "10.96.0.0/12"),
    nodes = { { name = node_name, id = n.rec.id, ip = advertise, role = "control-plane", joined_at = now,
      taints = { "node-role.kubernetes.io/control-plane:NoSchedule" },
      labels = { ["node-role.kubernetes.io/control-plane"] = "", ["node.kubernetes.io/exclude-from-external-load-balancers"] = "" } } },
  }
  -- etcd: this node is the first member, by its advertise address (kina.sim.node.etcd)
  cl.etcd = { cluster_id = etcd.member_id("cluster " .. n.rec.id .. "/" .. tostring(now)),
    members = { etcd.new_member(node_name, advertise, n.rec.id) } }
  cl.extra_sans = split_list(api.certSANs or flags["apiserver-cert-extra-sans"])
  cl.certs_secret = certs_secret
  with_lock(n, "cluster-" .. n.rec.id, function() save_cluster(n.rec, cl) end)
  n:save_state("member", { control_plane = n.rec.id, name = node_name, role = "control-plane" })
  n:save_state("apiserver", { sans = sans })
  -- etcd's Pod starts now, with a copy of the node's /etc/hosts (kina.sim.node.etcd)
  n:runtime().etcd_hosts = n:read("/etc/hosts") or ""
  n:out("Your Kubernetes control-plane has initialized successfully!\n\nTo start using your cluster, you need to run the following as a regular user:\n\n")
  n:out("  mkdir -p $HOME/.kube\n  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config\n  sudo chown $(id -u):$(id -g) $HOME/.kube/config\n\n")
  n:out("You should now deploy a pod network to the cluster.\nRun \"kubectl apply -f [podnetwork].yaml\" with one of the options listed at:\n  https://kubernetes.io/docs/concepts/cluster-administration/addons/\n\n")
  n:out("Then you can join any number of worker nodes by running the following on each as root:\n\n")
  n:out("kubeadm join " .. server_host_port .. " --token " .. (flags["skip-token-print"] and "<value withheld>" or token) .. " \\\n\t--discovery-token-ca-cert-hash " .. cl.ca_hash .. " \n")
  return 0
end

-- The static Pod manifest of a control-plane component, with the flags that carry the node's
-- address (etcd: phases/etcd/local.go getEtcdCommand; kube-apiserver: phases/controlplane).
local function control_plane_manifest(name, k8s, flags)
  local command = "    command:\n    - " .. name .. "\n"
  for _, f in ipairs(flags) do command = command .. "    - " .. f .. "\n" end
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " .. name .. "\n  namespace: kube-system\nspec:\n  hostNetwork: true\n  containers:\n  - name: "
    .. name .. "\n    image: registry.k8s.io/" .. name .. ":" .. k8s .. "\n" .. command
end

-- A control plane joining (under the cluster's lock, `cl` fresh): its certificates (the
-- serving one names the node, its address, the init's certSANs and the endpoint: certs
-- GetAPIServerAltNames), its static Pods, and its etcd member — added as a learner by its
-- advertise address, started with the members so far as --initial-cluster, promoted once it
-- is in sync (phases/etcd/local.go CreateStackedEtcdStaticPodManifestFile). 0 or an exit code.
join_control_plane = function(n, cl, node_name, advertise, seed)
  rootfs.mkdir_p(n.root, "/etc/kubernetes/pki/etcd")
  for _, f in ipairs({ "apiserver", "apiserver-kubelet-client", "front-proxy-client", "etcd/server", "etcd/peer",
    "etcd/healthcheck-client", "apiserver-etcd-client" }) do
    rootfs.write(n.root, "/etc/kubernetes/pki/" .. f .. ".crt", pem("CERTIFICATE", seed .. "/" .. f .. ".crt", 790))
    rootfs.write(n.root, "/etc/kubernetes/pki/" .. f .. ".key", pem("RSA PRIVATE KEY", seed .. "/" .. f .. ".key", 1190))
  end
  local sans = { "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", node_name,
    cl.service_vip or "10.96.0.1", advertise }
  for _, x in ipairs(cl.extra_sans or {}) do sans[#sans + 1] = x end
  if cl.endpoint then sans[#sans + 1] = (split_endpoint(cl.endpoint)) end
  n:save_state("apiserver", { sans = sans })
  local k8s = cl.k8s or n:k8s_version()
  cl.etcd = cl.etcd or { cluster_id = etcd.member_id("cluster"), members = {} }
  local member = etcd.new_member(node_name, advertise, n.rec.id, true)
  cl.etcd.members[#cl.etcd.members + 1] = member
  n:out("[etcd] Announced new etcd member joining to the existing etcd cluster\n")
  local initial = {}
  for _, m in ipairs(cl.etcd.members) do initial[#initial + 1] = m.name .. "=" .. table.concat(m.peer_urls, ",") end
  rootfs.mkdir_p(n.root, "/etc/kubernetes/manifests")
  n:out("[etcd] Creating static Pod manifest for \"etcd\"\n")
  rootfs.write(n.root, "/etc/kubernetes/manifests/etcd.yaml", control_plane_manifest("etcd", k8s, {
    "--advertise-client-urls=https://" .. advertise .. ":2379", "--data-dir=/var/lib/etcd",
    "--initial-advertise-peer-urls=https://" .. advertise .. ":2380", "--initial-cluster=" .. table.concat(initial, ","),
    "--initial-cluster-state=existing", "--listen-client-urls=https://127.0.0.1:2379,https://" .. advertise .. ":2379",
    "--listen-metrics-urls=http://127.0.0.1:2381", "--listen-peer-urls=https://" .. advertise .. ":2380", "--name=" .. node_name }))
  for _, c in ipairs({ "kube-apiserver", "kube-controller-manager", "kube-scheduler" }) do
    rootfs.write(n.root, "/etc/kubernetes/manifests/" .. c .. ".yaml", control_plane_manifest(c, k8s,
      c == "kube-apiserver" and { "--advertise-address=" .. advertise, "--etcd-servers=https://127.0.0.1:2379" } or {}))
  end
  n:runtime().services.kubelet = "active"
  -- etcd's Pod starts now, with a copy of the node's /etc/hosts
  n:runtime().etcd_hosts = n:read("/etc/hosts") or ""
  n:save_runtime()
  member.learner = false
  local ok = etcd.quorum(n.ctx, cl, n.rec)
  if not ok then
    -- MemberPromote refuses a learner that has not caught up with the leader (etcd's
    -- ErrLearnerNotReady); kubeadm gives up after its retries
    n:err("error execution phase control-plane-join/etcd: error creating local etcd static pod manifest file: etcdserver: can only promote a learner member which is in sync with leader\n" .. STACK_HINT)
    member.learner = true
    return 1
  end
  n:out("[etcd] Waiting for the new etcd member to join the cluster. This can take up to 40s\n")
  return 0
end

local function kubeadm_join(n, argv, start)
  local flags, pos = parse_flags(argv, start, { config = true, token = true, ["discovery-token-ca-cert-hash"] = true,
    ["skip-phases"] = true, ["ignore-preflight-errors"] = true, ["certificate-key"] = true, ["node-name"] = true,
    ["apiserver-advertise-address"] = true, ["cri-socket"] = true, v = true })
  local known = { config = 1, token = 1, ["discovery-token-ca-cert-hash"] = 1, ["skip-phases"] = 1, ["ignore-preflight-errors"] = 1,
    ["certificate-key"] = 1, ["node-name"] = 1, ["apiserver-advertise-address"] = 1, ["cri-socket"] = 1, v = 1,
    ["control-plane"] = 1, ["discovery-token-unsafe-skip-ca-verification"] = 1 }
  for k in pairs(flags) do
    if not known[k] then n:err("unknown flag: --" .. k .. "\n" .. STACK_HINT); return 1 end
  end
  local endpoint, token, hashes, unsafe, control_plane, node_name, skip, ignore
  local join_registration, certificate_key, advertise
  if flags.config then
    local docs, err = load_config(n, flags.config)
    if not docs then n:err(err .. "\n" .. STACK_HINT); return 1 end
    local jc = docs.JoinConfiguration
    if not jc then
      n:err("no JoinConfiguration found in " .. flags.config .. "\n" .. STACK_HINT); return 1
    end
    local bt = type(jc.discovery) == "table" and type(jc.discovery.bootstrapToken) == "table" and jc.discovery.bootstrapToken or {}
    endpoint, token, hashes, unsafe = bt.apiServerEndpoint, bt.token, split_list(bt.caCertHashes), bt.unsafeSkipCAVerification == true
    control_plane = jc.controlPlane ~= nil and jc.controlPlane ~= lyaml.null
    if control_plane and type(jc.controlPlane) == "table" then
      certificate_key = jc.controlPlane.certificateKey
      local lae = jc.controlPlane.localAPIEndpoint
      advertise = type(lae) == "table" and lae.advertiseAddress or nil
    end
    node_name = type(jc.nodeRegistration) == "table" and jc.nodeRegistration.name or nil
    join_registration = jc.nodeRegistration
    skip = split_list(jc.skipPhases)
    ignore = split_list(type(jc.nodeRegistration) == "table" and jc.nodeRegistration.ignorePreflightErrors or nil)
  else
    endpoint, token = pos[1], flags.token
    hashes = split_list(flags["discovery-token-ca-cert-hash"])
    unsafe = flags["discovery-token-unsafe-skip-ca-verification"] == true
    control_plane = flags["control-plane"] == true
    node_name = flags["node-name"]
    advertise = flags["apiserver-advertise-address"]
    skip = split_list(flags["skip-phases"])
    ignore = split_list(flags["ignore-preflight-errors"])
  end
  if not endpoint or not token then
    n:err("discovery: Invalid value: \"\": bootstrapToken or file must be set\n" .. STACK_HINT); return 1
  end
  if not tostring(token):match(TOKEN_RE) or #tostring(token) ~= 23 then
    n:err("discovery.bootstrapToken.token: Invalid value: \"" .. tostring(token) .. "\": the bootstrap token \"" .. tostring(token) .. "\" was not of the form \"\\\\A([a-z0-9]{6})\\\\.([a-z0-9]{16})\\\\z\"\n" .. STACK_HINT)
    return 1
  end
  if #hashes == 0 and not unsafe then
    n:err("discovery.bootstrapToken: Invalid value: \"\": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue\n" .. STACK_HINT)
    return 1
  end
  node_name = node_name or n:hostname()
  certificate_key = flags["certificate-key"] or certificate_key
  advertise = advertise or n.rec.ip
  local skipped = {}
  for _, p in ipairs(skip or {}) do skipped[p] = true end
  if not skipped.preflight then
    -- checks.go JoinNodeChecks: the node's own files, then (control-plane joins) the
    -- control-plane checks, the common checks and ip_forward
    n:out("[preflight] Running pre-flight checks\n")
    local manifests = rootfs.list(n.root, "/etc/kubernetes/manifests")
    local checks = {
      { name = "DirAvailable--etc-kubernetes-manifests", failed = manifests ~= nil and #manifests > 0, msg = "/etc/kubernetes/manifests is not empty" },
      { name = "FileAvailable--etc-kubernetes-kubelet.conf", failed = rootfs.is_file(n.root, "/etc/kubernetes/kubelet.conf"), msg = "/etc/kubernetes/kubelet.conf already exists" },
      { name = "FileAvailable--etc-kubernetes-bootstrap-kubelet.conf", failed = rootfs.is_file(n.root, "/etc/kubernetes/bootstrap-kubelet.conf"), msg = "/etc/kubernetes/bootstrap-kubelet.conf already exists" },
    }
    if control_plane then
      local cpus, mem = machine(n)
      checks[#checks + 1] = { name = "NumCPU", failed = cpus < 2, msg = ("the number of available CPUs %d is less than the required 2"):format(cpus) }
      checks[#checks + 1] = { name = "Mem", failed = mem < 1700, msg = ("the system RAM (%d MB) is less than the minimum 1700 MB"):format(mem) }
    end
    checks[#checks + 1] = { name = "CRI", failed = n:service_state("containerd") ~= "active", msg = CRI_DOWN }
    checks[#checks + 1] = { name = "FileContent--proc-sys-net-ipv4-ip_forward", failed = n.commands.__sysctl_read(n, "net.ipv4.ip_forward") ~= "1", msg = "/proc/sys/net/ipv4/ip_forward contents are not set to 1" }
    local errors = run_preflight(n, checks, ignore or {})
    if #errors > 0 then return preflight_fail(n, errors) end
  end
  local host = split_endpoint(endpoint)
  local cp, cl = connect(n, "https://" .. endpoint)
  local phase = "error execution phase preflight: couldn't validate the identity of the API Server: "
  if not cp then
    n:err(phase .. "failed to request the cluster-info ConfigMap: Get \"https://" .. endpoint .. "/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s\": " .. cl .. "\n" .. STACK_HINT)
    return 1
  end
  if n:service_state("containerd") ~= "active" then
    n:err("error execution phase kubelet-start: a kubelet is not running: container runtime is not running\n" .. STACK_HINT); return 1
  end
  local code = with_lock(n, "cluster-" .. cp.id, function()
    cl = cluster_of(cp)
    local exp = cl.tokens and cl.tokens[token]
    if not exp or exp < n:now() then
      n:err(phase .. "could not find a JWS signature in the cluster-info ConfigMap for token ID \"" .. token:sub(1, 6) .. "\"\n" .. STACK_HINT)
      return 1
    end
    if not unsafe then
      local pinned = false
      for _, h in ipairs(hashes) do if h == cl.ca_hash then pinned = true end end
      if not pinned then
        n:err(phase .. "cluster CA found in cluster-info ConfigMap is invalid: none of the public keys \"" .. cl.ca_hash .. "\" are pinned\n" .. STACK_HINT)
        return 1
      end
    end
    for _, node in ipairs(cl.nodes) do
      if node.name == node_name then
        n:err("error execution phase kubelet-start: a Node with name \"" .. node_name .. "\" and status \"Ready\" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node\n" .. STACK_HINT)
        return 1
      end
    end
    local ca = rootfs.read(cp.rootfs, "/etc/kubernetes/pki/ca.crt")
    if control_plane and certificate_key then
      -- phase control-plane-prepare/download-certs (copycerts.DownloadCerts)
      local phase_dl = "error execution phase control-plane-prepare/download-certs: error downloading certs: "
      n:out("[download-certs] Downloading the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace\n")
      if type(certificate_key) ~= "string" or not certificate_key:match("^%x+$") or #certificate_key % 2 ~= 0 then
        n:err(phase_dl .. "error decoding certificate key: encoding/hex: invalid byte\n" .. STACK_HINT); return 1
      end
      local secret = cl.certs_secret
      if not secret or secret.expires < n:now() then
        n:err(phase_dl .. "error downloading the secret: Secret \"kubeadm-certs\" was not found in the \"kube-system\" Namespace. This Secret might have expired. Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to generate a new one\n" .. STACK_HINT)
        return 1
      end
      if secret.key ~= certificate_key then
        -- AES-GCM with another key fails to authenticate (cryptoutil.DecryptBytes)
        n:err(phase_dl .. "error decoding secret data with provided key: cipher: message authentication failed\n" .. STACK_HINT)
        return 1
      end
      rootfs.mkdir_p(n.root, "/etc/kubernetes/pki/etcd")
      for f, content in pairs(secret.files or {}) do
        if content then rootfs.write(n.root, "/etc/kubernetes/pki/" .. f, content) end
      end
    end
    if control_plane then
      local mine = n:read("/etc/kubernetes/pki/ca.crt")
      if mine ~= ca or not rootfs.is_file(n.root, "/etc/kubernetes/pki/ca.key") then
        n:err("error execution phase control-plane-prepare/certs: error creating PKI assets: failed to write or validate certificate \"apiserver\": failure loading apiserver certificate authority: couldn't load the certificate file /etc/kubernetes/pki/ca.crt: open /etc/kubernetes/pki/ca.crt: no such file or directory\n" .. STACK_HINT)
        return 1
      end
    end
    rootfs.mkdir_p(n.root, "/etc/kubernetes/pki")
    rootfs.write(n.root, "/etc/kubernetes/pki/ca.crt", ca or "")
    local seed = n.rec.id .. "/" .. tostring(n:now())
    rootfs.write(n.root, "/etc/kubernetes/kubelet.conf", kubeconfig("https://" .. endpoint, cl.name or "kubernetes", "system:node:" .. node_name, ca or "",
      pem("CERTIFICATE", seed .. "crt", 720), pem("RSA PRIVATE KEY", seed .. "key", 1190)))
    if control_plane then
      local admin = rootfs.read(cp.rootfs, "/etc/kubernetes/admin.conf")
      if admin then rootfs.write(n.root, "/etc/kubernetes/admin.conf", admin) end
      local code = join_control_plane(n, cl, node_name, advertise, seed)
      if code ~= 0 then return code end
    end
    rootfs.mkdir_p(n.root, "/var/lib/kubelet")
    rootfs.write(n.root, "/var/lib/kubelet/config.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n")
    write_kubelet_flags(n, join_registration)
    local entry = { name = node_name, id = n.rec.id, ip = n.rec.ip, role = control_plane and "control-plane" or "worker", joined_at = n:now(),
      taints = control_plane and { "node-role.kubernetes.io/control-plane:NoSchedule" } or rootfs.array(), labels = {} }
    if control_plane then entry.labels["node-role.kubernetes.io/control-plane"] = "" end
    cl.nodes[#cl.nodes + 1] = entry
    save_cluster(cp, cl)
    return 0
  end)
  if code ~= 0 then return code end
  n:save_state("member", { control_plane = cp.id, name = node_name, role = control_plane and "control-plane" or "worker", endpoint = endpoint })
  n:runtime().services.kubelet = "active"
  n:runtime().kube_proxy_hosts = n:read("/etc/hosts") or ""
  n:journal("kubelet", "Started kubelet.service - kubelet: The Kubernetes Node Agent.")
  n:out("[preflight] Reading configuration from the \"kubeadm-config\" ConfigMap in the \"kube-system\" Namespace\n")
  n:out("[kubelet-start] Writing kubelet configuration to file \"/var/lib/kubelet/config.yaml\"\n[kubelet-start] Starting the kubelet\n")
  n:out("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap\n\nThis node has joined the cluster:\n")
  n:out("* Certificate signing request was sent to apiserver and a response was received.\n* The Kubelet was informed of the new secure connection details.\n\n")
  n:out("Run 'kubectl get nodes' on the control-plane to see this node join the cluster.\n\n")
  local _ = host
  return 0
end

local function kubeadm(n, argv)
  local sub = argv[2]
  if sub == "version" then
    local v = n:k8s_version()
    if argv[3] == "-o" and argv[4] == "short" or argv[3] == "-o=short" or argv[3] == "--output=short" then n:out(v .. "\n")
    else n:out("kubeadm version: &version.Info{Major:\"1\", Minor:\"" .. (v:match("^v%d+%.(%d+)") or "35") .. "\", GitVersion:\"" .. v .. "\", GoVersion:\"go1.24.11\", Compiler:\"gc\", Platform:\"linux/arm64\"}\n") end
    return 0
  elseif sub == "init" then
    if argv[3] == "phase" then
      local phase, what = argv[4], argv[5]
      local flags = parse_flags(argv, 6, { config = true, v = true })
      if phase == "certs" and what == "apiserver" then
        local cl = cluster_of(n.rec)
        local has_ca = rootfs.is_file(n.root, "/etc/kubernetes/pki/ca.crt") and rootfs.is_file(n.root, "/etc/kubernetes/pki/ca.key")
        if not cl and not has_ca then n:err("failure loading apiserver certificate authority: couldn't load the certificate file /etc/kubernetes/pki/ca.crt: open /etc/kubernetes/pki/ca.crt: no such file or directory\n" .. STACK_HINT); return 1 end
        local advertise, extra, node_name, endpoint = n.rec.ip, {}, n:hostname(), nil
        if flags.config then
          local docs, err = load_config(n, flags.config)
          if not docs then n:err(err .. "\n" .. STACK_HINT); return 1 end
          local ic = docs.InitConfiguration or {}
          local cc = docs.ClusterConfiguration or {}
          advertise = type(ic.localAPIEndpoint) == "table" and ic.localAPIEndpoint.advertiseAddress or advertise
          node_name = type(ic.nodeRegistration) == "table" and ic.nodeRegistration.name or node_name
          extra = split_list(type(cc.apiServer) == "table" and cc.apiServer.certSANs or nil)
          endpoint = cc.controlPlaneEndpoint
        end
        -- the serving certificate's names (certs/pkiutil GetAPIServerAltNames)
        local sans = { "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
          node_name, "10.96.0.1", advertise }
        for _, x in ipairs(extra) do sans[#sans + 1] = x end
        if endpoint then sans[#sans + 1] = (split_endpoint(endpoint)) end
        -- this node's serving certificate (every control plane has its own)
        n:save_state("apiserver", { sans = sans })
        if cl then
          -- the bootstrap control plane: the cluster's record of it too
          with_lock(n, "cluster-" .. n.rec.id, function()
            cl = cluster_of(n.rec)
            cl.sans, cl.advertise = sans, advertise
            save_cluster(n.rec, cl)
          end)
        end
        cl = { sans = sans }
        if rootfs.is_file(n.root, "/etc/kubernetes/pki/apiserver.crt") and rootfs.is_file(n.root, "/etc/kubernetes/pki/apiserver.key") then
          n:out("[certs] Using existing apiserver certificate and key on disk\n")
          return 0
        end
        local seed = n.rec.id .. "/" .. tostring(n:now())
        rootfs.mkdir_p(n.root, "/etc/kubernetes/pki")
        rootfs.write(n.root, "/etc/kubernetes/pki/apiserver.crt", pem("CERTIFICATE", seed .. "/apiserver.crt", 790))
        rootfs.write(n.root, "/etc/kubernetes/pki/apiserver.key", pem("RSA PRIVATE KEY", seed .. "/apiserver.key", 1190))
        local dns, ips = {}, {}
        for _, x in ipairs(cl.sans or {}) do if x:match("^[%d%.]+$") then ips[#ips + 1] = x else dns[#dns + 1] = x end end
        n:out("[certs] Generating \"apiserver\" certificate and key\n")
        n:out("[certs] apiserver serving cert is signed for DNS names [" .. table.concat(dns, " ") .. "] and IPs [" .. table.concat(ips, " ") .. "]\n")
        return 0
      end
      n:err("error: unknown command \"" .. tostring(phase) .. " " .. tostring(what) .. "\" for \"kubeadm init phase\"\n"); return 1
    end
    return kubeadm_init(n, argv, 3)
  elseif sub == "join" then
    return kubeadm_join(n, argv, 3)
  elseif sub == "token" then
    if argv[3] ~= "create" and argv[3] ~= "list" then n:err("error: unknown command \"" .. tostring(argv[3]) .. "\" for \"kubeadm token\"\n"); return 1 end
    local admin = n:read("/etc/kubernetes/admin.conf")
    if not admin then
      n:err("failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or directory\n" .. STACK_HINT); return 1
    end
    local server = admin:match("server:%s*(%S+)")
    local cp, cl = connect(n, server)
    if not cp then n:err("failed to create or update bootstrap token with name bootstrap-token-abcdef: unable to create Secret: Post \"" .. server .. "/api/v1/namespaces/kube-system/secrets?timeout=10s\": " .. cl .. "\n" .. STACK_HINT); return 1 end
    if argv[3] == "list" then
      n:out("TOKEN                     TTL         EXPIRES                USAGES                   DESCRIPTION   EXTRA GROUPS\n")
      for t, exp in pairs(cl.tokens or {}) do n:out(t .. "   23h         " .. os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(exp)) .. "   authentication,signing   <none>        system:bootstrappers:kubeadm:default-node-token\n") end
      return 0
    end
    local token
    with_lock(n, "cluster-" .. cp.id, function()
      cl = cluster_of(cp)
      local h = digest.sha256("token/" .. n.rec.id .. "/" .. tostring(n:now()) .. "/" .. tostring(math.random()))
      token = h:sub(1, 6):gsub("%d", function(d) return string.char(97 + tonumber(d)) end) .. "." .. h:sub(7, 22)
      cl.tokens = cl.tokens or {}
      cl.tokens[token] = n:now() + 24 * 3600
      save_cluster(cp, cl)
    end)
    local print_join = false
    for i = 4, #argv do if argv[i] == "--print-join-command" then print_join = true end end
    if print_join then
      n:out("kubeadm join " .. cl.endpoint .. " --token " .. token .. " --discovery-token-ca-cert-hash " .. cl.ca_hash .. " \n")
    else
      n:out(token .. "\n")
    end
    return 0
  elseif sub == "reset" then
    local force = false
    for i = 3, #argv do if argv[i] == "-f" or argv[i] == "--force" then force = true end end
    if not force then
      n:out("W0000 00:00:00.000000  reset.go:141] [reset] Unable to fetch the kubeadm-config ConfigMap from cluster\n[reset] Are you sure you want to proceed? [y/N]: ")
      local answer = n.io.stdin and n.io.stdin:read("l")
      if not answer or not answer:match("^[Yy]") then
        n:err("error execution phase preflight: won't proceed; the user didn't answer (Y|y) in order to continue\n" .. STACK_HINT)
        return 1
      end
    end
    local member = n:state("member")
    if member and member.control_plane == n.rec.id then
      with_lock(n, "cluster-" .. n.rec.id, function()
        rootfs.remove(n.root, rootfs.STATE_DIR .. "/cluster.json")
      end)
    end
    for _, p in ipairs({ "/etc/kubernetes/manifests", "/etc/kubernetes/pki", "/var/lib/etcd" }) do rootfs.remove_tree(n.root, p) end
    for _, f in ipairs({ "admin.conf", "super-admin.conf", "kubelet.conf", "bootstrap-kubelet.conf", "controller-manager.conf", "scheduler.conf" }) do
      rootfs.remove(n.root, "/etc/kubernetes/" .. f)
    end
    rootfs.remove(n.root, "/var/lib/kubelet/config.yaml")
    rootfs.remove(n.root, "/var/lib/kubelet/kubeadm-flags.env")
    rootfs.remove(n.root, rootfs.STATE_DIR .. "/member.json")
    rootfs.mkdir_p(n.root, "/etc/kubernetes/manifests")
    n:runtime().services.kubelet = "inactive"
    n:out("[preflight] Running pre-flight checks\n[reset] Deleted contents of the etcd data directory: /var/lib/etcd\n[reset] Stopping the kubelet service\n")
    n:out("[reset] Unmounting mounted directories in \"/var/lib/kubelet\"\n[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/kubelet /etc/kubernetes/pki]\n")
    n:out("[reset] Deleting files: [/etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf /etc/kubernetes/kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/controller-manager.conf /etc/kubernetes/scheduler.conf]\n\n")
    n:out("The reset process does not clean CNI configuration. To do so, you must remove /etc/cni/net.d\n")
    return 0
  elseif sub == nil or sub == "--help" or sub == "-h" then
    n:out("Usage:\n  kubeadm [command]\n\nAvailable Commands:\n  init, join, reset, token, version\n")
    return 0
  end
  n:err("error: unknown command \"" .. tostring(sub) .. "\" for \"kubeadm\"\nRun 'kubeadm --help' for usage.\n")
  return 1
end

-- kubectl -------------------------------------------------------------------------------------

local RESOURCES = {
  -- kind → {plural, group}
  Namespace = { "namespaces", "" }, ServiceAccount = { "serviceaccounts", "" }, ConfigMap = { "configmaps", "" },
  Secret = { "secrets", "" }, Service = { "services", "" }, Pod = { "pods", "" },
  DaemonSet = { "daemonsets", "apps" }, Deployment = { "deployments", "apps" }, StatefulSet = { "statefulsets", "apps" },
  ClusterRole = { "clusterroles", "rbac.authorization.k8s.io" }, ClusterRoleBinding = { "clusterrolebindings", "rbac.authorization.k8s.io" },
  Role = { "roles", "rbac.authorization.k8s.io" }, RoleBinding = { "rolebindings", "rbac.authorization.k8s.io" },
  StorageClass = { "storageclasses", "storage.k8s.io" }, CustomResourceDefinition = { "customresourcedefinitions", "apiextensions.k8s.io" },
}
local CLUSTER_SCOPED = { Namespace = true, ClusterRole = true, ClusterRoleBinding = true, StorageClass = true, CustomResourceDefinition = true }

local CNI_NOT_READY = "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"
-- what the node lifecycle controller writes when a kubelet stops posting
-- (pkg/controller/nodelifecycle: Ready Unknown, NodeStatusUnknown)
local STATUS_UNKNOWN = "Kubelet stopped posting node status."

-- The container of cluster node `node` and a Node for it, booted when running (its boot is
-- what rewrites /etc/hosts and, through kind's entrypoint, the manifests); nil when gone.
local function member_record(n, node)
  if node.id == n.rec.id then return n.rec, n end
  for _, c in ipairs(n.ctx.containers and n.ctx.containers() or {}) do
    if c.id == node.id then
      local view = n.node.context(n.ctx, c)
      if c.state == "running" then view:runtime() end
      return c, view
    end
  end
  return nil
end

--- Can the kubelet of cluster node `node` post its status: its container runs, the kubelet
-- service is active and the server of its kubelet.conf, resolved as the node resolves it
-- (its own /etc/hosts), is a serving control plane whose certificate names that address.
-- Returns ok, why, record, view.
local function kubelet_posting(n, node)
  local rec, view = member_record(n, node)
  if not rec or rec.state ~= "running" then return false, "the node is stopped", rec, view end
  if view:service_state("kubelet") ~= "active" then return false, "the kubelet is not running", rec, view end
  local conf = rootfs.read(rec.rootfs, "/etc/kubernetes/kubelet.conf")
  local server = conf and conf:match("server:%s*(%S+)")
  if not server then return false, "no /etc/kubernetes/kubelet.conf", rec, view end
  local cp, err = connect_from(n.ctx, rec, rootfs.read(rec.rootfs, "/etc/hosts"), server)
  if not cp then return false, err, rec, view end
  return true, nil, rec, view
end
K.kubelet_posting = kubelet_posting

-- Ready, and when not: the condition's message, status ("False" | "Unknown") and reason. A
-- posting kubelet reports the address of its --node-ip (kubeadm-flags.env, which kind's
-- entrypoint rewrites at boot), so the node's InternalIP follows it.
local function node_ready(n, cl, node)
  local posting, _, rec = kubelet_posting(n, node)
  if not posting then return false, STATUS_UNKNOWN, "Unknown", "NodeStatusUnknown" end
  local flags = rootfs.read(rec.rootfs, "/var/lib/kubelet/kubeadm-flags.env") or ""
  node.ip = flags:match("%-%-node%-ip=([%d%.]+)") or (rec.ip and rec.ip:gsub("/%d+$", "")) or node.ip
  if not cl.cni_at then return false, CNI_NOT_READY, "False", "KubeletNotReady" end
  -- a kubelet reports Ready a little after it (re)started: after the CNI, its join, its boot
  local since = math.max(cl.cni_at, node.joined_at or 0, tonumber(rec.started) or 0)
  if n:now() < since + n:ready_delay() then return false, CNI_NOT_READY, "False", "KubeletNotReady" end
  return true
end

--- Does kube-proxy on cluster node `node` reach the API server? Its pod's /etc/hosts is the
-- kubelet's copy of the node's, written when the pod's container starts (kubelet_pods.go
-- ensureHostsFile: hostNetwork pods read the node's /etc/hosts), so a later change of the
-- node's file does not reach it. The copy is taken once per boot, when the kubelet can start
-- the pod (a DaemonSet pod needs the API server for that), and again after the pod is deleted.
local function kube_proxy_reaches(n, cl, node)
  if cl.kube_proxy == false then return false, "kube-proxy is not installed" end
  local posting, why, rec, view = kubelet_posting(n, node)
  if not rec or rec.state ~= "running" then return false, why end
  local rt = view:runtime()
  if rt.kube_proxy_hosts == nil then
    if not posting then return false, why end
    rt.kube_proxy_hosts = rootfs.read(rec.rootfs, "/etc/hosts") or ""
    view:save_runtime()
  end
  local cp, err, serving = connect_from(n.ctx, rec, rt.kube_proxy_hosts, cl.kube_proxy_server or ("https://" .. cl.endpoint))
  if not cp then return false, err end
  -- the API server it reached (with several control planes, one behind the load balancer)
  return true, nil, serving
end
K.kube_proxy_reaches = kube_proxy_reaches

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t)) end

local function node_object(n, cl, node)
  local ready, why, status, reason = node_ready(n, cl, node)
  local labels = {
    ["beta.kubernetes.io/arch"] = "arm64", ["beta.kubernetes.io/os"] = "linux", ["kubernetes.io/arch"] = "arm64",
    ["kubernetes.io/hostname"] = node.name, ["kubernetes.io/os"] = "linux",
  }
  for k, v in pairs(node.labels or {}) do labels[k] = v end
  -- the kubelet registers with its --node-labels (kubeadm-flags.env, from kubeletExtraArgs)
  local rec = member_record(n, node)
  local flags = rec and rec.rootfs and rootfs.read(rec.rootfs, "/var/lib/kubelet/kubeadm-flags.env") or ""
  for pair in (flags:match("%-%-node%-labels=(%S+)") or ""):gsub('"$', ""):gmatch("[^,]+") do
    local k, v = pair:match("^([^=]+)=(.*)$")
    if k then labels[k] = v end
  end
  local taints = rootfs.array()
  for _, t in ipairs(node.taints or {}) do
    local key, value, effect = t:match("^([^=:]+)=?([^:]*):(.*)$")
    taints[#taints + 1] = { key = key, effect = effect, value = value ~= "" and value or nil }
  end
  if not ready then taints[#taints + 1] = { key = "node.kubernetes.io/not-ready", effect = "NoSchedule" } end
  local t = iso(node.joined_at or 0)
  local function cond(typ, status, reason, msg)
    return { type = typ, status = status, reason = reason, message = msg, lastHeartbeatTime = iso(n:now()), lastTransitionTime = t }
  end
  return {
    apiVersion = "v1", kind = "Node",
    metadata = { name = node.name, labels = labels, creationTimestamp = t, annotations = { ["kubeadm.alpha.kubernetes.io/cri-socket"] = "unix:///run/containerd/containerd.sock" } },
    spec = { podCIDR = "10.244." .. (node.index or 0) .. ".0/24", providerID = "kind://apple/" .. (cl.name or "kind") .. "/" .. node.name, taints = #taints > 0 and taints or nil },
    status = {
      addresses = { { type = "InternalIP", address = node.ip }, { type = "Hostname", address = node.name } },
      conditions = {
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ready and cond("Ready", "True", "KubeletReady", "kubelet is posting ready status") or cond("Ready", status, reason, why),
      },
      -- the node's own containerd and Debian (kina.sim.node.release); the kubelet reports
      -- `containerd://<version>` from the CRI Version call and os-release's PRETTY_NAME
      nodeInfo = { architecture = "arm64", containerRuntimeVersion = "containerd://" .. n:release().containerd,
        kernelVersion = n.rec.kernel or n.node.kernel_release(n:version()),
        kubeProxyVersion = cl.k8s, kubeletVersion = cl.k8s, operatingSystem = "linux", osImage = n:release().debian.pretty },
    },
  }, ready
end

-- A small JSONPath: .a.b, ..a (recursive), [n], [-1:], [*], [?(@.key=="value")]
local function jsonpath(value, expr)
  local results = { value }
  local i = 1
  while i <= #expr do
    local rec, name = expr:match("^(%.%.?)([%w_%-]+)", i)
    if rec then
      local nxt = {}
      local function descend(v)
        if type(v) ~= "table" then return end
        if v[name] ~= nil then nxt[#nxt + 1] = v[name] end
        for k, child in pairs(v) do if k ~= name or rec == ".." then if rec == ".." then descend(child) end end end
      end
      for _, v in ipairs(results) do
        if rec == "." then if type(v) == "table" and v[name] ~= nil then nxt[#nxt + 1] = v[name] end else descend(v) end
      end
      results = nxt
      i = i + #rec + #name
    else
      local idx = expr:match("^%[([^%]]*)%]", i)
      if not idx then return nil, "unexpected path string \"" .. expr:sub(i) .. "\"" end
      local nxt = {}
      for _, v in ipairs(results) do
        if type(v) == "table" then
          local field, want = idx:match('^%?%(@%.([%w_%-]+)%s*==%s*"([^"]*)"%)$')
          if field then
            -- a filter, [?(@.type=="InternalIP")]: the elements whose field has that value
            for _, c in ipairs(v) do if type(c) == "table" and tostring(c[field]) == want then nxt[#nxt + 1] = c end end
          elseif idx == "*" then for _, c in ipairs(v) do nxt[#nxt + 1] = c end
          elseif idx:match("^%-?%d+:$") then
            local k = tonumber(idx:sub(1, -2))
            local from = k < 0 and #v + k + 1 or k + 1
            for j = math.max(from, 1), #v do nxt[#nxt + 1] = v[j] end
          elseif idx:match("^%-?%d+$") then
            local k = tonumber(idx)
            local c = v[k < 0 and #v + k + 1 or k + 1]
            if c ~= nil then nxt[#nxt + 1] = c end
          end
        end
      end
      results = nxt
      i = i + #idx + 2
    end
  end
  return results
end
K.jsonpath = jsonpath

local function render_jsonpath(obj, template)
  local out = template:gsub("%b{}", function(b)
    local expr = b:sub(2, -2)
    if expr == "\\n" then return "\n" end
    local res = jsonpath(obj, expr) or {}
    local parts = {}
    for _, v in ipairs(res) do parts[#parts + 1] = type(v) == "table" and rootfs.encode_json(v) or tostring(v) end
    return table.concat(parts, " ")
  end)
  return out
end

local function age(n, t)
  local s = math.max(0, math.floor(n:now() - (t or n:now())))
  if s < 120 then return s .. "s" end
  if s < 7200 then return (s // 60) .. "m" end
  return (s // 3600) .. "h"
end

local function synth_pods(n, cl)
  local pods = {}
  local cp = cl.nodes[1]
  -- labels as the manifests set them: kubeadm's static Pods (component, tier) and kube-proxy
  -- DaemonSet (k8s-app), kind's kindnet (app, k8s-app, tier) and CoreDNS (k8s-app: kube-dns)
  local function add(ns, name, node, ready, status, t, labels)
    pods[#pods + 1] = { ns = ns, name = name, node = node, ready = ready, status = status, t = t, labels = labels or {} }
  end
  for _, c in ipairs({ "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler" }) do
    add("kube-system", c .. "-" .. cp.name, cp.name, "1/1", "Running", cl.initialized_at, { component = c, tier = "control-plane" })
  end
  local any_ready = false
  for i, node in ipairs(cl.nodes) do
    -- a deleted DaemonSet pod comes back under a new name (node.kube_proxy_pods counts them)
    local suffix = digest.sha256(node.name .. (node.kube_proxy_pods and ("/" .. node.kube_proxy_pods) or "")):sub(1, 5)
    if cl.kube_proxy ~= false then
      add("kube-system", "kube-proxy-" .. suffix, node.name, "1/1", "Running", node.kube_proxy_at or node.joined_at, { ["k8s-app"] = "kube-proxy" })
    end
    if cl.cni_at then
      add("kube-system", "kindnet-" .. digest.sha256("k" .. node.name):sub(1, 5), node.name, "1/1", "Running", math.max(cl.cni_at, node.joined_at),
        { app = "kindnet", ["k8s-app"] = "kindnet", tier = "node" })
    end
    if node_ready(n, cl, node) then any_ready = true end
    local _ = i
  end
  for _, c in ipairs({ "coredns-66bc5c9577-" .. digest.sha256("c1" .. cl.name):sub(1, 5), "coredns-66bc5c9577-" .. digest.sha256("c2" .. cl.name):sub(1, 5) }) do
    add("kube-system", c, any_ready and cp.name or "<none>", any_ready and "1/1" or "0/1", any_ready and "Running" or "Pending", cl.initialized_at,
      { ["k8s-app"] = "kube-dns" })
  end
  if cl.objects and cl.objects["deployments.apps/local-path-storage/local-path-provisioner"] then
    add("local-path-storage", "local-path-provisioner-7b8c8ddbd6-" .. digest.sha256("lp"):sub(1, 5), any_ready and cp.name or "<none>", any_ready and "1/1" or "0/1", any_ready and "Running" or "Pending", cl.initialized_at)
  end
  return pods, any_ready
end

local function kubectl(n, argv)
  -- global flags anywhere
  local args, kubeconfig_path, namespace, all_ns, output, selector, all, timeout, filename, for_cond = {}, nil, nil, false, nil, nil, false, nil, nil, nil
  local field_selector, no_headers, subresource, patch_type, patch_text
  local command -- after "--" (kubectl exec)
  local i = 2
  local function value_of(a, name)
    if a == "--" .. name then i = i + 1; return argv[i] end
    return a:match("^%-%-" .. name:gsub("%-", "%%-") .. "=(.*)$")
  end
  while i <= #argv do
    local a = argv[i]
    local v
    if a == "--" then
      command = table.move(argv, i + 1, #argv, 1, {})
      break
    end
    v = value_of(a, "kubeconfig"); if v then kubeconfig_path = v; goto next end
    v = value_of(a, "namespace"); if v then namespace = v; goto next end
    v = value_of(a, "output"); if v then output = v; goto next end
    v = value_of(a, "selector"); if v then selector = v; goto next end
    v = value_of(a, "timeout"); if v then timeout = v; goto next end
    v = value_of(a, "filename"); if v then filename = v; goto next end
    v = value_of(a, "for"); if v then for_cond = v; goto next end
    v = value_of(a, "field-selector"); if v then field_selector = v; goto next end
    v = value_of(a, "wait"); if v then goto next end
    v = value_of(a, "subresource"); if v then subresource = v; goto next end
    v = value_of(a, "type"); if v then patch_type = v; goto next end
    v = value_of(a, "patch"); if v then patch_text = v; goto next end
    if a == "--no-headers" or a == "--no-headers=true" then no_headers = true; goto next end
    if a == "-p" then i = i + 1; patch_text = argv[i]; goto next end
    if a == "-n" then i = i + 1; namespace = argv[i]
    elseif a == "-o" then i = i + 1; output = argv[i]
    elseif a:match("^%-o=") or a:match("^%-o%S") then output = a:gsub("^%-o=?", "")
    elseif a == "-l" then i = i + 1; selector = argv[i]
    elseif a == "-f" then i = i + 1; filename = argv[i]
    elseif a == "-A" or a == "--all-namespaces" then all_ns = true
    elseif a == "--all" then all = true
    elseif a:match("^%-%-v=") or a == "--validate=false" or a == "--overwrite" or a == "--server-side" or a:match("^%-%-request%-timeout") then -- accepted
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      n:err("error: unknown flag: " .. a .. "\nSee 'kubectl --help' for usage.\n"); return 1
    else args[#args + 1] = a end
    ::next::
    i = i + 1
  end
  local verb = args[1]
  if not verb then n:out("kubectl controls the Kubernetes cluster manager.\n"); return 0 end
  if verb == "version" and (argv[3] == "--client" or argv[2] == "--client") then
    n:out("Client Version: " .. n:k8s_version() .. "\nKustomize Version: v5.7.1\n"); return 0
  end
  kubeconfig_path = kubeconfig_path or n.env.KUBECONFIG
  local server
  if not kubeconfig_path and rootfs.is_file(n.root, "/root/.kube/config") then kubeconfig_path = "/root/.kube/config" end
  if kubeconfig_path then
    local text = n:read(kubeconfig_path)
    if not text then n:err("error: stat " .. kubeconfig_path .. ": no such file or directory\n"); return 1 end
    server = text:match("server:%s*(%S+)")
  end
  if not server then
    n:err("The connection to the server localhost:8080 was refused - did you specify the right host or port?\n"); return 1
  end
  local cp, cl, why = connect(n, server)
  if not cp then
    local host = split_endpoint(server)
    if why == "etcd" then n:err("Error from server: " .. cl .. "\n")
    elseif cl:match("^tls:") then n:err("Unable to connect to the server: " .. cl .. "\n")
    elseif cl:match("connection refused") then n:err("The connection to the server " .. server:gsub("^https://", "") .. " was refused - did you specify the right host or port?\n")
    else n:err("Unable to connect to the server: " .. cl .. "\n") end
    local _ = host
    return 1
  end
  local function update(fn)
    return with_lock(n, "cluster-" .. cp.id, function()
      local fresh = cluster_of(cp)
      local r = fn(fresh)
      save_cluster(cp, fresh)
      cl = fresh
      return r
    end)
  end
  local function nodes_matching(name_filter)
    local out = {}
    for idx, node in ipairs(cl.nodes) do
      node.index = idx - 1
      local obj = node_object(n, cl, node)
      local ok = true
      if name_filter and node.name ~= name_filter then ok = false end
      if selector then
        for term in selector:gmatch("[^,]+") do
          local absent = term:match("^!(.+)$")
          if absent then
            -- a set-based "!key": the label is not there (apimachinery labels.DoesNotExist)
            if obj.metadata.labels[absent] ~= nil then ok = false end
          else
            local k, v = term:match("^([^=!]+)=?=?(.*)$")
            local lv = obj.metadata.labels[k]
            if lv == nil or (v ~= "" and lv ~= v) then ok = false end
          end
        end
      end
      if ok then out[#out + 1] = { node = node, obj = obj } end
    end
    return out
  end

  if verb == "create" and (args[2] == "configmap" or args[2] == "cm") and not filename then
    -- `kubectl create configmap NAME [--from-literal=K=V ...]` (data left out: nothing reads it)
    local name = args[3]
    if not name then n:err("error: exactly one NAME is required, got 0\nSee 'kubectl create configmap -h' for help and examples\n"); return 1 end
    local ns = namespace or "default"
    local key = "configmaps/" .. ns .. "/" .. name
    local exists = false
    update(function(fresh)
      fresh.objects = fresh.objects or {}
      if fresh.objects[key] then exists = true; return end
      fresh.objects[key] = { kind = "ConfigMap", name = name, namespace = ns, at = n:now(),
        hash = digest.sha256(rootfs.encode_json({ apiVersion = "v1", kind = "ConfigMap", metadata = { name = name, namespace = ns } })) }
    end)
    if exists then n:err("error: failed to create configmap: configmaps \"" .. name .. "\" already exists\n"); return 1 end
    n:out("configmap/" .. name .. " created\n")
    return 0
  end
  if verb == "apply" or verb == "create" then
    if not filename then n:err("error: must specify one of -f and -k\n"); return 1 end
    local text, source
    if filename == "-" then text = n.io.stdin and n.io.stdin:read("a") or ""; source = "STDIN"
    else
      text = n:read(filename); source = filename
      if not text then n:err("error: the path \"" .. filename .. "\" does not exist\n"); return 1 end
    end
    local ok, docs = pcall(lyaml.load, text, { all = true })
    if not ok then
      n:err("error: error parsing " .. source .. ": error converting YAML to JSON: yaml: " .. tostring(docs):gsub("^.-:%d+: ", "") .. "\n"); return 1
    end
    -- sigs.k8s.io/yaml converts to JSON, which has no mapping keys: `{{ .PodSubnet }}` left
    -- untemplated parses as a map used as a key and is rejected
    local function bad_key(v)
      if type(v) ~= "table" then return nil end
      for k, x in pairs(v) do
        if type(k) == "table" then return k end
        local inner = bad_key(x)
        if inner then return inner end
      end
    end
    for _, d in ipairs(docs) do
      local k = bad_key(d)
      if k then
        local inner = next(k)
        n:err("error: error parsing " .. source .. ": error converting YAML to JSON: yaml: invalid map key: map[interface {}]interface {}{\"" .. tostring(inner) .. "\":interface {}(nil)}\n")
        return 1
      end
    end
    local objs = {}
    for _, d in ipairs(docs) do
      if d ~= lyaml.null and d ~= nil then
        if type(d) ~= "table" then n:err("error: error validating \"" .. source .. "\": error validating data: invalid object\n"); return 1 end
        local missing = {}
        if not d.apiVersion then missing[#missing + 1] = "apiVersion not set" end
        if not d.kind then missing[#missing + 1] = "kind not set" end
        if #missing > 0 then
          n:err("error: error validating \"" .. source .. "\": error validating data: [" .. table.concat(missing, ", ") .. "]; if you choose to ignore these errors, turn validation off with --validate=false\n")
          return 1
        end
        if type(d.metadata) ~= "table" or not d.metadata.name then
          n:err("error: error when retrieving current configuration of:\nResource: \"" .. tostring(d.kind) .. "\", GroupVersionKind: \"" .. tostring(d.apiVersion) .. ", Kind=" .. tostring(d.kind) .. "\"\nfrom server for: \"" .. source .. "\": resource name may not be empty\n")
          return 1
        end
        objs[#objs + 1] = d
      end
    end
    local code = 0
    update(function(fresh)
      fresh.objects = fresh.objects or {}
      for _, d in ipairs(objs) do
        local res = RESOURCES[d.kind] or { d.kind:lower() .. "s", (d.apiVersion:match("^(.*)/") or "") }
        local group = res[2]
        local ns = CLUSTER_SCOPED[d.kind] and "" or (d.metadata.namespace or namespace or "default")
        local key = res[1] .. (group ~= "" and ("." .. group) or "") .. "/" .. ns .. "/" .. d.metadata.name
        local shown = d.kind:lower() .. (group ~= "" and ("." .. group) or "") .. "/" .. d.metadata.name
        local body = rootfs.encode_json(d)
        if fresh.objects[key] and verb == "create" then
          n:err("Error from server (AlreadyExists): error when creating \"" .. source .. "\": " .. res[1] .. (group ~= "" and ("." .. group) or "") .. " \"" .. d.metadata.name .. "\" already exists\n")
          code = 1
        else
          local before = fresh.objects[key]
          fresh.objects[key] = { kind = d.kind, name = d.metadata.name, namespace = ns, at = n:now(), templated = body:find("{{", 1, true) ~= nil, hash = digest.sha256(body) }
          -- Services and Events are kept whole: kina's LoadBalancer controller reads and patches them
          if services.KEPT[d.kind] then fresh.objects[key].body = services.stored(d, ns, n:now(), before, fresh.service_vip) end
          n:out(shown .. " " .. (before and (before.hash == fresh.objects[key].hash and "unchanged" or "configured") or "created") .. "\n")
          if d.kind == "DaemonSet" and ns == "kube-system" and not fresh.objects[key].templated and not fresh.cni_at then
            fresh.cni_at = n:now()
          end
        end
      end
    end)
    return code
  elseif verb == "patch" then
    -- `kubectl patch service NAME [-n NS] --subresource=status --type=merge -p PATCH`: what
    -- kina's LoadBalancer controller sends; other patches are not simulated
    local kind, name = args[2], args[3]
    if kind and kind:find("/", 1, true) then kind, name = kind:match("^([^/]+)/(.*)$") end
    if kind ~= "service" and kind ~= "services" and kind ~= "svc" then
      n:err("error: the simulator patches only services, not " .. tostring(kind) .. "\n"); return 1
    end
    if subresource ~= "status" or patch_type ~= "merge" or not patch_text then
      n:err("error: the simulator patches a service's status only, with --subresource=status --type=merge -p PATCH\n"); return 1
    end
    local ns = namespace or "default"
    local key = "services/" .. ns .. "/" .. tostring(name)
    local msg, changed
    update(function(fresh)
      local o = fresh.objects and fresh.objects[key]
      if not (o and o.body) then msg = "Error from server (NotFound): services \"" .. tostring(name) .. "\" not found\n"; return end
      local body, c = services.patch_status(o.body, patch_text, rootfs.null)
      if not body then msg = c .. "\n"; return end
      o.body, changed = body, c
    end)
    if msg then n:err(msg); return 1 end
    n:out("service/" .. name .. " patched" .. (changed and "" or " (no change)") .. "\n")
    return 0
  elseif verb == "taint" or verb == "label" then
    if args[2] ~= "nodes" and args[2] ~= "node" and args[2] ~= "no" then
      n:err("error: unknown resource \"" .. tostring(args[2]) .. "\" for " .. verb .. " in the simulator\n"); return 1
    end
    local target = not all and args[3] or nil
    local specs = { table.unpack(args, all and 3 or 4) }
    if #specs == 0 then n:err("error: at least one " .. verb .. " update is required\n"); return 1 end
    local code = 0
    update(function(fresh)
      local matched = 0
      for _, node in ipairs(fresh.nodes) do
        if all or node.name == target then
          matched = matched + 1
          local changed = false
          for _, spec in ipairs(specs) do
            if verb == "taint" then
              node.taints = node.taints or {}
              if spec:sub(-1) == "-" then
                local key = spec:sub(1, -2):match("^([^=:]+)")
                local keep, found = {}, false
                for _, t in ipairs(node.taints) do if t:match("^([^=:]+)") == key then found = true else keep[#keep + 1] = t end end
                if not found then
                  n:err("error: taint \"" .. spec:sub(1, -2) .. "\" not found\n"); code = 1
                else
                  node.taints = keep; changed = true
                end
              else
                if not spec:match(":[%a]+$") then n:err("error: invalid taint spec: " .. spec .. "\n"); code = 1
                else node.taints[#node.taints + 1] = spec; changed = true end
              end
            else
              node.labels = node.labels or {}
              if spec:sub(-1) == "-" then
                local key = spec:sub(1, -2)
                if node.labels[key] ~= nil then node.labels[key] = nil; changed = true
                else n:out("label \"" .. key .. "\" not found.\n") end
              else
                local k, v = spec:match("^([^=]+)=(.*)$")
                if not k then n:err("error: at least one label update is required\n"); code = 1
                else node.labels[k] = v; changed = true end
              end
            end
          end
          if code == 0 then
            if verb == "taint" then n:out("node/" .. node.name .. (changed and (specs[1]:sub(-1) == "-" and " untainted" or " tainted") or " unchanged") .. "\n")
            else n:out("node/" .. node.name .. (changed and (specs[1]:sub(-1) == "-" and " unlabeled" or " labeled") or " not labeled") .. "\n") end
          end
        end
      end
      if matched == 0 and code == 0 then
        n:err("Error from server (NotFound): nodes \"" .. tostring(target) .. "\" not found\n"); code = 1
      end
    end)
    return code
  elseif verb == "get" or verb == "describe" then
    local kind = args[2]
    local name = args[3]
    if kind and kind:find("/", 1, true) then kind, name = kind:match("^([^/]+)/(.*)$") end
    if kind == "nodes" or kind == "node" or kind == "no" then
      local list = nodes_matching(name)
      if name and #list == 0 then n:err("Error from server (NotFound): nodes \"" .. name .. "\" not found\n"); return 1 end
      if verb == "describe" then
        for _, e in ipairs(list) do
          local o = e.obj
          n:out("Name:               " .. o.metadata.name .. "\nRoles:              " .. (e.node.role == "control-plane" and "control-plane" or "<none>") .. "\n")
          n:out("Labels:             kubernetes.io/hostname=" .. o.metadata.name .. "\nCreationTimestamp:  " .. o.metadata.creationTimestamp .. "\n")
          local taints = {}
          for _, t in ipairs(o.spec.taints or {}) do taints[#taints + 1] = t.key .. (t.value and ("=" .. t.value) or "") .. ":" .. t.effect end
          n:out("Taints:             " .. (#taints > 0 and table.concat(taints, "\n                    ") or "<none>") .. "\nConditions:\n")
          n:out("  Type             Status  Reason                       Message\n")
          for _, c in ipairs(o.status.conditions) do n:out(string.format("  %-16s %-7s %-28s %s\n", c.type, c.status, c.reason, c.message)) end
          n:out("Addresses:\n  InternalIP:  " .. e.node.ip .. "\n  Hostname:    " .. o.metadata.name .. "\n")
          n:out("System Info:\n  Kernel Version:             " .. o.status.nodeInfo.kernelVersion .. "\n  OS Image:                   " .. o.status.nodeInfo.osImage .. "\n")
          n:out("  Container Runtime Version:  " .. o.status.nodeInfo.containerRuntimeVersion .. "\n  Kubelet Version:            " .. o.status.nodeInfo.kubeletVersion .. "\n\n")
        end
        return 0
      end
      local items = rootfs.array()
      for _, e in ipairs(list) do items[#items + 1] = e.obj end
      local doc = name and items[1] or { apiVersion = "v1", kind = "List", items = items, metadata = { resourceVersion = "" } }
      if output == "json" then n:out(rootfs.encode_json(doc) .. "\n")
      elseif output == "name" then for _, o in ipairs(items) do n:out("node/" .. o.metadata.name .. "\n") end
      elseif output and output:match("^jsonpath=") then n:out(render_jsonpath(doc, output:sub(10)))
      elseif output and output:match("^custom%-columns=") then
        if #items == 0 then n:err("No resources found\n"); return 0 end
        local text, err = services.custom_columns(items, output:sub(#"custom-columns=" + 1), not no_headers, jsonpath)
        if not text then n:err(err .. "\n"); return 1 end
        n:out(text)
      elseif output and output:match("^yaml") then n:out(lyaml.dump({ doc }))
      else
        if #list == 0 then n:err("No resources found\n"); return 0 end
        local wide = output == "wide"
        local head = string.format("%-25s %-10s %-15s %-5s %-9s", "NAME", "STATUS", "ROLES", "AGE", "VERSION")
        if wide then head = head .. string.format(" %-15s %-12s %-31s %-15s %s", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME") end
        n:out((head:gsub("%s+$", "")) .. "\n")
        for _, e in ipairs(list) do
          local obj, ready = node_object(n, cl, e.node)
          local row = string.format("%-25s %-10s %-15s %-5s %-9s", e.node.name, ready and "Ready" or "NotReady", e.node.role == "control-plane" and "control-plane" or "<none>", age(n, e.node.joined_at), cl.k8s)
          if wide then
            local info = obj.status.nodeInfo
            row = row .. string.format(" %-15s %-12s %-31s %-15s %s", e.node.ip or "<none>", "<none>", info.osImage, info.kernelVersion, info.containerRuntimeVersion)
          end
          n:out((row:gsub("%s+$", "")) .. "\n")
        end
      end
      return 0
    elseif kind == "pods" or kind == "pod" or kind == "po" then
      local pods = synth_pods(n, cl)
      local ns = namespace or "default"
      local shown = {}
      for _, p in ipairs(pods) do if all_ns or p.ns == ns then shown[#shown + 1] = p end end
      if #shown == 0 then n:err("No resources found in " .. ns .. " namespace.\n"); return 0 end
      local wide = output == "wide"
      local ips = {}
      for _, node in ipairs(cl.nodes) do ips[node.name] = node.ip end
      if verb == "describe" then
        for k, p in ipairs(shown) do
          if k > 1 then n:out("\n\n") end
          n:out("Name:             " .. p.name .. "\nNamespace:        " .. p.ns .. "\nPriority:         2000001000\n")
          n:out("Node:             " .. (p.node ~= "<none>" and (p.node .. "/" .. (ips[p.node] or "")) or "<none>") .. "\n")
          n:out("Start Time:       " .. os.date("!%a, %d %b %Y %H:%M:%S +0000", math.floor(p.t or n:now())) .. "\n")
          n:out("Status:           " .. p.status .. "\nConditions:\n  Type              Status\n  Ready             " ..
            (p.status == "Running" and "True" or "False") .. "\nEvents:           <none>\n")
        end
        return 0
      end
      local function line(cells)
        local fmt = (all_ns and "%-20s " or "") .. "%-45s %-7s %-9s %-10s %-5s" .. (wide and " %-15s %-25s %-16s %s" or "")
        if not all_ns then table.remove(cells, 1) end
        if not wide then for _ = 1, 4 do table.remove(cells) end end
        n:out((string.format(fmt, table.unpack(cells)):gsub("%s+$", "")) .. "\n")
      end
      line({ "NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES" })
      for _, p in ipairs(shown) do
        local host_net = p.name:match("^etcd%-") or p.name:match("^kube%-") or p.name:match("^kindnet%-")
        local ip = p.status ~= "Running" and "<none>" or (host_net and ips[p.node]) or
          ("10.244.0." .. (tonumber(digest.sha256(p.name):sub(1, 2), 16) % 250 + 2))
        line({ p.ns, p.name, p.ready, p.status, "0", age(n, p.t), ip or "<none>", p.node, "<none>", "<none>" })
      end
      return 0
    elseif kind then
      kind = ({ svc = "services", ev = "events", cm = "configmaps", ns = "namespaces" })[kind] or kind
      local found = {}
      for key, o in pairs(cl.objects or {}) do
        local plural = key:match("^([^/]+)/")
        local short = plural:match("^([^%.]+)")
        if (kind == plural or kind == short or kind == short:gsub("s$", "") or kind == o.kind:lower()) and (not name or o.name == name)
          and (all_ns or o.namespace == "" or o.namespace == (namespace or "default")) then
          found[#found + 1] = o
        end
      end
      if name and #found == 0 then n:err("Error from server (NotFound): " .. kind .. " \"" .. name .. "\" not found\n"); return 1 end
      if #found == 0 then n:err("No resources found\n"); return 0 end
      table.sort(found, function(a, b)
        if a.namespace ~= b.namespace then return a.namespace < b.namespace end
        return a.name < b.name
      end)
      if output and (output:match("^custom%-columns=") or output == "json") then
        -- the stored object (Services, Events: kina.sim.node.services), else what is known of it
        local items = rootfs.array()
        for _, o in ipairs(found) do
          items[#items + 1] = o.body or { kind = o.kind, metadata = { name = o.name, namespace = o.namespace ~= "" and o.namespace or nil } }
        end
        if output == "json" then
          n:out(rootfs.encode_json(name and items[1] or { apiVersion = "v1", kind = "List", items = items, metadata = { resourceVersion = "" } }) .. "\n")
          return 0
        end
        local text, err = services.custom_columns(items, output:sub(#"custom-columns=" + 1), not no_headers, jsonpath)
        if not text then n:err(err .. "\n"); return 1 end
        n:out(text)
        return 0
      end
      n:out(string.format("%-40s %s\n", "NAME", "AGE"))
      for _, o in ipairs(found) do n:out(string.format("%-40s %s\n", o.name, age(n, o.at))) end
      return 0
    end
    n:err("You must specify the type of resource to get.\n"); return 1
  elseif verb == "wait" then
    if not for_cond then n:err("error: --for must be specified\n"); return 1 end
    local cond = for_cond:match("^condition=([%w]+)") or for_cond
    local kind, name = args[2], args[3]
    if kind and kind:find("/", 1, true) then kind, name = kind:match("^([^/]+)/(.*)$") end
    local secs = 30
    if timeout then
      local num, unit = timeout:match("^(%d+%.?%d*)(%a*)$")
      secs = (tonumber(num) or 30) * (unit == "m" and 60 or (unit == "h" and 3600 or (unit == "ms" and 0.001 or 1)))
    end
    -- the timeout runs on the real clock (uv.hrtime), whatever clock the node reports
    local deadline = uv.hrtime() + secs * 1e9
    while true do
      cl = cluster_of(cp) or cl
      local pending, done = {}, {}
      if kind == "nodes" or kind == "node" or kind == "no" then
        local list = nodes_matching(name)
        if #list == 0 then n:err("error: no matching resources found\n"); return 1 end
        for _, e in ipairs(list) do
          local ok = cond == "Ready" and select(2, node_object(n, cl, e.node))
          if ok then done[#done + 1] = "node/" .. e.node.name else pending[#pending + 1] = "nodes/" .. e.node.name end
        end
      elseif kind == "deployment" or kind == "deployments" or kind == "deploy" then
        local _, any_ready = synth_pods(n, cl)
        if any_ready and cond == "Available" then done[#done + 1] = "deployment.apps/" .. tostring(name)
        else pending[#pending + 1] = "deployments/" .. tostring(name) end
      else
        n:err("error: the simulator cannot wait for " .. tostring(kind) .. "\n"); return 1
      end
      if #pending == 0 then
        for _, d in ipairs(done) do n:out(d .. " condition met\n") end
        return 0
      end
      local left = deadline - uv.hrtime()
      if left <= 0 then
        n:err("error: timed out waiting for the condition on " .. pending[1] .. "\n"); return 1
      end
      uv.sleep(math.max(1, math.min(100, math.floor(left / 1e6))))
    end
  elseif verb == "delete" and (args[2] == "pod" or args[2] == "pods" or args[2] == "po") then
    -- pods by name, or by -l and --field-selector spec.nodeName=X; a DaemonSet pod is made
    -- again at once under a new name (its container starts anew: kube_proxy_reaches)
    local ns = namespace or "default"
    local want_node = field_selector and field_selector:match("^spec%.nodeName=(.+)$")
    if field_selector and not want_node then
      n:err("Error from server (BadRequest): Unable to find \"/v1, Resource=pods\" that match label selector \"\", field selector \""
        .. field_selector .. "\": field label not supported: " .. (field_selector:match("^([^=]+)") or field_selector) .. "\n")
      return 1
    end
    local matched = {}
    for _, p in ipairs((synth_pods(n, cl))) do
      local ok = p.ns == ns and (not args[3] or p.name == args[3]) and (not want_node or p.node == want_node)
      if ok and selector then
        for term in selector:gmatch("[^,]+") do
          local k, v = term:match("^([^=]+)=(.*)$")
          if not k or p.labels[k] ~= v then ok = false end
        end
      end
      if ok then matched[#matched + 1] = p end
    end
    if args[3] and #matched == 0 then n:err("Error from server (NotFound): pods \"" .. args[3] .. "\" not found\n"); return 1 end
    if #matched == 0 then n:err("No resources found\n"); return 0 end
    update(function(fresh)
      for _, p in ipairs(matched) do
        if p.labels["k8s-app"] == "kube-proxy" then
          for _, node in ipairs(fresh.nodes) do
            if node.name == p.node then
              node.kube_proxy_pods = (node.kube_proxy_pods or 0) + 1
              node.kube_proxy_at = n:now()
              local rec, view = member_record(n, node)
              if rec and view then
                local rt = view:runtime()
                rt.kube_proxy_hosts = nil
                view:save_runtime()
              end
            end
          end
        end
      end
    end)
    for _, p in ipairs(matched) do n:out("pod \"" .. p.name .. "\" deleted\n") end
    return 0
  elseif verb == "exec" then
    -- into a static Pod's container: only etcd's, for etcdctl (kina.ha); through the API
    -- server to the kubelet of the Pod's node
    local pod = args[2]
    local node_name = pod and pod:match("^etcd%-(.+)$")
    local target
    if node_name and (namespace or "default") == "kube-system" then
      for _, node in ipairs(cl.nodes or {}) do
        if node.name == node_name and node.role == "control-plane" then target = node end
      end
    end
    if not target then n:err('Error from server (NotFound): pods "' .. tostring(pod) .. '" not found\n'); return 1 end
    local posting, _, rec = kubelet_posting(n, target)
    if not posting or not rec then
      n:err("Error from server: error dialing backend: dial tcp " .. tostring(target.ip) .. ":10250: connect: no route to host\n"); return 1
    end
    if not command or #command == 0 then n:err("error: you must specify at least one command for the container\n"); return 1 end
    if command[1] ~= "etcdctl" then
      n:err('error: Internal error occurred: error executing command in container: failed to exec in container: failed to start exec: OCI runtime exec failed: exec failed: unable to start container process: exec: "' .. command[1] .. '": executable file not found in $PATH: unknown\n')
      return 1
    end
    return etcd.etcdctl(n, cl, rec, command, update)
  elseif verb == "cluster-info" then
    n:out("Kubernetes control plane is running at " .. server .. "\nCoreDNS is running at " .. server .. "/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy\n\n")
    n:out("To further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n")
    return 0
  elseif verb == "version" then
    n:out("Client Version: " .. n:k8s_version() .. "\nKustomize Version: v5.7.1\nServer Version: " .. cl.k8s .. "\n")
    return 0
  end
  n:err("error: unknown command \"" .. verb .. "\" for \"kubectl\"\n\nDid you mean this?\n\tget\n")
  return 1
end

--- Pods scheduled on this node (for its /var/log/pods and /var/log/containers), from the
-- cluster it belongs to; {} when it has not joined one.
function K.pods_on(n)
  local member = n:state("member")
  if type(member) ~= "table" or not member.control_plane then return {} end
  local cp_root
  if member.control_plane == n.rec.id then cp_root = n.rec.rootfs
  elseif n.ctx.containers then
    for _, c in ipairs(n.ctx.containers()) do
      if c.id == member.control_plane then cp_root = c.rootfs end
    end
  end
  local cl = cp_root and rootfs.load_json(cp_root, rootfs.STATE_DIR .. "/cluster.json")
  if type(cl) ~= "table" or type(cl.nodes) ~= "table" or not cl.nodes[1] then return {} end
  local out = {}
  for _, p in ipairs((synth_pods(n, cl))) do
    if p.node == member.name and p.status == "Running" then out[#out + 1] = p end
  end
  return out
end

-- curl ---------------------------------------------------------------------------------------

local curl_http -- below

-- The cluster node `n` belongs to: the control plane's record, its cluster and this node's entry.
local function membership(n)
  local member = n:state("member")
  if type(member) ~= "table" or not member.control_plane then return nil end
  local cp
  if member.control_plane == n.rec.id then cp = n.rec
  else
    for _, c in ipairs(n.ctx.containers and n.ctx.containers() or {}) do if c.id == member.control_plane then cp = c end end
  end
  local cl = cp and cp.rootfs and cluster_of(cp)
  if type(cl) ~= "table" then return nil end
  for _, node in ipairs(cl.nodes or {}) do
    if node.id == n.rec.id then return cp, cl, node end
  end
  return nil
end

--- `curl http://IP:PORT/...` from a node, to a Service of type LoadBalancer at its ingress IP.
-- kube-proxy in iptables mode writes, for every LoadBalancer ingress IP of a Service port
-- (svcInfo.LoadBalancerVIPs(): ingress IPs whose ipMode is VIP, the default) that has
-- endpoints, a rule in the nat table's KUBE-SERVICES chain (`-d <lbip> -p <proto> --dport <port>
-- -j <loadBalancerTrafficChain>`, comment "<svc> loadbalancer IP": pkg/proxy/iptables/proxier.go,
-- syncProxyRules), and KUBE-SERVICES is jumped to from both PREROUTING and OUTPUT ("kubernetes
-- service portals"). Endpoints are not modelled (taken as present). So on any
-- node whose kube-proxy has the Service (it reaches the API server: kube_proxy_reaches) the
-- packet is DNATed to an endpoint before it leaves, whichever node holds the address; from a
-- node without the rules it goes to the VM that has the address, whose own kube-proxy decides.
-- Nothing else listens there: connection refused (curl 7). The simulator does not model the
-- Service's endpoints or the app: the answer is the Service's namespace/name, a stand-in for
-- what the app would say (README "Services of type LoadBalancer").
function curl_http(n, url, die)
  local host, port = url:match("^http://([^/:]+):?(%d*)")
  port = tonumber(port) or 80
  local function refused() return die(7, ("Failed to connect to %s port %d after 0 ms: Couldn't connect to server"):format(host, port)) end
  local _, cl, me = membership(n)
  if not cl then return refused() end
  local svc = services.serving(cl, host, port, "TCP")
  if not svc then return refused() end
  local ok = kube_proxy_reaches(n, cl, me)
  if not ok then
    -- the packet leaves this node for the VM that has the address
    local rec, how = resolve_from(n.ctx, n.rec, n:read("/etc/hosts"), host)
    if not rec then return how == "name" and die(6, "Could not resolve host: " .. host) or refused() end
    if rec.id ~= n.rec.id and n.ctx.reachable and not n.ctx.reachable(n.rec, rec) then
      return die(7, ("Failed to connect to %s port %d after 3075 ms: Couldn't connect to server"):format(host, port))
    end
    for _, node in ipairs(cl.nodes or {}) do
      if node.id == rec.id then ok = kube_proxy_reaches(n, cl, node) end
    end
    if not ok then return refused() end
  end
  n:out(svc.metadata.namespace .. "/" .. svc.metadata.name .. "\n")
  return 0
end

--- curl, for what kina asks of a node: `curl [-s] [-S] [-k] [-f] [-m SECS] https://HOST[:PORT]/PATH`
-- against an API server, directly or through the `kubernetes` Service's address. The Service
-- answers when this node's kube-proxy reaches the API server (it programs the Service's rules
-- from it: kube_proxy_reaches) and the API server advertises the address its VM has now (the
-- Service's endpoint is kube-apiserver's --advertise-address). /healthz, /livez and /readyz
-- answer "ok" to anyone (RBAC system:public-info-viewer); other paths 403 for anonymous.
-- Exit codes are curl's: 6 name not resolved, 7 connection failed, 28 timeout, 60 an
-- unverified certificate without -k, 22 an HTTP error with -f.
local function curl(n, argv)
  local silent, show_error, insecure, fail_http, url = false, false, false, false, nil
  local max_time = 0
  local i = 2
  while i <= #argv do
    local a = argv[i]
    if a == "-m" or a == "--max-time" then i = i + 1; max_time = tonumber(argv[i]) or 0
    elseif a == "--silent" then silent = true
    elseif a == "--show-error" then show_error = true
    elseif a == "--insecure" then insecure = true
    elseif a == "--fail" then fail_http = true
    elseif a:match("^%-[sSkf]+$") then
      for ch in a:sub(2):gmatch(".") do
        if ch == "s" then silent = true elseif ch == "S" then show_error = true
        elseif ch == "k" then insecure = true elseif ch == "f" then fail_http = true end
      end
    elseif a:sub(1, 1) == "-" then
      n:err("curl: option " .. a .. ": is unknown\ncurl: try 'curl --help' or 'curl --manual' for more information\n"); return 2
    else url = a end
    i = i + 1
  end
  local function die(code, msg)
    if not silent or show_error then n:err("curl: (" .. code .. ") " .. msg .. "\n") end
    return code
  end
  if not url then return die(2, "no URL specified") end
  if url:match("^http://") then return curl_http(n, url, die) end
  local host, port, path = url:match("^https://([^/:]+):?(%d*)(/?.*)$")
  if not host then return die(1, "Protocol \"" .. (url:match("^(%a+)://") or url) .. "\" not supported") end
  port = tonumber(port) or 443
  if path == "" then path = "/" end
  local hosts = n:read("/etc/hosts")
  local cp, cl, me = membership(n)
  local target, err
  if cl and host == cl.service_vip and port == 443 then
    local ok, why, api = kube_proxy_reaches(n, cl, me)
    local adv = api and rootfs.read(api.rootfs, "/etc/kubernetes/manifests/kube-apiserver.yaml")
    adv = adv and adv:match("%-%-advertise%-address=([%d%.]+)")
    if not ok then
      -- no rules for the Service on this node: its packets go to the default gateway, which drops them
      local _ = why
      return die(28, ("Connection timed out after %d milliseconds"):format(math.floor((max_time > 0 and max_time or 300) * 1000 + 1)))
    end
    if adv ~= api.ip then
      -- the rules send it to an address no VM has now
      return die(7, ("Failed to connect to %s port %d after 3075 ms: Couldn't connect to server"):format(host, port))
    end
    target = api
  else
    local rec, how = resolve_from(n.ctx, n.rec, hosts, host)
    if not rec and how == "name" then return die(6, "Could not resolve host: " .. host) end
    target, err = connect_from(n.ctx, n.rec, hosts, "https://" .. host .. ":" .. (port == 443 and 443 or port))
    if not target then
      if err:match("certificate") then target = rec
      else return die(7, ("Failed to connect to %s port %d after 0 ms: Couldn't connect to server"):format(host, port)) end
    end
  end
  local _ = cp
  if not insecure then
    return die(60, "SSL certificate problem: unable to get local issuer certificate\nMore details here: https://curl.se/docs/sslcerts.html\n\n"
      .. "curl failed to verify the legitimacy of the server and therefore could not\nestablish a secure connection to it. To learn more about this situation and\n"
      .. "how to fix it, please visit the web page mentioned above.")
  end
  if path == "/healthz" or path == "/livez" or path == "/readyz" then n:out("ok"); return 0 end
  if fail_http then return die(22, "The requested URL returned error: 403") end
  n:out('{\n  "kind": "Status",\n  "apiVersion": "v1",\n  "metadata": {},\n  "status": "Failure",\n  "message": "forbidden: User \\"system:anonymous\\" cannot get path \\"'
    .. path .. '\\"",\n  "reason": "Forbidden",\n  "details": {},\n  "code": 403\n}')
  return 0
end

function K.install(commands)
  commands.curl = curl
  commands.__pods_on = K.pods_on
  services.install(commands)
  commands.kubeadm = function(n, argv) n.commands = commands; return kubeadm(n, argv) end
  commands.kubectl = function(n, argv) n.commands = commands; return kubectl(n, argv) end
  commands.kubelet = function(n, argv)
    if argv[2] == "--version" then n:out("Kubernetes " .. n:k8s_version() .. "\n"); return 0 end
    n:err("E0000 run.go:72] \"command failed\" err=\"failed to run Kubelet: a kubelet is already running\"\n")
    return 1
  end
end

return K
