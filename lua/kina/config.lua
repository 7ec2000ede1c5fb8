--- kina.config — cluster configuration: kind's v1alpha4 YAML or a Lua table, one model.
--
--   local config = require "kina.config"
--   local model = config.load("cluster.yaml", { name = "dev" })   -- raises a ConfigError
--   local model = config.from_table({ nodes = { { role = "control-plane" } } }, "my-script")
--   local model = config.default("kina")
--
-- Inputs:
--   * YAML (any file not ending in `.lua`, or "-" for stdin): kind's `kind: Cluster`,
--     `apiVersion: kind.x-k8s.io/v1alpha4`, with kind's camelCase field names, strictly (an
--     unknown field is an error, as in kind). Scalars are read as kind's decoder
--     (go.yaml.in/yaml/v3) reads them into kind's Go types: a string field takes any
--     scalar's text as written (`ingress-ready: true` is the label value "true"), a bool
--     field also takes YAML 1.1's y/yes/on and n/no/off, integers follow Go's syntax (0x1F,
--     0o17, 017 is octal, 1_000). An empty string means the default wherever kind fills one
--     in (name, role, image, the networking strings, listenAddress, protocol, propagation).
--     Duplicate keys are errors; anchors, aliases and `<<` merges work; one document only
--     (kind would silently read the first).
--   * Lua (`.lua`): a chunk returning a table, run in an empty sandbox (see run_script).
--     Field names are kind's camelCase or their snake_case forms (`extraPortMappings` or
--     `extra_port_mappings`, `readOnly` or `read_only`); giving both is an error. `kind` and
--     `apiVersion` are optional in Lua; when present they must be kind's.
--   * kina's own fields, in both forms: `cpus`, `memory`, `kernel` per cluster and per node,
--     `network` per cluster only (nodes on different networks cannot reach each other on
--     Apple's runtime, apple-container.md §5.4), `registrySchemes` per cluster: registry
--     host[:port] -> "http" | "https", the scheme Apple's CLI pulls node images with;
--     `loadBalancerServices` (default true): addresses for Services of type LoadBalancer.
--
-- Errors are ConfigError values (never strings): { source, path?, line?, column?, message }.
-- tostring(e) is "<source>: <path>: <message>" when a field is to blame, "<source>:<line>:
-- <message>" for a script or YAML syntax error. `e.line` is also set for a field of a YAML
-- file. The first problem found is reported, in a fixed order, so messages are stable.
--
-- The model (every default filled in from kina.defaults; snake_case throughout):
--   { name, cpus, memory, kernel?, network?, registry_schemes = {host = "http"|"https"},
--     load_balancer_services? (false: off; absent or true: on),
--     nodes = { { role, name, image, cpus, memory, kernel?, labels = {k=v},
--                 extra_mounts = { { host_path, container_path, readonly, propagation? } },
--                 extra_port_mappings = { { container_port, host_port, listen_address,
--                                           protocol } },                -- protocol "tcp"|"udp"
--                 kubeadm_config_patches = { yaml strings },
--                 kubeadm_config_patches_json6902 = { { group, version, kind, patch } } } },
--     networking = { ip_family, api_server_address, api_server_port, pod_subnet,
--                    service_subnet, disable_default_cni, kube_proxy_mode },
--     feature_gates = {name = bool}, runtime_config = {key = "value"},
--     kubeadm_config_patches = {...}, kubeadm_config_patches_json6902 = {...},
--     containerd_config_patches = { toml strings }, containerd_config_patches_json6902 = { strings },
--     warnings = { "path: text", ... } }
-- A kubeadm_config_patches string may hold several YAML documents: kind cuts it at "---"
-- lines (config.split_documents does it the same way); each was checked to be a mapping
-- with a kind. A JSON 6902 entry is kind's PatchJSON6902: group and version are "" when not
-- given (kind matches apiVersion group/version, or version alone without group), kind is
-- required, patch is the RFC 6902 operation list as written (YAML or JSON), checked to be a
-- list of operations each with a known op, a JSON pointer path and the members RFC 6902
-- requires (value for add/replace/test, from for move/copy). containerd JSON 6902 strings
-- are checked the same way. (kind's own code json.Unmarshal's the containerd ones, so only
-- JSON works there, although its docs say YAML or JSON; kina takes both.)
-- pod_subnet and service_subnet are kept as written, as kind passes them on; host bits are
-- allowed (Kubernetes masks them) and warned about.
-- host_port 0 and api_server_port 0 mean "kina picks a free host port at create time" (kind's
-- 0 and -1). network nil means Apple's default network.
--
-- What kind accepts but Apple's runtime cannot honour is an error that says why, never a
-- silent drop: ipFamily ipv6/dual, IPv6 or dual-stack subnets, mount propagation other than None, selinuxRelabel, SCTP ports,
-- dnsSearch, --privileged-style fields, a '.' in the cluster name (Apple's runtime cuts a
-- container's hostname at it). Host ports below 1024 are refused only on a
-- given address (127.0.0.1): macOS lets a normal user bind them on every address (0.0.0.0,
-- kind's default), and sudo does not help since Apple's services run as the user
-- (apple/container#1985). Host ports must be unique per protocol across the whole cluster,
-- the API server's included, because Apple's runtime refuses a host port published twice.

local lyaml_parser = require("yaml").parser
local spec = require "kina.core.spec"
local defaults = require "kina.defaults"

local config = {}

-- ---------------------------------------------------------------------------------------
-- Errors

local ConfigError = { __name = "kina.ConfigError" }
ConfigError.__index = ConfigError

function ConfigError.__tostring(e)
  local source = e.source or "config"
  if e.path then return ("%s: %s: %s"):format(source, e.path, e.message) end
  if e.line then
    if e.column then return ("%s:%d:%d: %s"):format(source, e.line, e.column, e.message) end
    return ("%s:%d: %s"):format(source, e.line, e.message)
  end
  return ("%s: %s"):format(source, e.message)
end

--- Make a ConfigError from its fields ({source, path?, line?, column?, message}).
function ConfigError.new(fields)
  return setmetatable(fields, ConfigError)
end

config.ConfigError = ConfigError

--- Is `e` a ConfigError?
function config.is_error(e)
  return getmetatable(e) == ConfigError
end

-- A string for messages: double-quoted, control characters escaped, long ones shortened.
local function quote(s)
  s = tostring(s)
  local shortened = false
  if #s > 120 then
    s = s:sub(1, 100)
    -- do not cut a UTF-8 sequence in half
    while #s > 0 and s:byte(#s) >= 0x80 and s:byte(#s) < 0xC0 do s = s:sub(1, -2) end
    if #s > 0 and s:byte(#s) >= 0xC0 then s = s:sub(1, -2) end
    shortened = true
  end
  s = s:gsub('[%c"\\]', function(c)
    if c == "\n" then return "\\n" elseif c == "\t" then return "\\t" elseif c == "\r" then return "\\r"
    elseif c == '"' or c == "\\" then return "\\" .. c end
    return ("\\x%02x"):format(c:byte())
  end)
  return '"' .. s .. (shortened and '..."' or '"')
end

-- "a.b" for identifier keys, 'a["x y"]' for any other key.
local function join(path, key)
  if type(key) == "string" and key:match("^[%a_][%w_]*$") then
    if path == "" then return key end
    return path .. "." .. key
  end
  return path .. "[" .. quote(key) .. "]"
end

local function index(path, i)
  return path .. "[" .. i .. "]"
end

-- The YAML null, kept in tables so that `field: ~` is still seen (and refused when unknown).
local NULL = setmetatable({}, { __name = "kina.config.null", __tostring = function() return "null" end })

-- A validation context: where the input came from and what the YAML loader knows about it.
--   cx.source   name for messages
--   cx.lang     "yaml" or "lua"
--   cx.lines    YAML only: path -> 1-based line of the key or list item
--   cx.shape    YAML only: table -> "list" | "mapping"
--   cx.text     YAML only: table -> { key -> source text of a non-string scalar } (text_of)
--   cx.warnings list of strings
local function fail(cx, path, fmt, ...)
  local message = select("#", ...) > 0 and fmt:format(...) or fmt
  local line
  if cx.lines and path then
    local p = path
    while p and p ~= "" do
      line = cx.lines[p]
      if line then break end
      p = p:match("^(.*)%.[%a_][%w_]*$") or p:match("^(.*)%[[^%[]*%]$")
    end
  end
  error(ConfigError.new { source = cx.source, path = path, line = line, message = message }, 0)
end

local function warn(cx, path, fmt, ...)
  cx.warnings[#cx.warnings + 1] = path .. ": " .. fmt:format(...)
end

-- How a value reads in a message: `a string ("x")`, `an integer (8080)`, `a list`...
local function describe(cx, v)
  if v == NULL then return "null" end
  local t = type(v)
  if t == "string" then return "a string (" .. quote(v) .. ")" end
  if t == "number" then
    if math.type(v) == "integer" then return ("an integer (%d)"):format(v) end
    return ("a number (%s)"):format(tostring(v))
  end
  if t == "boolean" then return ("a boolean (%s)"):format(tostring(v)) end
  if t == "table" then
    if cx.shape then return cx.shape[v] == "list" and "a list" or "a mapping" end
    return "a table"
  end
  return "a " .. t
end

-- ---------------------------------------------------------------------------------------
-- Typed access. Values are checked, never coerced: 8080 is not "8080".

local function want_string(cx, v, path)
  if type(v) ~= "string" then fail(cx, path, "must be a string, not %s", describe(cx, v)) end
  if v:find("\0", 1, true) then fail(cx, path, "contains a NUL byte") end
  if not utf8.len(v) then fail(cx, path, "is not valid UTF-8") end
  return v
end

local function want_integer(cx, v, path)
  local n = type(v) == "number" and math.tointeger(v)
  if not n then fail(cx, path, "must be an integer, not %s", describe(cx, v)) end
  return n
end

-- The YAML 1.1 words yaml.v3 still reads into a Go bool field, quoted or not (decode.go,
-- `scalar`, case reflect.Bool: "compatibility with the 1.1 spec"). Exactly these spellings.
local YAML11_BOOLEANS = {
  y = true, Y = true, yes = true, Yes = true, YES = true, on = true, On = true, ON = true,
  n = false, N = false, no = false, No = false, NO = false, off = false, Off = false, OFF = false,
}

local function want_boolean(cx, v, path)
  if type(v) == "boolean" then return v end
  if cx.lang == "yaml" and type(v) == "string" and YAML11_BOOLEANS[v] ~= nil then return YAML11_BOOLEANS[v] end
  fail(cx, path, "must be true or false, not %s", describe(cx, v))
end

-- t[key] as kind's decoder fills a Go string from it: yaml.v3 gives a string field the text
-- of any scalar as written (decode.go, `scalar`, case reflect.String: out.SetString(n.Value)),
-- so `ingress-ready: true` is "true" and `tier: 1.10` is "1.10". Other values as they are.
local function text_of(cx, t, key)
  local v = t[key]
  if cx.text and type(v) ~= "string" and v ~= NULL then
    local texts = cx.text[t]
    if texts and texts[key] ~= nil then return texts[key] end
  end
  return v
end

-- A list (YAML sequence, or a Lua table whose keys are exactly 1..n); returns its length.
local function want_list(cx, v, path)
  if type(v) ~= "table" or v == NULL then fail(cx, path, "must be a list, not %s", describe(cx, v)) end
  if cx.shape then
    if cx.shape[v] ~= "list" then fail(cx, path, "must be a list, not %s", describe(cx, v)) end
    return #v
  end
  local count = 0
  for k in next, v do
    if math.type(k) ~= "integer" or k < 1 then
      fail(cx, path, "must be a list, not a table with the key %s", type(k) == "string" and quote(k) or tostring(k))
    end
    count = count + 1
  end
  if rawlen(v) ~= count then fail(cx, path, "must be a list without holes") end
  return count
end

-- A mapping with string keys (YAML mapping or a Lua table with string keys).
local function want_mapping(cx, v, path)
  if type(v) ~= "table" or v == NULL then fail(cx, path, "must be a mapping, not %s", describe(cx, v)) end
  if cx.shape then
    if cx.shape[v] ~= "mapping" then fail(cx, path, "must be a mapping, not %s", describe(cx, v)) end
    return v
  end
  for k in next, v do
    if type(k) ~= "string" then
      if math.type(k) == "integer" then fail(cx, path, "must be a table of named fields, not a list") end
      fail(cx, path, "keys must be strings, not %s", describe(cx, k))
    end
  end
  return v
end

-- Keys of a mapping in file order for YAML (by line), sorted otherwise.
local function ordered_keys(cx, t, path)
  local keys = {}
  for k in next, t do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if cx.lines then
      local la, lb = cx.lines[join(path, a)] or 0, cx.lines[join(path, b)] or 0
      if la ~= lb then return la < lb end
    end
    return a < b
  end)
  return keys
end

-- ---------------------------------------------------------------------------------------
-- Field tables and "did you mean"

-- { kind's camelCase name, snake_case alias (Lua only), name in the model, str = the field is
-- a Go string in kind (a YAML scalar gives its text, see text_of), empty = "" means the default
-- (kind's SetDefaultsCluster/SetDefaultsNode and its provider fill in empty strings) }
local function fields(list)
  local by_key = {}
  for _, f in ipairs(list) do
    f.camel, f.snake, f.model = f[1], f[2] or f[1], f[3] or f[2] or f[1]
    by_key[f.camel] = f
  end
  list.by_camel = by_key
  return list
end

local TOP = fields {
  { "kind" }, { "apiVersion", "api_version" }, { "name", str = true, empty = true }, { "nodes" }, { "networking" },
  { "featureGates", "feature_gates" }, { "runtimeConfig", "runtime_config" },
  { "kubeadmConfigPatches", "kubeadm_config_patches" },
  { "kubeadmConfigPatchesJSON6902", "kubeadm_config_patches_json6902" },
  { "containerdConfigPatches", "containerd_config_patches" },
  { "containerdConfigPatchesJSON6902", "containerd_config_patches_json6902" },
  { "cpus" }, { "memory" }, { "kernel", str = true }, { "network", str = true },
  { "registrySchemes", "registry_schemes" }, { "loadBalancerServices", "load_balancer_services" },
}

local NETWORKING = fields {
  { "ipFamily", "ip_family", str = true, empty = true },
  { "apiServerAddress", "api_server_address", str = true, empty = true },
  { "apiServerPort", "api_server_port" }, { "podSubnet", "pod_subnet", str = true, empty = true },
  { "serviceSubnet", "service_subnet", str = true, empty = true }, { "disableDefaultCNI", "disable_default_cni" },
  { "kubeProxyMode", "kube_proxy_mode", str = true, empty = true }, { "dnsSearch", "dns_search" },
}

local NODE = fields {
  { "role", str = true, empty = true }, { "image", str = true, empty = true }, { "labels" },
  { "extraMounts", "extra_mounts" },
  { "extraPortMappings", "extra_port_mappings" }, { "kubeadmConfigPatches", "kubeadm_config_patches" },
  { "kubeadmConfigPatchesJSON6902", "kubeadm_config_patches_json6902" },
  { "cpus" }, { "memory" }, { "kernel", str = true },
}

local MOUNT = fields {
  { "hostPath", "host_path", str = true }, { "containerPath", "container_path", str = true },
  { "readOnly", "read_only", "readonly" }, { "selinuxRelabel", "selinux_relabel" },
  { "propagation", str = true, empty = true },
}

local PORT = fields {
  { "containerPort", "container_port" }, { "hostPort", "host_port" },
  { "listenAddress", "listen_address", str = true, empty = true }, { "protocol", str = true, empty = true },
}

-- kind's v1alpha4 PatchJSON6902 (types.go): four strings, none required by kind's Validate.
local JSON6902_PATCH = fields {
  { "group", str = true }, { "version", str = true }, { "kind", str = true }, { "patch", str = true },
}

-- Fields that exist, but elsewhere: key -> the rest of the message, instead of a bare
-- "unknown field".
local function elsewhere(hints, section_fields, where)
  for _, f in ipairs(section_fields) do
    local msg = "unknown field here; it belongs under " .. where
    hints[f.camel] = hints[f.camel] or msg
    hints[f.snake] = hints[f.snake] or msg
  end
  return hints
end

local MISPLACED = { top = {}, node = {}, networking = {} }
for _, flag in ipairs { "retain", "wait", "kubeconfig", "config" } do
  MISPLACED.top[flag] = ("unknown field; --%s is a command-line flag of `kina create cluster`, not part of the config"):format(flag)
end
MISPLACED.top.image = "unknown field here; set it per node (nodes[i].image), or for every node with --image"
MISPLACED.node.name = "unknown field; kina names nodes itself, as kind does (<cluster>-control-plane, <cluster>-worker, <cluster>-worker2, ...)"
MISPLACED.node.network = "unknown field here; network is set for the whole cluster: nodes on different networks cannot reach each other on Apple's runtime"
do
  -- kind runs nodes --privileged; Apple's runtime has no such flag, and kina already gives each
  -- node VM the equivalent (kina.core.spec: --cap-add ALL, no masked or read-only paths).
  local msg = "unknown field; Apple's runtime has no --privileged, and every kina node already gets its equivalent (all capabilities, no masked or read-only paths in the node VM)"
  for _, key in ipairs { "privileged", "securityOpt", "security_opt", "capAdd", "cap_add" } do
    MISPLACED.top[key], MISPLACED.node[key] = msg, msg
  end
end
elsewhere(MISPLACED.top, NETWORKING, "networking")
elsewhere(MISPLACED.node, NETWORKING, "networking")
do
  local node_only = {}
  for _, f in ipairs(NODE) do
    if not TOP.by_camel[f.camel] then node_only[#node_only + 1] = f end
  end
  elsewhere(MISPLACED.top, node_only, "nodes[i]")
  elsewhere(MISPLACED.networking, node_only, "nodes[i]")
  elsewhere(MISPLACED.node, MOUNT, "nodes[i].extraMounts[j]")
  elsewhere(MISPLACED.node, PORT, "nodes[i].extraPortMappings[j]")
end

local function lower_plain(s)
  return (s:lower():gsub("[_%-]", ""))
end

local function distance(a, b)
  if math.abs(#a - #b) > 3 then return 99 end
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function suggest(cx, key, list)
  if type(key) ~= "string" then return nil end
  local snake_style = cx.lang == "lua" and key:find("_", 1, true)
  local best, best_d
  for _, f in ipairs(list) do
    local name = snake_style and f.snake or f.camel
    local d
    if lower_plain(key) == lower_plain(f.camel) then d = 0
    else d = distance(key:lower(), name:lower()) end
    if d <= math.max(1, #name // 4) and (not best_d or d < best_d) then best, best_d = name, d end
  end
  return best
end

local function unknown_field(cx, path, key, list, misplaced)
  local p = join(path, key)
  if type(key) ~= "string" then fail(cx, path, "keys must be strings, not %s", describe(cx, key)) end
  local hint = misplaced and misplaced[key]
  if hint then fail(cx, p, "%s", hint) end
  local guess = suggest(cx, key, list)
  if guess then fail(cx, p, "unknown field; did you mean %s?", quote(guess)) end
  local names = {}
  for _, f in ipairs(list) do names[#names + 1] = f.camel end
  fail(cx, p, "unknown field (known fields: %s)", table.concat(names, ", "))
end

-- Read a section: check its keys and return { [model name] = value }, { [model name] = path }.
-- Absent fields (and YAML nulls) are not in the first table; the second has a path for every
-- field, as written when it was given.
local function read_section(cx, t, path, list, misplaced)
  want_mapping(cx, t, path)
  local values, paths = {}, {}
  for _, key in ipairs(ordered_keys(cx, t, path)) do
    local f
    if type(key) == "string" then
      f = list.by_camel[key]
      if not f and cx.lang == "lua" then
        for _, g in ipairs(list) do
          if g.snake == key then f = g break end
        end
      end
    end
    if not f then unknown_field(cx, path, key, list, misplaced) end
    local p = join(path, key)
    if paths[f.model] then
      fail(cx, p, "is the same field as %s; set only one of them", paths[f.model])
    end
    paths[f.model] = p
    if t[key] ~= NULL then
      local value = t[key]
      if f.str then value = text_of(cx, t, key) end
      if not (f.empty and value == "") then values[f.model] = value end
    end
  end
  for _, f in ipairs(list) do
    if not paths[f.model] then paths[f.model] = join(path, cx.lang == "lua" and f.snake or f.camel) end
  end
  return values, paths
end

-- ---------------------------------------------------------------------------------------
-- Addresses and ranges

local function parse_ipv4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  local n = 0
  for _, part in ipairs { a, b, c, d } do
    if #part > 1 and part:sub(1, 1) == "0" then return nil end -- 010 is ambiguous (octal?)
    local v = tonumber(part)
    if v > 255 then return nil end
    n = n * 256 + v
  end
  return n
end

local function valid_ipv6(s)
  if #s < 2 or #s > 45 or not s:match("^[%x:%.]+$") then return false end
  local head, tail = s, nil
  local at = s:find("::", 1, true)
  if at then
    head, tail = s:sub(1, at - 1), s:sub(at + 2)
    if tail:find("::", 1, true) then return false end
  end
  local groups = 0
  local function count(part, last)
    if part == "" then return true end
    local items = {}
    for g in (part .. ":"):gmatch("([^:]*):") do items[#items + 1] = g end
    for i, g in ipairs(items) do
      if last and i == #items and g:find(".", 1, true) then
        if not parse_ipv4(g) then return false end
        groups = groups + 2
      elseif g:match("^%x%x?%x?%x?$") then
        groups = groups + 1
      else
        return false
      end
    end
    return true
  end
  if not count(head, tail == nil) or (tail and not count(tail, true)) then return false end
  if tail then return groups < 8 end
  return groups == 8
end

-- 4 for IPv4, 6 for IPv6, nil otherwise.
local function ip_family(s)
  if parse_ipv4(s) then return 4 end
  if valid_ipv6(s) then return 6 end
  return nil
end

local function ipv4_text(n)
  return ("%d.%d.%d.%d"):format(n >> 24 & 255, n >> 16 & 255, n >> 8 & 255, n & 255)
end

-- An IPv4 CIDR as { addr (the network: host bits cleared), prefix, mask, text (as written),
-- network (the network's CIDR text, set only when `s` has host bits set) }; raises naming
-- `path` when `s` is not one. Host bits are allowed, as Go's net.ParseCIDR (kind's
-- validateSubnets) and Kubernetes' flags parse them: "10.244.0.1/16" means 10.244.0.0/16.
local function parse_cidr(cx, s, path, what)
  want_string(cx, s, path)
  if s:find(",", 1, true) then
    fail(cx, path, "%s lists several ranges (dual-stack); kina runs IPv4-only clusters on Apple's runtime", quote(s))
  end
  local ip, bits = s:match("^([^/]+)/(%d+)$")
  if ip and valid_ipv6(ip) then
    fail(cx, path, "%s is an IPv6 range; kina runs IPv4-only clusters on Apple's runtime, write an IPv4 %s like %s",
      quote(s), what, quote(defaults[what == "pod subnet" and "pod_subnet" or "service_subnet"]))
  end
  local addr = ip and parse_ipv4(ip)
  local prefix = bits and tonumber(bits)
  if not addr or not prefix or prefix > 32 or (#bits > 1 and bits:sub(1, 1) == "0") then
    fail(cx, path, "%s is not an IPv4 range in CIDR form, like %s", quote(s),
      quote(defaults[what == "pod subnet" and "pod_subnet" or "service_subnet"]))
  end
  local mask = prefix == 0 and 0 or (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
  local network = addr & mask ~= addr and ipv4_text(addr & mask) .. "/" .. prefix or nil
  return { addr = addr & mask, prefix = prefix, mask = mask, text = s, network = network }
end

local function overlaps(a, b)
  local mask = a.prefix < b.prefix and a.mask or b.mask
  return a.addr & mask == b.addr & mask
end

-- Ranges no pod or service may use: the host's and the node network's.
local RESERVED = {
  { "0.0.0.0/8", "reserved for \"this network\"" },
  { "127.0.0.0/8", "the loopback range" },
  { "169.254.0.0/16", "the link-local range" },
  { "224.0.0.0/4", "the multicast range" },
  { "240.0.0.0/4", "a reserved range" },
}

-- ---------------------------------------------------------------------------------------
-- Names, labels, images, paths

local function check_cluster_name(cx, name, path, roles)
  want_string(cx, name, path)
  -- kind's own rule is ^[a-z0-9.-]+$ (internal/apis/config/validate.go); the '.' is what
  -- kina cannot take, and the reason is Apple's, so say it.
  if name:find(".", 1, true) and name:match("^[a-z0-9][a-z0-9.-]*$") then
    fail(cx, path, "%s contains '.': kind allows it, but Apple's runtime sets a container's hostname to its name up to the first '.' (apple/container, RuntimeService.swift), so every node of this cluster would be called %s inside its VM instead of by its own name; use '-' instead, like %s",
      quote(name), quote(name:match("^[^.]*")), quote((name:gsub("%.", "-"))))
  end
  -- Every node name must pass Apple's container rule and DNS-1123 (kina.core.spec): first
  -- the characters of the cluster part (spec's own messages), then the longest node name.
  local ok, err = pcall(spec.node_name, name, "worker", 1)
  if not ok and tostring(err):match("^cluster: ") then
    fail(cx, path, "%s", (tostring(err):gsub("^cluster: ", "")))
  end
  local counts = {}
  for _, role in ipairs(roles) do
    counts[role] = (counts[role] or 0) + 1
    local node = name .. "-" .. role .. (counts[role] > 1 and counts[role] or "")
    if #node > 63 then
      fail(cx, path, "%s is too long: its node %s would have %d characters, and Apple's container runtime and Kubernetes allow at most 63 (keep the name to %d characters)",
        quote(name), quote(node), #node, 63 - (#node - #name))
    end
  end
  if not ok then fail(cx, path, "%s", (tostring(err):gsub("^node name: ", ""))) end
end

local LABEL_NAME = "^[%w]$"
local function label_part_ok(s)
  if #s == 0 or #s > 63 then return false end
  if #s == 1 then return s:match(LABEL_NAME) ~= nil end
  return s:match("^[%w][%w%-_%.]*[%w]$") ~= nil
end

local function dns_subdomain_ok(s)
  if #s == 0 or #s > 253 then return false end
  for part in (s .. "."):gmatch("([^.]*)%.") do
    if not (part:match("^[a-z0-9]$") or part:match("^[a-z0-9][a-z0-9%-]*[a-z0-9]$")) or #part > 63 then return false end
  end
  return true
end

-- Labels the kubelet accepts in --node-labels from the kubernetes.io and k8s.io namespaces
-- (kubelet's IsKubeletLabel): these keys, and any key under the two namespaces below.
local KUBELET_LABELS = {
  ["kubernetes.io/hostname"] = true, ["kubernetes.io/arch"] = true, ["kubernetes.io/os"] = true,
  ["beta.kubernetes.io/instance-type"] = true, ["node.kubernetes.io/instance-type"] = true,
  ["failure-domain.beta.kubernetes.io/region"] = true, ["failure-domain.beta.kubernetes.io/zone"] = true,
  ["topology.kubernetes.io/region"] = true, ["topology.kubernetes.io/zone"] = true,
  ["beta.kubernetes.io/arch"] = true, ["beta.kubernetes.io/os"] = true,
}
local function in_namespace(prefix, ns)
  return prefix == ns or prefix:sub(-(#ns + 1)) == "." .. ns
end

local function check_label(cx, key, value, path)
  local p = join(path, key)
  local prefix, name = key:match("^(.*)/([^/]*)$")
  if not prefix then name = key end
  if not label_part_ok(name) or (prefix and not dns_subdomain_ok(prefix)) then
    fail(cx, p, "%s is not a label key: write [prefix/]name, where name is 1 to 63 letters, digits, '-', '_' or '.' (starting and ending with a letter or digit) and prefix a DNS name",
      quote(key))
  end
  if prefix and (in_namespace(prefix, "kubernetes.io") or in_namespace(prefix, "k8s.io"))
    and not (KUBELET_LABELS[key] or in_namespace(prefix, "kubelet.kubernetes.io") or in_namespace(prefix, "node.kubernetes.io")) then
    fail(cx, p, "the kubelet refuses node labels in the kubernetes.io and k8s.io namespaces other than node.kubernetes.io/*, kubelet.kubernetes.io/* and a few well-known keys, and would not start; use your own prefix, like \"example.com/%s\"",
      name)
  end
  if type(value) ~= "string" then
    fail(cx, p, "must be a string, not %s%s", describe(cx, value),
      (type(value) == "number" or type(value) == "boolean") and "; quote it" or "")
  end
  if value ~= "" and not label_part_ok(value) then
    fail(cx, p, "%s is not a label value: up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
      quote(value))
  end
end

local function check_labels(cx, t, path)
  want_mapping(cx, t, path)
  local out = {}
  for _, key in ipairs(ordered_keys(cx, t, path)) do
    local value = text_of(cx, t, key)
    if value == NULL then value = "" end -- yaml.v3 stores a null map value as ""
    check_label(cx, key, value, path)
    out[key] = value
  end
  return out
end

-- A repository path component: [a-z0-9]+ joined by '.', '_', '__' or a run of '-'.
local function path_component_ok(c)
  local _, stop = c:find("^[a-z0-9]+")
  if not stop then return false end
  local i = stop + 1
  while i <= #c do
    local sep = c:match("^__", i) or c:match("^[._]", i) or c:match("^%-+", i)
    if not sep then return false end
    _, stop = c:find("^[a-z0-9]+", i + #sep)
    if not stop then return false end
    i = stop + 1
  end
  return true
end

-- Image references, after the distribution/reference grammar: [host[:port]/]path[:tag][@digest].
local function image_problem(ref)
  if ref == "" then return "is empty" end
  if #ref > 512 then return "is too long" end
  local bad = ref:match("[^%w%.%-_/:@%+]")
  if bad then
    if bad:match("%s") then return "contains whitespace" end
    if bad:byte() >= 0x80 then return "contains a non-ASCII character" end
    if bad:match("%c") then return "contains a control character" end
    return ("contains '%s', which no image reference has"):format(bad)
  end
  local rest, digest = ref:match("^(.-)@(.*)$")
  rest = rest or ref
  if digest then
    local alg, hex = digest:match("^([%w][%w%+%._%-]*):(%x+)$")
    if not alg or #hex < 32 then return "has a malformed digest after '@' (write @sha256:<64 hex digits>)" end
    if alg == "sha256" and #hex ~= 64 then return "has a sha256 digest that is not 64 hex digits" end
  end
  local name, tag = rest, nil
  local last_slash = rest:find("/[^/]*$")
  local colon = rest:find(":[^:/]*$")
  if colon and (not last_slash or colon > last_slash) then
    name, tag = rest:sub(1, colon - 1), rest:sub(colon + 1)
    if not tag:match("^[%w_][%w_%.%-]*$") or #tag > 128 then
      return "has a malformed tag (letters, digits, '_', '.' and '-', at most 128)"
    end
  end
  if name == "" then return "has no repository name" end
  local components = {}
  for c in (name .. "/"):gmatch("([^/]*)/") do components[#components + 1] = c end
  local first = components[1]
  if #components > 1 and (first:find("[.:]") or first == "localhost" or first:find("%u")) then
    local host, port = first:match("^(.-):(%d+)$")
    host = host or first
    if first:find(":") and not port then return "has a malformed registry port" end
    for part in (host .. "."):gmatch("([^.]*)%.") do
      if not part:match("^%w$") and not part:match("^%w[%w%-]*%w$") then return "has a malformed registry host" end
    end
    table.remove(components, 1)
  end
  for _, c in ipairs(components) do
    if not path_component_ok(c) then
      if c:find("%u") then return "has upper-case letters in its repository path" end
      return "has a malformed repository path (lower-case letters and digits, separated by '.', '_', '__' or '-')"
    end
  end
  return nil
end

--- The first host address of an IPv4 subnet, host bits ignored ("10.96.0.0/16" -> "10.96.0.1"):
-- for a service subnet, the `kubernetes` Service's address (kubeadm GetAPIServerVirtualIP).
function config.first_host(cidr)
  local a, b, c, d, bits = tostring(cidr):match("^(%d+)%.(%d+)%.(%d+)%.(%d+)/(%d+)$")
  if not a then error(("not an IPv4 subnet: %s"):format(tostring(cidr)), 2) end
  local v = (tonumber(a) << 24) | (tonumber(b) << 16) | (tonumber(c) << 8) | tonumber(d)
  local mask = bits == "0" and 0 or (0xffffffff << (32 - tonumber(bits))) & 0xffffffff
  v = (v & mask) + 1
  return ("%d.%d.%d.%d"):format((v >> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255)
end

--- The registry host of an image reference, as distribution/reference splits it: the first
-- component when it has a '.' or ':' or is "localhost", else docker.io.
function config.registry_of(ref)
  local first, rest = ref:match("^([^/]+)/(.+)$")
  if first and (first:find("[.:]") or first == "localhost") and rest then return first end
  return "docker.io"
end

-- registrySchemes: registry host[:port] -> "http" | "https". Apple's CLI from 1.3.0 pulls over
-- https unless told `--scheme http` (updates-2026-12 §1); kina already says http for the
-- registries `--scheme auto` reached over http, this names the others (a plain-HTTP registry
-- on the LAN, or https for a localhost registry that serves TLS).
local function check_registry_schemes(cx, v, path)
  want_mapping(cx, v, path)
  local out = {}
  for _, host in ipairs(ordered_keys(cx, v, path)) do
    local kpath = join(path, host)
    local problem = image_problem(host .. "/x")
    if problem or config.registry_of(host .. "/x") ~= host then
      fail(cx, kpath, "%s is not a registry host (like %s or %s): write the host and port only, no path or scheme",
        quote(host), quote("localhost:5001"), quote("registry.lan"))
    end
    local scheme = want_string(cx, text_of(cx, v, host), kpath)
    if scheme ~= "http" and scheme ~= "https" then
      fail(cx, kpath, "%s is not a scheme: write \"http\" or \"https\"", quote(scheme))
    end
    out[host] = scheme
  end
  return out
end

local function check_image(cx, v, path)
  want_string(cx, v, path)
  local problem = image_problem(v)
  if problem then
    fail(cx, path, "%s is not an image reference (like %s): it %s", quote(v), quote("kindest/node:v1.35.5"), problem)
  end
  return v
end

local function no_control(cx, s, path)
  if s:find("%c") then fail(cx, path, "%s contains a control character (a newline?)", quote(s)) end
end

local function clean_path(p)
  local parts = {}
  for seg in p:gmatch("[^/]+") do
    if seg == ".." then
      if #parts > 0 then parts[#parts] = nil end
    elseif seg ~= "." then
      parts[#parts + 1] = seg
    end
  end
  return "/" .. table.concat(parts, "/")
end

-- A host path: absolute, or relative to cx.cwd as kind resolves it (kind §8).
local function check_host_path(cx, v, path)
  want_string(cx, v, path)
  no_control(cx, v, path)
  if v == "" then fail(cx, path, "must not be empty") end
  if v:sub(1, 1) == "~" then
    fail(cx, path, "%s starts with '~', which kina does not expand; write the full path", quote(v))
  end
  if v:find(":", 1, true) then
    fail(cx, path, "%s contains ':', which Apple's --volume syntax cannot carry", quote(v))
  end
  if v:sub(1, 1) ~= "/" then
    if not cx.cwd then fail(cx, path, "%s must be an absolute host path", quote(v)) end
    return clean_path(cx.cwd .. "/" .. v)
  end
  return v
end

local function check_absolute(cx, v, path, what)
  want_string(cx, v, path)
  no_control(cx, v, path)
  if v:sub(1, 1) == "~" then
    fail(cx, path, "%s starts with '~', which kina does not expand; write the full path", quote(v))
  end
  if v:sub(1, 1) ~= "/" then fail(cx, path, "%s must be an absolute %s", quote(v), what) end
  return v
end

-- ---------------------------------------------------------------------------------------
-- kina's resource fields, validated by kina.core.spec (the same code that emits the argv)

local function spec_message(err, field)
  local msg = tostring(err)
  if msg:sub(1, #field + 2) == field .. ": " then return msg:sub(#field + 3) end
  return msg
end

local function check_cpus(cx, v, path)
  local n = want_integer(cx, v, path)
  if n < 1 then fail(cx, path, "%d is not a CPU count; use 1 or more", n) end
  return n
end

-- Memory: a size with a unit ("4G", "4096M"); returns Apple's canonical form.
local function check_memory(cx, v, path, prefix)
  if type(v) ~= "string" and type(v) ~= "number" then
    fail(cx, path, "must be a size with a unit, like \"4G\", not %s", describe(cx, v))
  end
  local desc = { name = "kina-check", cluster = "kina", role = "worker", image = "kina-check", memory = v }
  local ok, argv = pcall(spec.run_argv, desc, "1.2.2", prefix)
  if not ok then fail(cx, path, "%s", spec_message(argv, path)) end
  if type(v) == "number" then fail(cx, path, "must be a string with a unit, like \"4G\"") end
  for i = 1, #argv - 1 do
    if argv[i] == "--memory" then return argv[i + 1] end
  end
  return v
end

local function check_network(cx, v, path)
  want_string(cx, v, path)
  if #v > 63 or not (v:match("^[a-z0-9]$") or v:match("^[a-z0-9][a-z0-9%._%-]*[a-z0-9]$")) then
    fail(cx, path, "%s is not a network name (lower-case letters, digits, '.', '_' and '-', up to 63 characters)", quote(v))
  end
  if v == "none" then
    fail(cx, path, "\"none\" would leave the nodes without a network; Kubernetes nodes must reach each other")
  end
  if v == "default" then return nil end
  return v
end

-- ---------------------------------------------------------------------------------------
-- YAML: libyaml's event stream turned into Lua values, with a line for every path.

local YAML_TAG = "tag:yaml.org,2002:"
local MAX_DEPTH = 64

-- Plain scalars as kind's decoder resolves them: go.yaml.in/yaml/v3 v3.0.4 (kind's go.mod),
-- resolve.go `resolve`. null: "", ~, null/Null/NULL; booleans: only true/false in three
-- spellings (yes/no/on/off are strings here; a bool field still reads them, see
-- want_boolean); integers as Go's strconv.ParseInt(s, 0, 64) reads them once every '_' is
-- dropped (sign, 0x/0o/0b, and a leading 0 meaning octal: 017 is 15); floats; anything else
-- (timestamps included) is a string. Integers past int64 become floats, as v3 falls back to
-- ParseUint and then ParseFloat.
local RESOLVE_MAP = {
  ["true"] = true, ["True"] = true, ["TRUE"] = true,
  ["false"] = false, ["False"] = false, ["FALSE"] = false,
  [""] = NULL, ["~"] = NULL, ["null"] = NULL, ["Null"] = NULL, ["NULL"] = NULL,
  [".nan"] = 0 / 0, [".NaN"] = 0 / 0, [".NAN"] = 0 / 0,
  [".inf"] = math.huge, [".Inf"] = math.huge, [".INF"] = math.huge,
  ["+.inf"] = math.huge, ["+.Inf"] = math.huge, ["+.INF"] = math.huge,
  ["-.inf"] = -math.huge, ["-.Inf"] = -math.huge, ["-.INF"] = -math.huge,
}

-- Go's base-0 integer syntax (strconv.ParseInt/ParseUint with base 0): sign, base and digits
-- of `s`, or nil when it is not such an integer.
local function go_int_parts(s)
  local sign, body = s:match("^([-+]?)(.+)$")
  if not body then return nil end
  local base, digits = 10, body
  local prefix = body:sub(1, 2):lower()
  if prefix == "0x" then base, digits = 16, body:sub(3)
  elseif prefix == "0o" then base, digits = 8, body:sub(3)
  elseif prefix == "0b" then base, digits = 2, body:sub(3)
  elseif #body > 1 and body:sub(1, 1) == "0" then base, digits = 8, body:sub(2)
  end
  if digits == "" then return nil end
  for c in digits:gmatch(".") do
    local d = tonumber(c, 36)
    if not d or d >= base then return nil end
  end
  return sign, base, digits
end

-- What yaml.v3 makes of an integer-looking scalar: ParseInt's int64, else ParseUint's uint64
-- (no sign allowed; a Lua float here), else nil.
local function go_integer(s)
  local sign, base, digits = go_int_parts(s)
  if not sign then return nil end
  local n, big = 0, nil
  for c in digits:gmatch(".") do
    local d = tonumber(c, 36)
    if big then big = big * base + d
    elseif n > (math.maxinteger - d) // base then big = (n + 0.0) * base + d
    else n = n * base + d end
  end
  if not big then return sign == "-" and -n or n end
  if sign == "" and big < 2.0 ^ 64 then return big end
  return nil
end

-- yaml.v3's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
local function yaml_style_float(s)
  local body = s:gsub("^[-+]", "", 1)
  local mantissa = body:match("^([%d%.]+)[eE][-+]?%d+$") or body
  return mantissa:match("^%.%d+$") ~= nil or mantissa:match("^%d+%.?%d*$") ~= nil
end

local function plain_scalar(s)
  local mapped = RESOLVE_MAP[s]
  if mapped ~= nil then return mapped end
  local first = s:sub(1, 1)
  if first == "." then
    if s:match("^%.%d+$") or s:match("^%.%d+[eE][-+]?%d+$") then return tonumber(s) + 0.0 end
  elseif first:match("[%d+%-]") then
    local plain = s:gsub("_", "")
    local n = go_integer(plain)
    if n then return n end
    if yaml_style_float(plain) then return tonumber(plain) + 0.0 end
  end
  return s
end

-- "<problem> at document: 1, line: 3, column: 1\nwhile parsing a flow sequence at line: 2,
-- column: 4" (lyaml's parser errors) -> line, column, message
local function yaml_syntax(err, text)
  err = tostring(err)
  local problem = err:match("^(.-) at document") or err:match("^([^\n]*)")
  local line, col = err:match("^[^\n]- at document: %d+, line: (%d+), column: (%d+)")
  local context, cline, ccol = err:match("\nwhile (.-) at line: (%d+), column: (%d+)")
  local msg = "invalid YAML: " .. problem
  if context then
    if line then
      msg = msg .. (" (while %s that starts at line %s, column %s)"):format(context, cline, ccol)
    else
      line, col = cline, ccol
      msg = msg .. (" (while %s)"):format(context)
    end
  end
  line, col = tonumber(line), tonumber(col)
  if line and text then
    local n = 0
    for l in (text .. "\n"):gmatch("([^\n]*)\n") do
      n = n + 1
      if n == line then
        if l:match("^%s*\t") or (col and l:sub(col, col) == "\t") then
          msg = msg .. "; YAML indents with spaces, not tabs"
        end
        break
      end
    end
  end
  return line, col, msg
end

-- Parse `text` (one YAML document). Returns value (nil when empty) and { lines, shape, text }:
-- lines maps paths to lines; shape maps tables to "list" or "mapping"; text[t][k] is the
-- source text of the scalar t[k] when it did not resolve to a string (`true`, `80`, `1.10`),
-- for the fields kind decodes into Go strings (see text_of).
-- Raises a ConfigError (source `source`) for invalid YAML, duplicate keys and the like;
-- `one_document` ends the message for a second document.
local function load_yaml(text, source, one_document)
  local lines, shape = {}, setmetatable({}, { __mode = "k" })
  local texts = setmetatable({}, { __mode = "k" })
  local cx = { source = source, lines = lines, shape = shape, text = texts }
  local anchors, anchor_texts = {}, {}
  local function remember(container, key, value, raw)
    if raw ~= nil and type(value) ~= "string" and value ~= NULL then
      texts[container] = texts[container] or {}
      texts[container][key] = raw
    end
  end
  local events = lyaml_parser(text)
  local function pos(ev) return ev.start_mark.line + 1, ev.start_mark.column + 1 end
  local function syntax_fail(ev, fmt, ...)
    local line, col = pos(ev)
    error(ConfigError.new { source = source, line = line, column = col, message = fmt:format(...) }, 0)
  end

  local build
  local function scalar(ev)
    local tag = ev.tag
    if tag then
      if tag == YAML_TAG .. "str" then return ev.value end
      local known = { null = true, bool = true, int = true, float = true }
      local short = tag:sub(1, #YAML_TAG) == YAML_TAG and tag:sub(#YAML_TAG + 1)
      if not (short and known[short]) and tag ~= "!" then
        syntax_fail(ev, "YAML tag %s is not supported here", quote(tag))
      end
      if tag == "!" then return ev.value end
      return plain_scalar(ev.value)
    end
    if ev.style ~= "PLAIN" then return ev.value end
    return plain_scalar(ev.value)
  end

  function build(ev, path, depth)
    if depth > MAX_DEPTH then syntax_fail(ev, "invalid YAML: nested more than %d levels deep", MAX_DEPTH) end
    local t = ev.type
    local value, raw
    if t == "SCALAR" then
      value, raw = scalar(ev), ev.value
    elseif t == "ALIAS" then
      value, raw = anchors[ev.anchor], anchor_texts[ev.anchor]
      if value == nil then syntax_fail(ev, "invalid YAML: unknown anchor %s", quote(ev.anchor)) end
    elseif t == "SEQUENCE_START" then
      if ev.tag and ev.tag ~= YAML_TAG .. "seq" then syntax_fail(ev, "YAML tag %s is not supported here", quote(ev.tag)) end
      value = {}
      shape[value] = "list"
      local i = 0
      while true do
        local item = events()
        if item.type == "SEQUENCE_END" then break end
        i = i + 1
        local p = index(path, i)
        lines[p] = lines[p] or pos(item)
        local v, vraw = build(item, p, depth + 1)
        value[i] = v
        remember(value, i, v, vraw)
      end
    elseif t == "MAPPING_START" then
      if ev.tag and ev.tag ~= YAML_TAG .. "map" then syntax_fail(ev, "YAML tag %s is not supported here", quote(ev.tag)) end
      value = {}
      shape[value] = "mapping"
      local merges = {}
      while true do
        local kev = events()
        if kev.type == "MAPPING_END" then break end
        if kev.type ~= "SCALAR" then syntax_fail(kev, "invalid YAML: mapping keys must be plain names, not lists, mappings or aliases") end
        local key = kev.value
        local vev = events()
        if key == "<<" and kev.style == "PLAIN" then
          merges[#merges + 1] = { build(vev, path, depth + 1), vev }
        else
          local p = join(path, key)
          if value[key] ~= nil then
            local line = pos(kev)
            error(ConfigError.new { source = source, path = p, line = line,
              message = ("is set twice (lines %d and %d)"):format(lines[p] or 0, line) }, 0)
          end
          lines[p] = pos(kev)
          local v, vraw = build(vev, p, depth + 1)
          value[key] = v
          remember(value, key, v, vraw)
        end
      end
      -- `<<: *base` (or a list of them): keys not set explicitly come from the merged maps
      for _, m in ipairs(merges) do
        local src, mev = m[1], m[2]
        local list = shape[src] == "list" and src or { src }
        for _, map in ipairs(list) do
          if shape[map] ~= "mapping" then syntax_fail(mev, "invalid YAML: '<<' merges mappings only") end
          for k, v in pairs(map) do
            if value[k] == nil then
              value[k] = v
              remember(value, k, v, texts[map] and texts[map][k])
              lines[join(path, k)] = lines[join(path, k)] or pos(mev)
            end
          end
        end
      end
    else
      syntax_fail(ev, "invalid YAML: unexpected %s", t)
    end
    if ev.anchor then anchors[ev.anchor], anchor_texts[ev.anchor] = value, raw end
    return value, raw
  end

  local ok, result = pcall(function()
    local ev = events()
    assert(ev.type == "STREAM_START")
    ev = events()
    if ev.type == "STREAM_END" then return nil end
    local root = (build(events(), "", 0))
    events() -- DOCUMENT_END
    ev = events()
    if ev.type == "DOCUMENT_START" then
      syntax_fail(ev, "a second YAML document starts here; %s", one_document or "a kind config is one document")
    end
    return root
  end)
  if not ok then
    if config.is_error(result) then error(result, 0) end
    local line, col, msg = yaml_syntax(result, text)
    error(ConfigError.new { source = source, line = line, column = col, message = msg }, 0)
  end
  return result, cx
end

-- ---------------------------------------------------------------------------------------
-- The model

local function check_string_list(cx, v, path)
  local n = want_list(cx, v, path)
  local out = {}
  for i = 1, n do
    out[i] = want_string(cx, text_of(cx, v, i), index(path, i))
  end
  return out
end

-- A patch string cut into YAML documents as kind cuts it (pkg/internal/patch/resource.go,
-- splitYAMLDocument, taken from apimachinery's YAML decoder): a document ends at "\n---" and
-- the rest of that separator line is dropped. Returns { { text, line }, ... } (line: where the
-- document starts in `text`), or nil, the 1-based line and the text of a separator line
-- carrying more than a comment, which kind would drop without a word (and, when that line is
-- the last and has no newline, kind's scanner drops every document of the patch).
local function split_documents(text)
  local docs, start, line = {}, 1, 1
  while true do
    local at = text:find("\n---", start, true)
    if not at then
      if start <= #text then docs[#docs + 1] = { text = text:sub(start), line = line } end
      return docs
    end
    docs[#docs + 1] = { text = text:sub(start, at - 1), line = line }
    local _, newlines = text:sub(start, at):gsub("\n", "")
    line = line + newlines -- the separator's line
    local stop = text:find("\n", at + 4, true)
    local rest = text:sub(at + 4, stop and stop - 1 or #text)
    if rest:find("%S") and not rest:match("^%s+#") then return nil, line, "---" .. rest end
    if not stop then return docs end
    start, line = stop + 1, line + 1
  end
end

-- A YAML parse of patch text, or a failure naming `path`. `what` names the part in messages
-- ("" for the whole string, "document 2 of the patch (line 4)"); `first_line` is where that
-- part starts in the string, so lines are counted in the string as the user wrote it.
local function parse_patch_yaml(cx, text, path, what, first_line, one_document)
  local ok, doc, pcx = pcall(load_yaml, text, "patch", one_document)
  if ok then return doc, pcx end
  local e = doc
  local subject = what == "" and "is" or what .. " is"
  if config.is_error(e) and e.line then
    local message = e.message:gsub("^invalid YAML: ", ""):gsub("at line (%d+)", function(n)
      return "at line " .. (tonumber(n) + first_line - 1)
    end)
    fail(cx, path, "%s not valid YAML: line %d%s of the patch: %s", subject, e.line + first_line - 1,
      e.column and (", column " .. e.column) or "", message)
  end
  fail(cx, path, "%s not valid YAML: %s", subject, config.is_error(e) and e.message or tostring(e))
end

-- kubeadmConfigPatches: YAML merge patches, each naming the `kind` it patches. A string may
-- hold several documents separated by `---`, as in kind; the string is kept as written and
-- every document is checked here.
local function check_kubeadm_patches(cx, v, path)
  local n = want_list(cx, v, path)
  local out = {}
  for i = 1, n do
    local p = index(path, i)
    local patch = text_of(cx, v, i)
    if type(patch) ~= "string" then
      fail(cx, p, "must be a string holding a YAML document (in YAML, write `- |` and indent the patch), not %s",
        describe(cx, patch))
    end
    want_string(cx, patch, p)
    local docs, bad_line, bad_text = split_documents(patch)
    if not docs then
      fail(cx, p, "line %d of the patch (%s) starts a new document but has text after \"---\", which kind drops without a word; put that text on the next line",
        bad_line, quote(bad_text))
    end
    if #docs == 0 then fail(cx, p, "is empty; write a merge patch like \"kind: ClusterConfiguration\" plus the fields to change") end
    for d, piece in ipairs(docs) do
      local what = #docs == 1 and "the patch" or ("document %d of the patch (line %d)"):format(d, piece.line)
      local doc, pcx = parse_patch_yaml(cx, piece.text, p, #docs == 1 and "" or what, piece.line,
        "kind cuts a patch into documents only at \"---\" lines and reads one document from each piece")
      if doc == nil and #docs > 1 then
        fail(cx, p, "%s is empty; remove the extra \"---\"", what)
      end
      if doc == nil or pcx.shape[doc] ~= "mapping" then
        fail(cx, p, "%s be a YAML mapping (a merge patch like \"kind: ClusterConfiguration\" plus the fields to change)",
          #docs == 1 and "must" or what .. " must")
      end
      if type(doc.kind) ~= "string" then
        fail(cx, p, "%s set kind (the kubeadm document it patches: ClusterConfiguration, InitConfiguration, JoinConfiguration, KubeletConfiguration or KubeProxyConfiguration)",
          #docs == 1 and "must" or what .. " must")
      end
      if doc.apiVersion ~= nil and type(doc.apiVersion) ~= "string" then
        fail(cx, p, "%s", #docs == 1 and "apiVersion in the patch must be a string"
          or ("apiVersion in %s must be a string"):format(what))
      end
    end
    out[i] = patch
  end
  return out
end

local JSON6902_OPS = { add = true, remove = true, replace = true, move = true, copy = true, test = true }
local JSON6902_NEEDS_VALUE = { add = true, replace = true, test = true } -- RFC 6902 §4.1, §4.3, §4.6
local JSON6902_NEEDS_FROM = { move = true, copy = true }                 -- RFC 6902 §4.4, §4.5

-- Why `pointer` is not a JSON pointer (RFC 6901 §3, §4), or nil.
local function pointer_problem(pointer)
  if pointer ~= "" and pointer:sub(1, 1) ~= "/" then return "it must be empty or start with \"/\"" end
  if pointer:find("~[^01]") or pointer:find("~$") then
    return "\"~\" must be followed by 0 or 1 (write ~0 for \"~\" and ~1 for \"/\")"
  end
  return nil
end

-- An RFC 6902 operation list in YAML (or JSON, which is YAML): a list of mappings, each with
-- an op kind's library knows (evanphx/json-patch v5) and the members RFC 6902 requires.
-- Checked here so a mistake is reported when the config is read, not halfway through create.
local function check_json6902_ops(cx, text, path)
  if not text:find("%S") then
    fail(cx, path, "is empty; write the operations, like \"- op: add\\n  path: /apiServer/certSANs/-\\n  value: my-host\"")
  end
  local ops, pcx = parse_patch_yaml(cx, text, path, "", 1, "a JSON 6902 patch is one list of operations")
  if ops == nil or pcx.shape[ops] ~= "list" then
    fail(cx, path, "must be a list of RFC 6902 operations (\"- op: add\", \"path: /a/b\", \"value: ...\"), not %s",
      ops == nil and "nothing" or describe(pcx, ops))
  end
  for j, op in ipairs(ops) do
    if pcx.shape[op] ~= "mapping" then
      fail(cx, path, "operation %d must be a mapping like {op: add, path: /a/b, value: 1}, not %s", j, describe(pcx, op))
    end
    local name = op.op
    if name == nil or name == NULL then
      fail(cx, path, "operation %d has no op (add, remove, replace, move, copy or test)", j)
    end
    if not JSON6902_OPS[name] then
      fail(cx, path, "operation %d: op %s is not add, remove, replace, move, copy or test", j,
        type(name) == "string" and quote(name) or describe(pcx, name))
    end
    if op.path == nil or op.path == NULL then
      fail(cx, path, "operation %d (%s) has no path (a JSON pointer like \"/apiServer/certSANs/-\")", j, name)
    end
    if type(op.path) ~= "string" then
      fail(cx, path, "operation %d (%s): path must be a JSON pointer string, not %s", j, name, describe(pcx, op.path))
    end
    local problem = pointer_problem(op.path)
    if problem then
      fail(cx, path, "operation %d (%s): path %s is not a JSON pointer: %s", j, name, quote(op.path), problem)
    end
    if JSON6902_NEEDS_VALUE[name] and op.value == nil then
      fail(cx, path, "operation %d (%s %s) has no value", j, name, quote(op.path))
    end
    if JSON6902_NEEDS_FROM[name] then
      if op.from == nil or op.from == NULL then
        fail(cx, path, "operation %d (%s %s) has no from (the JSON pointer it %s)", j, name, quote(op.path),
          name == "move" and "moves" or "copies")
      end
      if type(op.from) ~= "string" then
        fail(cx, path, "operation %d (%s): from must be a JSON pointer string, not %s", j, name, describe(pcx, op.from))
      end
      problem = pointer_problem(op.from)
      if problem then
        fail(cx, path, "operation %d (%s): from %s is not a JSON pointer: %s", j, name, quote(op.from), problem)
      end
    end
  end
end

-- kubeadmConfigPatchesJSON6902: kind's PatchJSON6902 list. kind applies a patch to the
-- kubeadm documents whose kind is `kind` and, when group or version is set, whose apiVersion
-- is group/version (or version alone when group is empty; patch/matchinfo.go).
local function check_kubeadm_json6902(cx, v, path)
  local n = want_list(cx, v, path)
  local out = {}
  for i = 1, n do
    local ip = index(path, i)
    local pv, pp = read_section(cx, v[i], ip, JSON6902_PATCH)
    if type(pv.patch) == "table" then
      fail(cx, pp.patch, "must be a string holding the operations (in YAML, write `patch: |` and indent them below), not %s",
        describe(cx, pv.patch))
    end
    local entry = {}
    for _, key in ipairs { "group", "version", "kind", "patch" } do
      entry[key] = pv[key] ~= nil and want_string(cx, pv[key], pp[key]) or ""
    end
    if entry.kind == "" then
      fail(cx, pp.kind, "is required: the kind of the kubeadm document to patch (ClusterConfiguration, InitConfiguration, JoinConfiguration, KubeletConfiguration or KubeProxyConfiguration); without it kind patches nothing")
    end
    if entry.group ~= "" and entry.version == "" then
      fail(cx, pp.version, "is required when group is set: the patch applies to apiVersion %s, which no document has; write the version too, like \"v1beta4\"",
        quote(entry.group .. "/"))
    end
    if pv.patch == nil then
      fail(cx, pp.patch, "is required: the RFC 6902 operations, like \"- op: add\\n  path: /apiServer/certSANs/-\\n  value: my-host\"")
    end
    check_json6902_ops(cx, entry.patch, pp.patch)
    out[i] = entry
  end
  return out
end

-- containerdConfigPatchesJSON6902: a list of RFC 6902 operation lists, as strings.
local function check_containerd_json6902(cx, v, path)
  local patches = check_string_list(cx, v, path)
  for i, text in ipairs(patches) do check_json6902_ops(cx, text, index(path, i)) end
  return patches
end

local function check_ports_of(cx, values, paths, claimed)
  local ports = {}
  if values.extra_port_mappings == nil then return ports end
  local list, lpath = values.extra_port_mappings, paths.extra_port_mappings
  local n = want_list(cx, list, lpath)
  for i = 1, n do
    local ip = index(lpath, i)
    local pv, pp = read_section(cx, list[i], ip, PORT)
    local function port(key, required)
      local v = pv[key]
      if v == nil then
        if required then fail(cx, pp[key], "is required") end
        return 0
      end
      local p = want_integer(cx, v, pp[key])
      if not required and (p == 0 or p == -1) then return 0 end -- kind: pick one
      if p < 1 or p > 65535 then fail(cx, pp[key], "%d is not a port (1-65535)", p) end
      if p == 1 then fail(cx, pp[key], "1 is not a port Apple's runtime publishes; it needs 2 or more") end
      return p
    end
    local container_port = port("container_port", true)
    local host_port = port("host_port", false)
    local address = defaults.listen_address
    if pv.listen_address ~= nil then
      address = want_string(cx, pv.listen_address, pp.listen_address)
      local fam = ip_family(address)
      if not fam then fail(cx, pp.listen_address, "%s is not an IPv4 or IPv6 address", quote(address)) end
    end
    local protocol = defaults.protocol
    if pv.protocol ~= nil then
      local given = want_string(cx, pv.protocol, pp.protocol)
      protocol = given:lower()
      if protocol == "sctp" then
        fail(cx, pp.protocol, "SCTP cannot be published: Apple's runtime forwards only TCP and UDP ports")
      elseif protocol ~= "tcp" and protocol ~= "udp" then
        fail(cx, pp.protocol, "%s is not a protocol; use \"TCP\" or \"UDP\"", quote(given))
      end
    end
    if host_port ~= 0 then
      local wildcard = address == "0.0.0.0" or address == "::"
      if host_port < defaults.privileged_port_limit and not wildcard then
        fail(cx, pp.host_port, "%d on %s is below 1024: macOS lets your user bind such ports only on every address, and sudo does not help because Apple's container services run as your user; use listenAddress \"0.0.0.0\" or a port from 1024 up",
          host_port, address)
      end
      local key = host_port .. "/" .. protocol
      if claimed[key] then
        fail(cx, pp.host_port, "%s is already published by %s; Apple's runtime refuses the same host port twice, even on different addresses",
          key, claimed[key])
      end
      claimed[key] = ip
    end
    ports[i] = { container_port = container_port, host_port = host_port, listen_address = address, protocol = protocol }
  end
  return ports
end

local function check_mounts(cx, values, paths)
  local mounts = {}
  if values.extra_mounts == nil then return mounts end
  local list, lpath = values.extra_mounts, paths.extra_mounts
  local n = want_list(cx, list, lpath)
  local seen = {}
  for i = 1, n do
    local mp = index(lpath, i)
    local mv, mpaths = read_section(cx, list[i], mp, MOUNT)
    if mv.host_path == nil then fail(cx, mpaths.host_path, "is required (the directory or file on the Mac)") end
    if mv.container_path == nil then fail(cx, mpaths.container_path, "is required (where the node sees it)") end
    local host = check_host_path(cx, mv.host_path, mpaths.host_path)
    local dst = check_absolute(cx, mv.container_path, mpaths.container_path, "path in the node")
    if dst:match("^/+$") then fail(cx, mpaths.container_path, "cannot mount over the node's root") end
    if dst:find("[:,]") then
      fail(cx, mpaths.container_path, "%s contains ':' or ',', which Apple's mount syntax cannot carry", quote(dst))
    end
    local norm = clean_path(dst)
    if seen[norm] then fail(cx, mpaths.container_path, "%s is already mounted by %s", quote(dst), seen[norm]) end
    seen[norm] = mp
    local readonly = mv.readonly ~= nil and want_boolean(cx, mv.readonly, mpaths.readonly) or false
    if mv.selinux_relabel ~= nil and want_boolean(cx, mv.selinux_relabel, mpaths.selinux_relabel) then
      fail(cx, mpaths.selinux_relabel, "cannot be honoured: the Mac has no SELinux labels to relabel; remove it")
    end
    local mount = { host_path = host, container_path = dst, readonly = readonly }
    if mv.propagation ~= nil then
      local prop = want_string(cx, mv.propagation, mpaths.propagation)
      if prop == "HostToContainer" or prop == "Bidirectional" then
        fail(cx, mpaths.propagation, "%s cannot be honoured: Apple's runtime shares host directories into the node VM with virtiofs, which has no mount propagation; use \"None\"",
          quote(prop))
      elseif prop ~= "None" then
        fail(cx, mpaths.propagation, "%s is not a mount propagation (None, HostToContainer or Bidirectional)", quote(prop))
      end
      mount.propagation = prop
    end
    mounts[i] = mount
  end
  return mounts
end

-- kind and apiVersion: required in YAML (as kind requires them), optional in Lua.
local function check_kind_header(cx, t)
  local vkey = "apiVersion"
  if cx.lang == "lua" and rawget(t, "apiVersion") == nil and rawget(t, "api_version") ~= nil then vkey = "api_version" end
  local kind, version = text_of(cx, t, "kind"), text_of(cx, t, vkey)
  if kind == NULL then kind = nil end
  if version == NULL then version = nil end
  if cx.lang == "yaml" or version ~= nil then
    if version == nil then
      fail(cx, vkey, "is required: write apiVersion: %s (and kind: Cluster)", defaults.api_version)
    end
    want_string(cx, version, vkey)
    if version:match("^kind%.x%-k8s%.io/v1alpha[123]$") or version:match("^kind%.sigs%.k8s%.io/") then
      fail(cx, vkey, "%s is an old kind config format that kina does not support; convert it to %s (kind's current format)",
        quote(version), defaults.api_version)
    end
    if version ~= defaults.api_version then
      fail(cx, vkey, "%s is not kind's config format; write %s", quote(version), defaults.api_version)
    end
  end
  if cx.lang == "yaml" or kind ~= nil then
    if kind == nil then fail(cx, "kind", "is required: write kind: Cluster") end
    want_string(cx, kind, "kind")
    if kind ~= defaults.kind then fail(cx, "kind", "%s is not \"Cluster\"", quote(kind)) end
  end
end

local function check_networking(cx, t, path, node_count)
  local v, p = {}, {}
  if t ~= nil then v, p = read_section(cx, t, path, NETWORKING, MISPLACED.networking) end
  if not p.ip_family then
    for _, f in ipairs(NETWORKING) do p[f.model] = join(path, cx.lang == "lua" and f.snake or f.camel) end
  end
  local net = {}
  local family = defaults.ip_family
  if v.ip_family ~= nil then
    family = want_string(cx, v.ip_family, p.ip_family)
    if family == "ipv6" or family == "dual" then
      fail(cx, p.ip_family, "%s is not supported on Apple's container runtime: a node's IPv6 address is assigned by vmnet and changes at every start (it cannot be pinned, so certificates and kubelet addresses would go stale), there is no --sysctl to enable IPv6 forwarding when a node is created, and the default kernel's IPv6 support is incomplete; use \"ipv4\"",
        quote(family))
    elseif family ~= "ipv4" then
      fail(cx, p.ip_family, "%s is not an IP family; use \"ipv4\"", quote(family))
    end
  end
  net.ip_family = family

  local address = defaults.api_server_address
  if v.api_server_address ~= nil then
    address = want_string(cx, v.api_server_address, p.api_server_address)
    if not ip_family(address) then
      fail(cx, p.api_server_address, "%s is not an IPv4 or IPv6 address (the host address the API server is published on)", quote(address))
    end
    if address == "0.0.0.0" or address == "::" then
      warn(cx, p.api_server_address, "%s publishes the API server on every host interface", address)
    end
  end
  net.api_server_address = address

  local port = defaults.api_server_port
  if v.api_server_port ~= nil then
    port = want_integer(cx, v.api_server_port, p.api_server_port)
    if port == -1 then port = 0 end -- kind: "the backend picks"; here kina picks
    if port < 0 or port > 65535 then fail(cx, p.api_server_port, "%d is not a port (1-65535, or 0 to let kina pick one)", port) end
    if port == 1 then fail(cx, p.api_server_port, "1 is not a port Apple's runtime publishes; it needs 2 or more") end
    if port ~= 0 and port < defaults.privileged_port_limit and address ~= "0.0.0.0" and address ~= "::" then
      fail(cx, p.api_server_port, "%d on %s is below 1024: macOS lets your user bind such ports only on every address, and sudo does not help because Apple's container services run as your user; use a port from 1024 up (or 0 to let kina pick one)",
        port, address)
    end
  end
  net.api_server_port = port
  net.api_server_port_path = p.api_server_port

  local pod = parse_cidr(cx, v.pod_subnet == nil and defaults.pod_subnet or v.pod_subnet, p.pod_subnet, "pod subnet")
  local svc = parse_cidr(cx, v.service_subnet == nil and defaults.service_subnet or v.service_subnet, p.service_subnet, "service subnet")
  -- kind passes both on as written (kubeadm's podSubnet/serviceSubnet, kindnet's POD_SUBNET:
  -- create/actions/config/config.go, installcni/cni.go); so does kina.
  net.pod_subnet, net.service_subnet = pod.text, svc.text
  for _, r in ipairs { { pod, p.pod_subnet }, { svc, p.service_subnet } } do
    if r[1].network then
      warn(cx, r[2], "%s has host bits set; Kubernetes reads it as the range %s", quote(r[1].text), r[1].network)
    end
  end

  local node_net = parse_cidr({ source = "kina.defaults" }, defaults.node_network_subnet, "node_network_subnet", "node network")
  for _, r in ipairs { { pod, p.pod_subnet, "pod subnet" }, { svc, p.service_subnet, "service subnet" } } do
    local range, rpath = r[1], r[2]
    for _, res in ipairs(RESERVED) do
      local reserved = parse_cidr({ source = "kina" }, res[1], "reserved", "range")
      if overlaps(range, reserved) then
        fail(cx, rpath, "%s overlaps %s (%s)", quote(range.text), res[1], res[2])
      end
    end
    if overlaps(range, node_net) then
      fail(cx, rpath, "%s overlaps %s, the network of Apple's runtime that the nodes are on; pick a range outside it, like %s",
        quote(range.text), defaults.node_network_subnet, quote(defaults[r[3] == "pod subnet" and "pod_subnet" or "service_subnet"]))
    end
  end
  if overlaps(pod, svc) then
    fail(cx, p.service_subnet, "%s overlaps the pod subnet %s; pods and services need separate ranges",
      quote(svc.text), quote(pod.text))
  end
  -- Each node gets a /24 of the pod subnet (kube-controller-manager's default node mask).
  if pod.prefix > 24 then
    fail(cx, p.pod_subnet, "%s is too small: every node takes a /24 from it, so it must be a /24 or larger", quote(pod.text))
  end
  if node_count > 1 << (24 - pod.prefix) then
    fail(cx, p.pod_subnet, "%s has room for %d nodes (a /24 each), and the cluster has %d", quote(pod.text),
      1 << (24 - pod.prefix), node_count)
  end
  -- kube-apiserver refuses service ranges larger than /12; the DNS service is the 10th address.
  if svc.prefix < 12 then
    fail(cx, p.service_subnet, "%s is too large: the API server accepts service ranges of /12 or smaller", quote(svc.text))
  end
  if svc.prefix > 28 then
    fail(cx, p.service_subnet, "%s is too small: the cluster DNS service takes its 10th address, use /28 or larger", quote(svc.text))
  end

  net.disable_default_cni = defaults.disable_default_cni
  if v.disable_default_cni ~= nil then
    net.disable_default_cni = want_boolean(cx, v.disable_default_cni, p.disable_default_cni)
  end
  net.kube_proxy_mode = defaults.kube_proxy_mode
  if v.kube_proxy_mode ~= nil then
    local mode = want_string(cx, v.kube_proxy_mode, p.kube_proxy_mode)
    if mode ~= "iptables" and mode ~= "nftables" and mode ~= "ipvs" and mode ~= "none" then
      fail(cx, p.kube_proxy_mode, "%s is not a kube-proxy mode; use \"iptables\", \"nftables\", \"ipvs\" or \"none\"", quote(mode))
    end
    net.kube_proxy_mode = mode
  end
  if v.dns_search ~= nil then
    fail(cx, p.dns_search, "is not supported by kina yet: nodes use the resolver of Apple's network (its gateway) and the host's search domains are not copied; remove it")
  end
  return net
end

local function check_feature_gates(cx, t, path)
  want_mapping(cx, t, path)
  local out = {}
  for _, key in ipairs(ordered_keys(cx, t, path)) do
    local p = join(path, key)
    if not key:match("^%a[%w]*$") then
      fail(cx, p, "%s is not a feature gate name (letters and digits, like \"InPlacePodVerticalScaling\")", quote(key))
    end
    out[key] = want_boolean(cx, t[key], p)
  end
  return out
end

local function check_runtime_config(cx, t, path)
  want_mapping(cx, t, path)
  local out = {}
  for _, key in ipairs(ordered_keys(cx, t, path)) do
    local p = join(path, key)
    if not key:match("^[%w][%w%./_%-]*$") then
      fail(cx, p, "%s is not an API group/version like \"api/alpha\" or \"batch/v2alpha1\"", quote(key))
    end
    local value = text_of(cx, t, key)
    if cx.lang == "lua" and type(value) == "boolean" then value = tostring(value) end
    want_string(cx, value, p)
    if not value:match("^[%w%._%-]+$") then
      fail(cx, p, "%s is not a runtime-config value like \"true\" or \"false\"", quote(value))
    end
    out[key] = value
  end
  return out
end

-- Validate and fill in a cluster from the decoded input.
local function build_model(cx, t, opts)
  if t == nil or t == NULL then
    fail(cx, nil, "is empty; a kind config starts with kind: Cluster and apiVersion: %s", defaults.api_version)
  end
  if type(t) ~= "table" or (cx.shape and cx.shape[t] ~= "mapping") then
    local what = describe(cx, t)
    error(ConfigError.new { source = cx.source, message = ("must describe a cluster (a mapping of fields), not %s"):format(what) }, 0)
  end
  want_mapping(cx, t, "")
  check_kind_header(cx, t)
  local v, p = read_section(cx, t, "", TOP, MISPLACED.top)
  local model = { warnings = cx.warnings }

  -- kina's cluster-wide resources
  model.cpus = v.cpus ~= nil and check_cpus(cx, v.cpus, p.cpus) or defaults.cpus
  model.memory = v.memory ~= nil and check_memory(cx, v.memory, p.memory, "") or defaults.memory
  model.kernel = v.kernel ~= nil and check_absolute(cx, v.kernel, p.kernel, "host path") or nil
  model.network = v.network ~= nil and check_network(cx, v.network, p.network) or nil
  model.registry_schemes = v.registry_schemes ~= nil
    and check_registry_schemes(cx, v.registry_schemes, p.registry_schemes) or {}
  -- false: no controller for Services of type LoadBalancer (kina.service_lb), as --no-lb;
  -- absent (nil) means on
  if v.load_balancer_services ~= nil then
    model.load_balancer_services = want_boolean(cx, v.load_balancer_services, p.load_balancer_services)
  end

  -- nodes: kind's default is a single control plane, also for an empty list
  local node_list, npath = v.nodes, p.nodes
  local count = 0
  if node_list ~= nil then count = want_list(cx, node_list, npath) end
  if count == 0 then node_list, count = { { role = "control-plane" } }, 1 end
  if cx.shape and node_list ~= v.nodes then cx.shape[node_list[1]] = "mapping" end

  local nodes, node_paths, roles = {}, {}, {}
  local claimed = {}
  local control_planes = {}
  local image_override = opts.image
  if image_override ~= nil then check_image({ source = cx.source, warnings = {} }, image_override, "--image") end
  for i = 1, count do
    local ip = index(npath, i)
    local nv, np = read_section(cx, node_list[i], ip, NODE, MISPLACED.node)
    node_paths[i] = np
    local role = "control-plane"
    if nv.role ~= nil then
      role = want_string(cx, nv.role, np.role)
      if role ~= "control-plane" and role ~= "worker" then
        fail(cx, np.role, "%s is not \"control-plane\" or \"worker\"", quote(role))
      end
    end
    roles[i] = role
    if role == "control-plane" then control_planes[#control_planes + 1] = i end
    local node = { role = role }
    node.image = image_override or (nv.image ~= nil and check_image(cx, nv.image, np.image)) or defaults.image
    node.labels = nv.labels ~= nil and check_labels(cx, nv.labels, np.labels) or {}
    node.extra_mounts = check_mounts(cx, nv, np)
    node.extra_port_mappings = check_ports_of(cx, nv, np, claimed)
    node.kubeadm_config_patches = nv.kubeadm_config_patches ~= nil
      and check_kubeadm_patches(cx, nv.kubeadm_config_patches, np.kubeadm_config_patches) or {}
    node.kubeadm_config_patches_json6902 = nv.kubeadm_config_patches_json6902 ~= nil
      and check_kubeadm_json6902(cx, nv.kubeadm_config_patches_json6902, np.kubeadm_config_patches_json6902) or {}
    node.cpus = nv.cpus ~= nil and check_cpus(cx, nv.cpus, np.cpus) or model.cpus
    node.memory = nv.memory ~= nil and check_memory(cx, nv.memory, np.memory, ip) or model.memory
    -- whether the config gave them (for the node or the cluster) or kina's defaults did: a
    -- runtime whose nodes are not VMs of a set size (podman, Docker) limits only what was given
    node.cpus_given = nv.cpus ~= nil or v.cpus ~= nil
    node.memory_given = nv.memory ~= nil or v.memory ~= nil
    node.kernel = nv.kernel ~= nil and check_absolute(cx, nv.kernel, np.kernel, "host path") or model.kernel
    nodes[i] = node
  end

  if #control_planes == 0 then
    fail(cx, npath, "has no control-plane node; a cluster needs one (add a node with role: control-plane)")
  end
  -- several control planes: kind's HA cluster, with a load balancer container in front of the
  -- API servers (kind's config.ClusterHasImplicitLoadBalancer; kina.loadbalancer). Its name
  -- counts for the length rule below.
  model.high_availability = #control_planes > 1
  if model.high_availability then roles[#roles + 1] = "external-load-balancer" end

  -- names: --name, then the config, then the default
  local name_path = p.name
  local name = v.name
  if opts.name ~= nil then name, name_path = opts.name, "name (from --name)" end
  if name == nil then name = defaults.cluster_name end
  check_cluster_name(cx, name, name_path, roles)
  model.name = name
  local per_role, seen_names = {}, {}
  for i, node in ipairs(nodes) do
    per_role[node.role] = (per_role[node.role] or 0) + 1
    node.name = spec.node_name(name, node.role, per_role[node.role])
    if seen_names[node.name] then
      fail(cx, index(npath, i), "would be named %s like %s", quote(node.name), seen_names[node.name])
    end
    seen_names[node.name] = index(npath, i)
  end

  model.networking = check_networking(cx, v.networking, p.networking, count)
  -- The API server is published from the control plane: its port must not clash either.
  local api_port = model.networking.api_server_port
  if api_port ~= 0 and claimed[api_port .. "/tcp"] then
    fail(cx, model.networking.api_server_port_path,
      "%d/tcp is already published by %s; Apple's runtime refuses the same host port twice",
      api_port, claimed[api_port .. "/tcp"])
  end
  model.networking.api_server_port_path = nil

  model.feature_gates = v.feature_gates ~= nil and check_feature_gates(cx, v.feature_gates, p.feature_gates) or {}
  model.runtime_config = v.runtime_config ~= nil and check_runtime_config(cx, v.runtime_config, p.runtime_config) or {}
  model.kubeadm_config_patches = v.kubeadm_config_patches ~= nil
    and check_kubeadm_patches(cx, v.kubeadm_config_patches, p.kubeadm_config_patches) or {}
  model.kubeadm_config_patches_json6902 = v.kubeadm_config_patches_json6902 ~= nil
    and check_kubeadm_json6902(cx, v.kubeadm_config_patches_json6902, p.kubeadm_config_patches_json6902) or {}
  model.containerd_config_patches = v.containerd_config_patches ~= nil
    and check_string_list(cx, v.containerd_config_patches, p.containerd_config_patches) or {}
  for i, patch in ipairs(model.containerd_config_patches) do
    if not patch:find("%S") then fail(cx, index(p.containerd_config_patches, i), "is empty") end
  end
  model.containerd_config_patches_json6902 = v.containerd_config_patches_json6902 ~= nil
    and check_containerd_json6902(cx, v.containerd_config_patches_json6902, p.containerd_config_patches_json6902) or {}
  model.nodes = nodes
  return model
end

local function check_opts(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error("config options must be a table, not " .. type(opts), 3) end
  local known = { name = "string", timeout = "number", image = "string", cwd = "string", instructions = "number" }
  for k, v in pairs(opts) do
    if not known[k] then error(("config options: unknown field %s"):format(tostring(k)), 3) end
    if type(v) ~= known[k] then error(("config options: %s must be a %s, not %s"):format(k, known[k], type(v)), 3) end
  end
  return opts
end

local function current_dir()
  local ok, uv = pcall(require, "luv")
  if ok and uv.cwd then return uv.cwd() end
  return nil
end

--- Validate a cluster description given as a Lua table (kind's camelCase fields, or their
-- snake_case forms, plus kina's own) and return the model with every default filled in.
-- @tparam table t
-- @tparam[opt] string source names the origin in messages (default "config")
-- @tparam[opt] table opts { name = override, image = override for every node, cwd = base of
--   relative host paths (default: the current directory) }
-- @treturn table model
-- @raise ConfigError
function config.from_table(t, source, opts)
  opts = check_opts(opts)
  local cx = { source = source or "config", lang = "lua", warnings = {}, cwd = opts.cwd or current_dir() }
  return build_model(cx, t, opts)
end

--- The model of `kina create cluster` without a config: one control plane.
-- @tparam[opt] string name cluster name (default kina.defaults.cluster_name)
function config.default(name)
  return config.from_table({}, "default", { name = name })
end

-- ---------------------------------------------------------------------------------------
-- Lua config scripts

local ABORT = setmetatable({}, { __name = "kina.config.abort" })

-- Run `text` (a Lua chunk) in an empty environment holding only pure functions, under an
-- instruction, CPU-time and memory budget. Returns its first result or raises ConfigError.
--
-- The sandbox: string (no dump/pack; rep, gsub and table.concat refuse results over
-- config_script_string bytes), table (no move), math (no random), utf8, pairs, ipairs, next,
-- tostring, tonumber, type, select, error, assert and pcall — pcall cannot catch the budget's
-- abort. Strings' methods (`("x"):rep(n)`) resolve to the sandbox's string table while the
-- script runs, and back afterwards; the call is synchronous, so no other code sees it.
-- Not covered: a pathological pattern (string.find with heavy backtracking) runs inside one
-- C call, which no hook can interrupt.
local function run_script(text, source, opts)
  local limits = {
    instructions = opts.instructions or defaults.config_script_instructions,
    seconds = opts.timeout or defaults.config_script_seconds,
    memory_kb = defaults.config_script_memory / 1024,
    string_bytes = defaults.config_script_string,
  }
  local state = { count = 0 }
  local STEP = 1000

  local function line_in_chunk(co)
    for level = 0, 200 do
      local info = co and debug.getinfo(co, level, "Sl") or debug.getinfo(level + 3, "Sl")
      if not info then return nil end
      if info.source == "=config" and info.currentline and info.currentline > 0 then return info.currentline end
    end
    return nil
  end
  local function abort(reason)
    if not state.aborted then state.aborted = { reason = reason, line = line_in_chunk(nil) } end
    error(ABORT, 0)
  end
  local function too_big(what, bytes)
    if bytes > limits.string_bytes then
      error(("%s would build %d bytes; a config script may build strings of at most %d bytes"):format(what, bytes, limits.string_bytes), 3)
    end
  end

  local S = {}
  for k, f in pairs(string) do S[k] = f end
  S.dump, S.pack, S.unpack, S.packsize = nil, nil, nil, nil
  local rep, gsub, concat = string.rep, string.gsub, table.concat
  S.rep = function(s, n, sep)
    s, sep = tostring(s), sep and tostring(sep) or ""
    n = math.tointeger(n) or error("bad argument #2 to 'rep' (number has no integer representation)", 2)
    if n > 0 then too_big("string.rep", #s * n + #sep * (n - 1)) end
    return rep(s, n, sep)
  end
  S.gsub = function(s, pattern, repl, n)
    s = tostring(s)
    if type(repl) == "string" or type(repl) == "number" then
      too_big("string.gsub", #s + (#s + 1) * #tostring(repl))
    end
    return gsub(s, pattern, repl, n)
  end
  local T = {}
  for k, f in pairs(table) do T[k] = f end
  T.move = nil
  T.concat = function(list, sep, i, j)
    sep = sep or ""
    i, j = i or 1, j or #list
    local total = 0
    for k = i, j do
      local item = list[k]
      total = total + (type(item) == "string" and #item or #tostring(item)) + #sep
      too_big("table.concat", total)
    end
    return concat(list, sep, i, j)
  end
  local M = {}
  for k, f in pairs(math) do M[k] = f end
  M.random, M.randomseed = nil, nil
  local U = {}
  for k, f in pairs(utf8) do U[k] = f end

  local env = {
    string = S, table = T, math = M, utf8 = U,
    pairs = pairs, ipairs = ipairs, next = next, tostring = tostring, tonumber = tonumber,
    type = type, select = select, error = error, assert = assert,
    pcall = function(f, ...)
      local r = table.pack(pcall(f, ...))
      if not r[1] and (r[2] == ABORT or state.aborted) then error(ABORT, 0) end
      return table.unpack(r, 1, r.n)
    end,
  }

  local chunk, err = load(text, "=config", "t", env)
  if not chunk then
    local line, msg = tostring(err):match("^config:(%d+): (.*)$")
    error(ConfigError.new { source = source, line = tonumber(line), message = msg or tostring(err) }, 0)
  end

  local co = coroutine.create(chunk)
  local t0 = os.clock()
  local mem0 = collectgarbage("count")
  debug.sethook(co, function(event)
    if state.aborted then error(ABORT, 0) end
    if event == "count" then
      state.count = state.count + STEP
      -- one message for both bounds, so what a user (or a spec) sees does not depend on the
      -- machine's speed
      if state.count >= limits.instructions or os.clock() - t0 > limits.seconds then
        abort(("the script was stopped: it ran longer than a config script may (%d instructions or %g seconds of CPU time); does it loop forever?")
          :format(limits.instructions, limits.seconds))
      end
    end
    if collectgarbage("count") - mem0 > limits.memory_kb then
      collectgarbage("collect")
      if collectgarbage("count") - mem0 > limits.memory_kb then
        abort(("the script was stopped: it used more than %d MiB of memory"):format(limits.memory_kb // 1024))
      end
    end
  end, "l", STEP)

  local smt = getmetatable("")
  local saved_index = smt.__index
  smt.__index = S
  local ok, result = coroutine.resume(co)
  smt.__index = saved_index
  debug.sethook(co)
  if coroutine.status(co) ~= "dead" then
    coroutine.close(co)
    error(ConfigError.new { source = source, message = "the script yielded; a config script must run to the end" }, 0)
  end
  if not ok then
    if result == ABORT or state.aborted then
      local a = state.aborted or { reason = "the script was stopped" }
      coroutine.close(co)
      error(ConfigError.new { source = source, line = a.line, message = a.reason }, 0)
    end
    local line, msg
    if type(result) == "string" then
      line, msg = result:match("^config:(%d+): (.*)$")
      line = tonumber(line)
      if not line then msg, line = result, line_in_chunk(co) end
    else
      msg = ("the script raised an error that is a %s, not a message"):format(type(result))
      line = line_in_chunk(co)
    end
    coroutine.close(co)
    error(ConfigError.new { source = source, line = line, message = msg }, 0)
  end
  if type(result) ~= "table" then
    error(ConfigError.new { source = source,
      message = ("the script must return a table describing the cluster (end it with `return { ... }`), not %s"):format(
        result == nil and "nothing" or "a " .. type(result)) }, 0)
  end
  return result
end

local function read_file(path)
  local f, err
  if path == "-" then f = io.stdin else f, err = io.open(path, "rb") end
  if not f then
    error(ConfigError.new { source = path, message = ("cannot read the file: %s"):format((tostring(err):gsub("^" .. path:gsub("%p", "%%%0") .. ": ", ""))) }, 0)
  end
  local limit = defaults.config_file_max_bytes
  local text, rerr = f:read(limit + 1)
  if path ~= "-" then f:close() end
  if text == nil and rerr then
    error(ConfigError.new { source = path, message = ("cannot read the file: %s"):format(rerr) }, 0)
  end
  text = text or ""
  if #text > limit then
    error(ConfigError.new { source = path, message = ("is larger than %d bytes; a cluster config is much smaller"):format(limit) }, 0)
  end
  return text
end

--- Load a cluster config file: `.lua` runs as a sandboxed script returning a table, anything
-- else (and "-", stdin) is read as kind's YAML.
-- @tparam string path
-- @tparam[opt] table opts { name = --name override, image = --image override, timeout = CPU
--   seconds for a Lua script, instructions = its instruction budget, cwd = base of relative
--   host paths }
-- @treturn table model
-- @raise ConfigError
function config.load(path, opts)
  if type(path) ~= "string" then error("config.load: path must be a string, not " .. type(path), 2) end
  opts = check_opts(opts)
  local source = path == "-" and "<stdin>" or path
  local text = read_file(path)
  local cwd = opts.cwd or current_dir()
  if path:match("%.lua$") then
    local t = run_script(text, source, opts)
    local cx = { source = source, lang = "lua", warnings = {}, cwd = cwd }
    return build_model(cx, t, opts)
  end
  if text:sub(1, 3) == "\239\187\191" then text = text:sub(4) end -- UTF-8 byte order mark
  local doc, ycx = load_yaml(text, source)
  local cx = { source = source, lang = "yaml", warnings = {}, cwd = cwd, lines = ycx.lines, shape = ycx.shape, text = ycx.text }
  return build_model(cx, doc, opts)
end

--- Parse YAML text as a kind config (as config.load does for a file).
-- @tparam string text
-- @tparam[opt] string source
-- @tparam[opt] table opts as for config.load
function config.from_yaml(text, source, opts)
  opts = check_opts(opts)
  source = source or "config"
  local doc, ycx = load_yaml(text, source)
  local cx = { source = source, lang = "yaml", warnings = {}, cwd = opts.cwd or current_dir(), lines = ycx.lines,
    shape = ycx.shape, text = ycx.text }
  return build_model(cx, doc, opts)
end

--- Why `ref` is not an image reference (the rest of "... it <problem>", like "contains
-- whitespace"), or nil when it is one. For checking images named outside a config, as
-- `kina load docker-image IMAGE` does, with the same rules as `--image` and `nodes[].image`.
-- @tparam string ref
function config.image_problem(ref)
  if type(ref) ~= "string" then error("image reference must be a string, got " .. type(ref), 2) end
  return image_problem(ref)
end

--- A kubeadm patch string cut into its YAML documents exactly as kind cuts it
-- (pkg/internal/patch/resource.go, splitYAMLDocument): a document ends at a line starting
-- with "---", whose rest is dropped; a leading "---" stays with the first document and a
-- trailing one adds no document. For appliers of `kubeadm_config_patches`, which the model
-- keeps as written (config.load has already checked every document).
-- @tparam string text
-- @treturn {string,...} the documents, or nil and why (a "---" line with text after it)
function config.split_documents(text)
  if type(text) ~= "string" then error("config.split_documents: text must be a string, got " .. type(text), 2) end
  local docs, line, rest = split_documents(text)
  if not docs then
    return nil, ("line %d of the patch (%s) starts a new document but has text after \"---\""):format(line, quote(rest))
  end
  local out = {}
  for i, d in ipairs(docs) do out[i] = d.text end
  return out
end

--- A value as kina's messages show it: double-quoted, control characters escaped, shortened
-- when long (so a hostile value cannot break a message's line or the user's terminal).
function config.quote(value) return quote(value) end

return config
