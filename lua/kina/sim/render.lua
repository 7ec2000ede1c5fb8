--- kina.sim.render — JSON and table output per simulated release (reference §3).
local json = require("kina.json")
local util = require("kina.sim.util")
local net = require("kina.sim.net")
local images = require("kina.sim.images")
local oci = require("kina.sim.oci")

local M = {}
local A = json.array

local function copy_array(t)
  local out = A()
  for i, v in ipairs(t or {}) do out[i] = v end
  return out
end

--- Attachment objects of a running container (empty when stopped).
function M.attachments(c, v)
  local list = A()
  if c.state ~= "running" or not c.ip then return list end
  local prefix = c.prefix or 24
  local gateway = c.gateway or "192.168.64.1"
  local a = { network = c.network, hostname = c.hostname or c.id }
  if v.ipv4_address then
    a.ipv4Address = c.ip .. "/" .. prefix
    a.ipv4Gateway = gateway
    if c.mac and c.macos == 26 then a.ipv6Address = net.ipv6_for_mac(c.mac) end
  else
    a.address = c.ip .. "/" .. prefix
    a.gateway = gateway
  end
  if v.attachment_mac and c.mac then a.macAddress = c.mac end
  if v.attachment_mtu then a.mtu = c.mtu or 1280 end
  if v.attachment_variant then a.variant = c.macos == 15 and "allocationOnly" or "reserved" end
  list[1] = a
  return list
end

local function user_json(c)
  if c.user and c.user ~= "" then return { raw = { userString = c.user } } end
  return { id = { uid = c.uid or 0, gid = c.gid or 0 } }
end

--- ContainerConfiguration of a container record.
function M.configuration(c, v)
  local mounts = A()
  for i, m in ipairs(c.mounts or {}) do
    mounts[i] = { type = { [m.type] = {} }, source = m.source, destination = m.destination,
      options = copy_array(m.options) }
  end
  local ports = A()
  for i, p in ipairs(c.ports or {}) do
    ports[i] = { hostAddress = p.hostAddress, hostPort = p.hostPort, containerPort = p.containerPort,
      proto = p.proto, count = p.count }
  end
  local sockets = A()
  for i, s in ipairs(c.sockets or {}) do sockets[i] = { hostPath = s.hostPath, containerPath = s.containerPath } end
  local networks = A()
  for i, n in ipairs(c.networks or {}) do
    local options = { hostname = c.hostname or c.id }
    if n.mac then options.macAddress = n.mac end
    if v.attachment_mtu then options.mtu = n.mtu or 1280 end
    networks[i] = { network = n.network, options = options }
  end
  local rlimits = A()
  for i, r in ipairs(c.rlimits or {}) do rlimits[i] = { limit = r.limit, soft = r.soft, hard = r.hard } end
  local cfg = {
    id = c.id,
    image = {
      reference = c.image.reference,
      descriptor = { digest = c.image.digest, mediaType = c.image.mediaType, size = c.image.size },
    },
    mounts = mounts,
    publishedPorts = ports,
    publishedSockets = sockets,
    labels = c.labels or {},
    sysctls = {},
    networks = networks,
    rosetta = c.rosetta or false,
    initProcess = {
      executable = c.executable,
      arguments = copy_array(c.arguments),
      environment = copy_array(c.env),
      workingDirectory = c.workdir or "/",
      terminal = c.tty or false,
      user = user_json(c),
      supplementalGroups = A(),
      rlimits = rlimits,
    },
    platform = { os = c.platform.os, architecture = c.platform.architecture, variant = c.platform.variant },
    resources = { cpus = c.cpus, memoryInBytes = c.memory, cpuOverhead = 1 },
    runtimeHandler = "container-runtime-linux",
    virtualization = c.virtualization or false,
    ssh = c.ssh or false,
    readOnly = c.read_only or false,
    useInit = c.use_init or false,
  }
  if c.dns then
    cfg.dns = { nameservers = copy_array(c.dns.nameservers), domain = c.dns.domain,
      searchDomains = copy_array(c.dns.search), options = copy_array(c.dns.options) }
  end
  if v:ge("0.12.0") then
    cfg.capAdd = copy_array(c.cap_add)
    cfg.capDrop = copy_array(c.cap_drop)
  end
  if v:ge("1.0.0") then
    cfg.creationDate = util.iso8601(c.created)
    if c.shm_size then cfg.shmSize = c.shm_size end
    if c.stop_signal then cfg.stopSignal = c.stop_signal end
  end
  -- no kernelArgs: `--kernel-arg` is kept by the runtime, but ContainerConfiguration's
  -- CodingKeys do not encode it (reference §3.2; issue 10 from Apple's 1.2.2 source)
  if c.masked_paths then cfg.maskedPaths = copy_array(c.masked_paths) end
  if c.readonly_paths then cfg.readonlyPaths = copy_array(c.readonly_paths) end
  return cfg
end

--- One element of `list --format json` / `inspect` for release `v`.
function M.container(c, v)
  if v.json_v1 then
    local status = { state = c.state, networks = M.attachments(c, v) }
    if c.started then status.startedDate = util.iso8601(c.started) end
    return { id = c.id, configuration = M.configuration(c, v), status = status }
  end
  local obj = { status = c.state, configuration = M.configuration(c, v), networks = M.attachments(c, v) }
  if v.started_date and c.started then obj.startedDate = util.since_2001(c.started) end
  return obj
end

function M.containers(list, v)
  local out = A()
  for i, c in ipairs(list) do out[i] = M.container(c, v) end
  return out
end

--- JSON text: compact (list) or pretty (inspect), slashes escaped up to 1.2.2.
function M.encode(value, v, pretty)
  return json.encode(value, { pretty = pretty or false, escape_slash = v.escape_slash })
end

--- Apple's TableOutput: columns padded to the widest cell + 2, last column unpadded.
function M.table(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do
      if #cell > (widths[i] or 0) then widths[i] = #cell end
    end
  end
  local lines = {}
  for r, row in ipairs(rows) do
    local parts = {}
    for i = 1, #row - 1 do parts[i] = row[i] .. string.rep(" ", widths[i] + 2 - #row[i]) end
    parts[#row] = row[#row]
    lines[r] = table.concat(parts)
  end
  return table.concat(lines, "\n")
end

function M.container_table(list, v)
  local header = { "ID", "IMAGE", "OS", "ARCH", "STATE", v.table_ip_column and "IP" or "ADDR", "CPUS", "MEMORY" }
  if v.table_started_column then header[#header + 1] = "STARTED" end
  local rows = { header }
  for _, c in ipairs(list) do
    local ip = ""
    if c.state == "running" and c.ip then
      ip = v.ipv4_address and (c.ip .. "/" .. (c.prefix or 24)) or c.ip
    end
    local row = { c.id, c.image.reference, c.platform.os, c.platform.architecture, c.state, ip,
      tostring(c.cpus), string.format("%d MB", c.memory // (1024 * 1024)) }
    if v.table_started_column then row[#row + 1] = c.started and util.iso8601(c.started) or "" end
    rows[#rows + 1] = row
  end
  return M.table(rows)
end

--- Network JSON for release `v`.
function M.network(nw, v)
  local created = util.iso8601(nw.created or 0)
  if v.json_v1 then
    local cfg = { name = nw.name, creationDate = created, mode = nw.mode, labels = nw.labels or {},
      plugin = nw.plugin or "container-network-vmnet", options = {} }
    -- NetworkConfiguration.ipv4Subnet is optional: set only by `network create --subnet`
    -- (reference §3.5 sample; issue 10 from Apple's 1.2.2 source)
    if nw.explicit_subnet then cfg.ipv4Subnet = nw.subnet end
    local status = { ipv4Subnet = nw.subnet, ipv4Gateway = nw.gateway }
    if nw.mode == "nat" then status.ipv6Subnet = net.IPV6_PREFIX .. "::/64" end
    return { id = nw.name, configuration = cfg, status = status }
  end
  local config = { id = nw.name, mode = nw.mode, labels = nw.labels or {} }
  if v:ge("0.7.0") then config.creationDate = util.since_2001(nw.created or 0) end
  if nw.explicit_subnet then config.ipv4Subnet = nw.subnet end
  local status
  if v.ipv4_address then
    status = { ipv4Subnet = nw.subnet, ipv4Gateway = nw.gateway }
  else
    status = { address = nw.subnet, gateway = nw.gateway }
  end
  return { id = nw.name, state = "running", config = config, status = status }
end

--- Image JSON for release `v`. Variants describe the content `image save` writes
-- (kina.sim.oci), so digests here match the archive's blobs.
function M.image(img, v)
  local descriptor = { digest = img.digest, mediaType = img.mediaType, size = img.size }
  local d = oci.describe(images.archive_entry(img))
  local full = d.size + d.manifest.size + d.config.size + d.layer.size
  if v.json_v1 then
    local variants = A()
    local cfg = d.config.value
    local proc = {}
    for k, val in pairs(cfg.config or {}) do proc[k] = type(val) == "table" and copy_array(val) or val end
    variants[1] = {
      platform = { os = d.platform.os, architecture = d.platform.architecture, variant = d.platform.variant },
      digest = d.manifest.digest,
      size = full,
      config = {
        created = util.iso8601(img.created or 0), architecture = cfg.architecture, os = cfg.os,
        config = proc,
        rootfs = { type = "layers", diff_ids = copy_array(cfg.rootfs.diff_ids) },
      },
    }
    return {
      id = (img.digest:gsub("^sha256:", "")),
      configuration = { creationDate = util.iso8601(img.created or 0), name = img.reference, descriptor = descriptor },
      variants = variants,
    }
  end
  local obj = { reference = img.reference, descriptor = descriptor }
  if v:ge("0.9.0") then obj.fullSize = string.format("%.1f MB", full / 1e6) end
  return obj
end

function M.image_table(list)
  local rows = { { "NAME", "TAG", "DIGEST" } }
  for _, img in ipairs(list) do
    local shown = images.display(img.reference)
    local name, tag = shown:match("^(.*):([^:/@]+)$")
    name = name or shown:gsub("@.*$", "")
    rows[#rows + 1] = { name, tag or "<none>", (img.digest:gsub("^sha256:", "")):sub(1, 12) }
  end
  return M.table(rows)
end

return M
