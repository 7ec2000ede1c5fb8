--- kina.sim.node — what runs inside a simulated container: a booted kindest/node (systemd,
-- containerd, kubeadm, kubectl, ctr, crictl, sysctl, iptables) or, for any other image, a
-- plain Linux userland with the basic commands.
--
-- API (called by the simulator CLI, lua/kina/sim/main.lua):
--   node.is_node_image(ref)                       → bool
--   node.init_rootfs(rootfs_dir, record [, env])  populate a fresh node filesystem: the files of
--                                                 the kind release that built the image
--                                                 (kina.sim.node.release; env: KINA_SIM_NODE_BASE)
--   node.boot_complete_at(record [, env])         → unix time the boot finishes
--   node.boot_log(record, now [, env [, ctx]])    → array of console lines visible at `now`
--   node.boot_failed(record [, env [, ctx]])      → true when this start's entrypoint exited
--   node.vm_boot_log(record, now, version)        → array of kernel/vminitd lines (`logs --boot`)
--   node.kernel_release(version)                  → "6.18.15" …
--   node.exec(ctx, argv, io)                      → exit code
--
-- State lives in the rootfs (see kina.sim.node.rootfs), so it survives between simulator
-- processes; cross-node updates (joins) take ctx.lock. Every start of a kindest/node boots
-- once, when something first looks at it (kina.sim.node.entrypoint): Apple's runtime files,
-- kind's entrypoint, systemd, containerd (kina.sim.node.containerd).
local uv = require("luv")
local rootfs = require("kina.sim.node.rootfs")
local shell = require("kina.sim.node.shell")
local release = require("kina.sim.node.release")
local files = require("kina.sim.node.files")

local M = {}

M.DEFAULT_K8S_VERSION = "v1.35.5"
M.DEFAULT_BOOT_DELAY_MS = 200
M.DEFAULT_READY_DELAY_MS = 300

local function vparts(v)
  local a, b, c = tostring(v or ""):match("^v?(%d+)%.(%d+)%.?(%d*)")
  return tonumber(a) or 0, tonumber(b) or 0, tonumber(c) or 0
end

--- -1/0/1 comparing two "x.y.z" versions.
function M.compare_versions(x, y)
  local a1, a2, a3 = vparts(x)
  local b1, b2, b3 = vparts(y)
  if a1 ~= b1 then return a1 < b1 and -1 or 1 end
  if a2 ~= b2 then return a2 < b2 and -1 or 1 end
  if a3 ~= b3 then return a3 < b3 and -1 or 1 end
  return 0
end

--- Guest kernel release `uname -r` prints for a CLI version (Kata kernels report the bare
-- upstream version, e.g. "6.12.28", without Kata's "-153" build suffix).
function M.kernel_release(version)
  version = version or "1.2.2"
  if M.compare_versions(version, "0.9.0") < 0 then return "6.12.28" end
  if M.compare_versions(version, "0.12.0") < 0 then return "6.18.5" end
  -- 1.3.0 moved the default to Kata 3.32.0 `vmlinux-6.18.35-197` (reference updates §1)
  if M.compare_versions(version, "1.3.0") < 0 then return "6.18.15" end
  return "6.18.35"
end

function M.is_node_image(ref)
  return type(ref) == "string" and ref:find("kindest/node", 1, true) ~= nil
end

local function k8s_version_of(ref)
  local tag = type(ref) == "string" and ref:match("kindest/node:(v%d+%.%d+%.%d+[%w%.%-]*)")
  return tag or M.DEFAULT_K8S_VERSION
end

local function delay_ms(env, name, default)
  local v = env and env(name)
  local n = tonumber(v)
  if n and n >= 0 then return n end
  return default
end

local function getenv_fn(env)
  if type(env) == "function" then return env end
  if type(env) == "table" then return function(k) return env[k] end end
  return os.getenv
end

--- Unix time at which the node's boot completes: record.started + KINA_SIM_BOOT_DELAY ms.
function M.boot_complete_at(record, env)
  local ms = delay_ms(getenv_fn(env), "KINA_SIM_BOOT_DELAY", M.DEFAULT_BOOT_DELAY_MS)
  return (record.started or 0) + ms / 1000
end

-- The console of a kindest/node (the init process's output, `container logs`): what
-- kina.sim.node.entrypoint recorded for this boot — the entrypoint's lines spread over the
-- first fifth of the boot delay, systemd's over the rest; kind waits for "Reached target
-- .*Multi-User System.*", which appears exactly at boot_complete_at.
local function console_lines(n)
  local rt = n:runtime()
  local c = rt.console or { lines = {}, systemd = false }
  local lines, out = c.lines, {}
  local first_systemd = #lines + 1
  for i, l in ipairs(lines) do if l:match("^systemd %d") then first_systemd = i; break end end
  local entry_n, sys_n = first_systemd - 1, #lines - first_systemd + 1
  for i, l in ipairs(lines) do
    local at
    if i < first_systemd then at = 0.2 * (i - 1) / math.max(entry_n, 1)
    else at = 0.2 + 0.8 * (i - first_systemd) / math.max(sys_n - 1, 1) end
    if l:match("Reached target multi%-user%.target") then at = 1.0 end
    if out[#out] and at < out[#out][1] then at = out[#out][1] end -- the console is in order
    out[#out + 1] = { at, l }
  end
  return out
end

--- Console lines of a kindest/node container visible at time `now` (empty for other images).
-- Reading them runs the boot of the container's current start if nothing else did yet.
-- @tparam table record container record {image, rootfs, started, ip, id, version?}
-- @tparam number now unix time
-- @param[opt] env getenv function or table (KINA_SIM_BOOT_DELAY)
-- @param[opt] ctx the command context (locks, other containers); a bare one is made otherwise
function M.boot_log(record, now, env, ctx)
  if not M.is_node_image(record.image) then return {} end
  if type(record.rootfs) ~= "string" then error("node.boot_log: record.rootfs must be a string", 2) end
  ctx = ctx or { container = record, env = getenv_fn(env), version = record.version }
  local n = M.context(ctx, record)
  local started = record.started or 0
  local total = M.boot_complete_at(record, env or ctx.env) - started
  local out = {}
  for _, l in ipairs(console_lines(n)) do
    if now >= started + l[1] * total then out[#out + 1] = l[2] end
  end
  n:save_runtime()
  return out
end

--- Did the boot of the container's current start end in the entrypoint exiting (its init
-- gone)? Runs the boot if nothing did yet.
function M.boot_failed(record, env, ctx)
  if not M.is_node_image(record.image) or type(record.rootfs) ~= "string" then return false end
  ctx = ctx or { container = record, env = getenv_fn(env), version = record.version }
  local n = M.context(ctx, record)
  local failed = n:runtime().boot_failed == true
  n:save_runtime()
  return failed
end

--- The VM console (`container logs --boot`): kernel and vminitd lines, then the init
-- process's console once the VM is up.
function M.vm_boot_log(record, now, version)
  local kernel = record.kernel or M.kernel_release(version or record.version)
  local out = {}
  if now < (record.started or 0) then return out end
  out[#out + 1] = "[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x610f0000]"
  out[#out + 1] = "[    0.000000] Linux version " .. kernel .. " (root@kata-build) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0, GNU ld (GNU Binutils for Ubuntu) 2.38) #1 SMP"
  out[#out + 1] = "[    0.000000] Kernel command line: console=hvc0 tsc=reliable panic=0 lsm=lockdown,capability,landlock,yama,apparmor oops=panic init=/sbin/vminitd ro rootfstype=ext4 root=/dev/vda"
  out[#out + 1] = "[    0.112233] Run /sbin/vminitd as init process"
  return out
end

-- /etc/os-release of a plain (non-node) image: a Debian-like tree.
local OS_RELEASE = [[
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
]]

-- Executables of a kindest/node image, where the image has them (kina.sim.node.files; the
-- node tools exist only where these files do).
M.NODE_TOOLS = {
  kubeadm = "/usr/bin/kubeadm", kubectl = "/usr/bin/kubectl", kubelet = "/usr/bin/kubelet",
  ctr = "/usr/local/bin/ctr", crictl = "/usr/local/bin/crictl", containerd = "/usr/local/bin/containerd",
  systemctl = "/usr/bin/systemctl", journalctl = "/usr/bin/journalctl",
  iptables = "/usr/sbin/iptables", ["iptables-nft"] = "/usr/sbin/iptables-nft",
  ["iptables-legacy"] = "/usr/sbin/iptables-legacy", ["ip6tables"] = "/usr/sbin/ip6tables",
  ["ip6tables-nft"] = "/usr/sbin/ip6tables-nft", ["ip6tables-legacy"] = "/usr/sbin/ip6tables-legacy",
  bash = "/usr/bin/bash", pgrep = "/usr/bin/pgrep", entrypoint = "/usr/local/bin/entrypoint",
  -- kind images/base/Dockerfile: `clean-install … bash ca-certificates curl rsync …`
  curl = "/usr/bin/curl",
}

--- Images preloaded in a kindest/node of `release` at Kubernetes `k8s` (kina.sim.node.files).
function M.preloaded_images(release_or_k8s, k8s)
  if type(release_or_k8s) == "string" then
    return files.preloaded_images(release.RELEASES[release.for_kubernetes(release_or_k8s)], release_or_k8s)
  end
  return files.preloaded_images(release_or_k8s, k8s)
end

--- Populate a fresh node filesystem at `root` for `record.image`.
-- kindest/node images get the files of the kind release that built them (kina.sim.node.release,
-- KINA_SIM_NODE_BASE read through `env`), the node tools and the preloaded images; other
-- images get a minimal Debian-like tree.
-- @param[opt] env getenv function or table (default os.getenv)
-- @treturn true
-- @return[2] nil, message
function M.init_rootfs(root, record, env)
  if type(root) ~= "string" or root:sub(1, 1) ~= "/" then error("node.init_rootfs: rootfs_dir must be an absolute path", 2) end
  if type(record) ~= "table" then error("node.init_rootfs: record must be a table", 2) end
  local ok, err = rootfs.mkdir_p("", root) -- the rootfs directory itself, parents included
  if not ok then return nil, "cannot create rootfs " .. root .. ": " .. tostring(err) end
  for _, d in ipairs({ "/etc", "/root", "/tmp", "/var/log", "/run", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin" }) do
    rootfs.mkdir_p(root, d)
  end
  rootfs.write(root, "/etc/hostname", (record.hostname or record.id or "localhost") .. "\n")
  if not M.is_node_image(record.image) then
    rootfs.write(root, "/etc/os-release", OS_RELEASE)
    return true
  end
  local rel, rerr = release.for_image(record.image, getenv_fn(env))
  if not rel then return nil, rerr end
  local k8s = k8s_version_of(record.image)
  local image_files = files.image_files(rel, k8s)
  for _, d in ipairs(files.DIRS) do rootfs.mkdir_p(root, d) end
  rootfs.mkdir_p(root, rootfs.STATE_DIR)
  for path, f in pairs(image_files) do
    rootfs.mkdir_p(root, path:match("^(.*)/[^/]*$"))
    ok, err = rootfs.write(root, path, f.body)
    if not ok then return nil, err end
    require("luv").fs_chmod(rootfs.host(root, path), f.mode)
  end
  -- the host-side tool names the node lookups need (iptables alternatives, the basics)
  for _, path in pairs(M.NODE_TOOLS) do
    if not image_files[path] then rootfs.write(root, path, "#!/bin/sh\n# kina-sim placeholder executable\n") end
  end
  rootfs.save_json(root, rootfs.STATE_DIR .. "/image.json", { release = rel.name, kubernetes = k8s })
  local images = {}
  local digest = require("kina.core.digest")
  for _, ref in ipairs(files.preloaded_images(rel, k8s)) do
    local id = "sha256:" .. digest.sha256("config " .. ref)
    local entry = {
      name = ref, namespace = "k8s.io", digest = "sha256:" .. digest.sha256("manifest " .. ref),
      media_type = "application/vnd.oci.image.index.v1+json", id = id,
      size = 1000000 + (#ref * 7919) % 5000000, platform = "linux/arm64/v8", unpacked = {},
      -- kind's node build imports its own images with this label (imageimporter.go LoadCommand)
      labels = { ["io.cri-containerd.pinned"] = "pinned" },
    }
    images[#images + 1] = entry
    local idrec = {}
    for k, v in pairs(entry) do idrec[k] = v end
    idrec.name, idrec.labels = id, { ["io.cri-containerd.image"] = "managed", ["io.cri-containerd.pinned"] = "pinned" }
    images[#images + 1] = idrec
  end
  rootfs.save_json(root, rootfs.STATE_DIR .. "/images.json", { images = images })
  return true
end

-- ---------------------------------------------------------------------------------------------
-- Execution

-- A command context handed to every command implementation.
local Node = {}
Node.__index = Node

function Node:now()
  if self.ctx.now then return self.ctx.now() end
  local s, us = uv.gettimeofday()
  return s + us / 1e6
end
function Node:booted()
  if self:now() < M.boot_complete_at(self.rec, self.ctx.env) then return false end
  return not self:runtime().boot_failed
end
function Node:out(s) self.io.stdout:write(s) end
function Node:err(s) self.io.stderr:write(s) end
function Node:path(p) return rootfs.normalize(p, self.cwd) end
function Node:read(p) return rootfs.read(self.root, self:path(p)) end

--- The runtime (per-boot) record; the first use in a new boot runs the boot itself
-- (kina.sim.node.entrypoint), once, under the node's boot lock.
-- A canonical text of a runtime value (keys sorted), to tell what a command changed.
local function canonical(v)
  if type(v) ~= "table" then return type(v) .. ":" .. tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. canonical(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- What this command saw of the runtime when it loaded it: {key = {text, sub = {key = text}}}.
local function snapshot(rt)
  local out = {}
  for k, v in pairs(rt) do
    local entry = { text = canonical(v) }
    if type(v) == "table" then
      entry.sub = {}
      for kk, vv in pairs(v) do entry.sub[kk] = canonical(vv) end
    end
    out[k] = entry
  end
  return out
end

function Node:runtime()
  if self._runtime then return self._runtime end
  local rt = rootfs.load_runtime(self.root, self.rec)
  if rt.console or not M.is_node_image(self.rec.image) then
    self._runtime = rt
    self._runtime_seen = snapshot(rt)
    return rt
  end
  local lock = self.ctx.lock and self.ctx.lock("boot-" .. tostring(self.rec.id))
  local ok, err = pcall(function()
    rt = rootfs.load_runtime(self.root, self.rec) -- another process may have booted it meanwhile
    self._runtime = rt
    if not rt.console then
      require("kina.sim.node.entrypoint").boot(self)
      rootfs.save_runtime(self.root, rt)
    end
    self._runtime_seen = snapshot(rt)
  end)
  if lock and lock.unlock then lock:unlock() end
  if not ok then error(err, 0) end
  return self._runtime
end
--- Save what this command changed of the runtime record. Commands in one node run at once (a
-- VM runs many processes), each with its own copy: under the node's runtime lock, the keys this
-- one changed (one level deep in tables; journal entries it appended) go onto the record as it
-- is now, so one command's change is not lost to another's save of what it loaded.
function Node:save_runtime()
  local rt, seen = self._runtime, self._runtime_seen
  if not rt then return end
  local lock = self.ctx.lock and self.ctx.lock("runtime-" .. tostring(self.rec.id))
  local ok, err = pcall(function()
    local current = rootfs.load_runtime(self.root, self.rec)
    if not seen or current.boot ~= rt.boot then
      rootfs.save_runtime(self.root, rt)
      self._runtime_seen = snapshot(rt)
      return
    end
    for k, v in pairs(rt) do
      local was = seen[k]
      if not was or canonical(v) ~= was.text then
        if k == "journal" and was then
          local before = 0
          for _ in pairs(was.sub) do before = before + 1 end
          for i = before + 1, #v do current.journal[#current.journal + 1] = v[i] end
        elseif type(v) == "table" and type(current[k]) == "table" and was and was.sub then
          for kk, vv in pairs(v) do
            if canonical(vv) ~= was.sub[kk] then current[k][kk] = vv end
          end
          for kk in pairs(was.sub) do if v[kk] == nil then current[k][kk] = nil end end
        else
          current[k] = v
        end
      end
    end
    for k in pairs(seen) do
      if rt[k] == nil then current[k] = nil end
    end
    rootfs.save_runtime(self.root, current)
    self._runtime_seen = snapshot(current)
    -- the record as saved, in place: callers may hold its tables
    for k, v in pairs(current) do
      if type(v) == "table" and type(rt[k]) == "table" then
        local t = rt[k]
        for kk in pairs(t) do t[kk] = nil end
        for kk, vv in pairs(v) do t[kk] = vv end
      else
        rt[k] = v
      end
    end
    for k in pairs(rt) do if current[k] == nil then rt[k] = nil end end
  end)
  if lock and lock.unlock then lock:unlock() end
  if not ok then error(err, 0) end
end
function Node:state(name, default) return rootfs.load_json(self.root, rootfs.STATE_DIR .. "/" .. name .. ".json", default) end
function Node:save_state(name, v) return rootfs.save_json(self.root, rootfs.STATE_DIR .. "/" .. name .. ".json", v) end
-- Apple's runtime: the guest hostname is the container ID up to its first "." (RuntimeService.swift)
function Node:hostname() return ((self.rec.hostname or self.rec.id or ""):match("^[^.]*")) end
function Node:k8s_version()
  local v = rootfs.read(self.root, "/kind/version")
  return v and v:match("^%s*(%S+)") or M.DEFAULT_K8S_VERSION
end
--- The kind release whose base this node's image carries (kina.sim.node.release).
function Node:release()
  if not self._release then
    local info = rootfs.load_json(self.root, rootfs.STATE_DIR .. "/image.json", {})
    self._release = release.get(type(info) == "table" and info.release or nil)
  end
  return self._release
end
function Node:ready_delay() return delay_ms(self.ctx.env, "KINA_SIM_READY_DELAY", M.DEFAULT_READY_DELAY_MS) / 1000 end
--- Append a journal entry; `proc` names the process that logged it (default systemd[1]).
function Node:journal(unit, msg, t, proc)
  local rt = self:runtime()
  rt.journal[#rt.journal + 1] = { t = t or self:now(), unit = unit, msg = msg, proc = proc }
end
function Node:version() return self.ctx.version or "1.2.2" end

function Node:service_state(unit)
  unit = unit:gsub("%.service$", "")
  if unit == "containerd" and M.is_node_image(self.rec.image) then
    return require("kina.sim.node.containerd").state(self)
  end
  local rt = self:runtime()
  local explicit = rt.services[unit]
  if explicit then return explicit end
  if unit == "kubelet" then
    if not self:booted() then return "inactive" end
    -- kubelet.service: ConditionPathExists=/var/lib/kubelet/config.yaml, checked at boot
    return rt.kubelet_at_boot and "active" or "inactive"
  end
  return nil
end

--- Run one simple command (argv already expanded); returns the exit code or nil when the
-- executable does not exist in this container.
function Node:run(argv, cio, env, cwd)
  local saved_io, saved_env, saved_cwd = self.io, self.env, self.cwd
  self.io, self.env, self.cwd = cio, env or self.env, cwd or self.cwd
  local name = argv[1]
  local impl = M.lookup(self, name)
  local code
  if impl then
    local ok, res = xpcall(impl, debug.traceback, self, argv)
    if not ok then
      self.io, self.env, self.cwd = saved_io, saved_env, saved_cwd
      error(res, 0)
    end
    code = res
  end
  self.io, self.env, self.cwd = saved_io, saved_env, saved_cwd
  return code
end

local commands = {}
M.commands = commands

local BASIC_PATHS = {
  sh = "/bin/sh", cat = "/bin/cat", cp = "/bin/cp", mkdir = "/bin/mkdir", test = "/usr/bin/test",
  ["["] = "/usr/bin/[", echo = "/bin/echo", ["true"] = "/bin/true", ["false"] = "/bin/false",
  uname = "/bin/uname", hostname = "/bin/hostname", sysctl = "/usr/sbin/sysctl", rm = "/bin/rm",
  mv = "/bin/mv", printf = "/usr/bin/printf", sleep = "/bin/sleep", env = "/usr/bin/env",
  id = "/usr/bin/id", whoami = "/usr/bin/whoami", chmod = "/bin/chmod", touch = "/usr/bin/touch",
  ls = "/bin/ls", dash = "/bin/dash", tar = "/bin/tar",
}

--- The implementation for executable `name` (a bare name or a path) in this node, or nil.
function M.lookup(n, name)
  if type(name) ~= "string" or name == "" then return nil end
  local base = name:match("([^/]+)$") or name
  if name:find("/", 1, true) then
    local p = rootfs.normalize(name, n.cwd)
    local known = BASIC_PATHS[base] == p or M.NODE_TOOLS[base] == p
      or p == "/usr/bin/" .. base or p == "/bin/" .. base or p == "/usr/sbin/" .. base or p == "/sbin/" .. base
    if not known then return nil end
    if M.NODE_TOOLS[base] and not rootfs.is_file(n.root, M.NODE_TOOLS[base]) then return nil end
    if not commands[base] then return nil end
    return commands[base]
  end
  if M.NODE_TOOLS[base] and not rootfs.is_file(n.root, M.NODE_TOOLS[base]) then return nil end
  return commands[base]
end

-- Streams ---------------------------------------------------------------------------------

local function copy_stream(from, to)
  if not from then return end
  while true do
    local s = from:read(65536)
    if not s or #s == 0 then break end
    to:write(s)
  end
end

-- Basic commands (coreutils / procps wording) ----------------------------------------------

commands["true"] = function() return 0 end
commands["false"] = function() return 1 end

function commands.echo(n, argv)
  local i, newline = 2, true
  if argv[2] == "-n" then newline = false; i = 3 end
  n:out(table.concat(argv, " ", i) .. (newline and "\n" or ""))
  return 0
end

function commands.printf(n, argv)
  local fmt = argv[2]
  if not fmt then n:err("printf: usage: printf format [arguments]\n"); return 2 end
  local args, ai = { table.unpack(argv, 3) }, 1
  local function unescape(s)
    return (s:gsub("\\(.)", { n = "\n", t = "\t", ["\\"] = "\\", r = "\r" }))
  end
  repeat
    local out = unescape(fmt):gsub("%%([%%sdq])", function(c)
      if c == "%" then return "%" end
      local v = args[ai] or ""
      ai = ai + 1
      if c == "d" then return tostring(math.tointeger(tonumber(v) or 0) or 0) end
      return v
    end)
    n:out(out)
  until ai > #args or not fmt:find("%%[sdq]")
  return 0
end

function commands.cat(n, argv)
  local files = { table.unpack(argv, 2) }
  if #files == 0 then files = { "-" } end
  local status = 0
  for _, f in ipairs(files) do
    if f == "-" or f == "/dev/stdin" then
      copy_stream(n.io.stdin, n.io.stdout)
    elseif f:match("^/proc/sys/") then
      local v = commands.__sysctl_read(n, f:sub(11):gsub("/", "."))
      if v then n:out(v .. "\n") else n:err("cat: " .. f .. ": No such file or directory\n"); status = 1 end
    else
      local p = n:path(f)
      if rootfs.is_dir(n.root, p) then
        n:err("cat: " .. f .. ": Is a directory\n"); status = 1
      else
        local fh = io.open(rootfs.host(n.root, p), "rb")
        if not fh then
          n:err("cat: " .. f .. ": No such file or directory\n"); status = 1
        else
          copy_stream(fh, n.io.stdout)
          fh:close()
        end
      end
    end
  end
  return status
end

function commands.mkdir(n, argv)
  local parents, dirs = false, {}
  for i = 2, #argv do
    local a = argv[i]
    if a == "-p" or a == "--parents" then parents = true
    elseif a:match("^%-m") or a == "-v" then -- mode/verbose: accepted, no effect here
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      n:err("mkdir: invalid option -- '" .. a:sub(2, 2) .. "'\nTry 'mkdir --help' for more information.\n"); return 1
    else dirs[#dirs + 1] = a end
  end
  if #dirs == 0 then n:err("mkdir: missing operand\nTry 'mkdir --help' for more information.\n"); return 1 end
  local status = 0
  for _, d in ipairs(dirs) do
    local p = n:path(d)
    if parents then
      local ok, code = rootfs.mkdir_p(n.root, p)
      if not ok then
        n:err("mkdir: cannot create directory ‘" .. d .. "’: " .. (code == "ENOTDIR" and "Not a directory" or "File exists") .. "\n")
        status = 1
      end
    else
      local parent = p:match("^(.*)/[^/]*$")
      if rootfs.exists(n.root, p) then
        n:err("mkdir: cannot create directory ‘" .. d .. "’: File exists\n"); status = 1
      elseif parent ~= "" and not rootfs.is_dir(n.root, parent) then
        n:err("mkdir: cannot create directory ‘" .. d .. "’: No such file or directory\n"); status = 1
      else
        uv.fs_mkdir(rootfs.host(n.root, p), 493)
      end
    end
  end
  return status
end

local function write_stream_to(n, from, dest_arg, append)
  local p = n:path(dest_arg)
  if rootfs.is_dir(n.root, p) then return nil, "dir" end
  local parent = p:match("^(.*)/[^/]*$")
  if parent ~= "" and not rootfs.is_dir(n.root, parent) then return nil, "noparent" end
  local fh = io.open(rootfs.host(n.root, p), append and "ab" or "wb")
  if not fh then return nil, "noparent" end
  copy_stream(from, fh)
  fh:close()
  return true
end

function commands.cp(n, argv)
  local args = {}
  for i = 2, #argv do
    if not argv[i]:match("^%-[rRfapv]+$") then args[#args + 1] = argv[i] end
  end
  if #args < 2 then
    n:err(#args == 0 and "cp: missing file operand\n" or ("cp: missing destination file operand after '" .. args[1] .. "'\n"))
    n:err("Try 'cp --help' for more information.\n")
    return 1
  end
  local src, dest = args[1], args[2]
  local from, close_from
  if src == "/dev/stdin" or src == "-" then
    from = n.io.stdin
  else
    local sp = n:path(src)
    if not rootfs.exists(n.root, sp) then
      n:err("cp: cannot stat '" .. src .. "': No such file or directory\n"); return 1
    end
    if rootfs.is_dir(n.root, sp) then
      n:err("cp: -r not specified; omitting directory '" .. src .. "'\n"); return 1
    end
    from = io.open(rootfs.host(n.root, sp), "rb")
    close_from = true
  end
  local dp = n:path(dest)
  if rootfs.is_dir(n.root, dp) then
    local base = src:match("([^/]+)$")
    dest = dp .. "/" .. base
  end
  local ok, why = write_stream_to(n, from, dest)
  if close_from and from then from:close() end
  if not ok then
    n:err("cp: cannot create regular file '" .. args[2] .. "': " .. (why == "dir" and "Is a directory" or "No such file or directory") .. "\n")
    return 1
  end
  return 0
end

function commands.touch(n, argv)
  for i = 2, #argv do
    local p = n:path(argv[i])
    if not rootfs.exists(n.root, p) then
      local ok = rootfs.write(n.root, p, "")
      if not ok then n:err("touch: cannot touch '" .. argv[i] .. "': No such file or directory\n"); return 1 end
    end
  end
  return 0
end

function commands.rm(n, argv)
  local force, recursive, files = false, false, {}
  for i = 2, #argv do
    local a = argv[i]
    if a:match("^%-[rRfv]+$") then
      if a:find("f") then force = true end
      if a:find("[rR]") then recursive = true end
    else files[#files + 1] = a end
  end
  local status = 0
  for _, f in ipairs(files) do
    local p = n:path(f)
    if not rootfs.exists(n.root, p) then
      if not force then n:err("rm: cannot remove '" .. f .. "': No such file or directory\n"); status = 1 end
    elseif rootfs.is_dir(n.root, p) and not recursive then
      n:err("rm: cannot remove '" .. f .. "': Is a directory\n"); status = 1
    else
      rootfs.remove_tree(n.root, p)
    end
  end
  return status
end

function commands.mv(n, argv)
  local args = {}
  for i = 2, #argv do if not argv[i]:match("^%-[fv]+$") then args[#args + 1] = argv[i] end end
  if #args ~= 2 then n:err("mv: missing file operand\nTry 'mv --help' for more information.\n"); return 1 end
  local sp, dp = n:path(args[1]), n:path(args[2])
  if not rootfs.exists(n.root, sp) then
    n:err("mv: cannot stat '" .. args[1] .. "': No such file or directory\n"); return 1
  end
  if rootfs.is_dir(n.root, dp) then dp = dp .. "/" .. sp:match("([^/]+)$") end
  local ok = os.rename(rootfs.host(n.root, sp), rootfs.host(n.root, dp))
  if not ok then n:err("mv: cannot move '" .. args[1] .. "' to '" .. args[2] .. "': No such file or directory\n"); return 1 end
  return 0
end

function commands.chmod(n, argv)
  local f = argv[#argv]
  if #argv < 3 then n:err("chmod: missing operand\n"); return 1 end
  if not rootfs.exists(n.root, n:path(f)) then
    n:err("chmod: cannot access '" .. f .. "': No such file or directory\n"); return 1
  end
  return 0
end

function commands.ls(n, argv)
  local targets = {}
  for i = 2, #argv do if argv[i]:sub(1, 1) ~= "-" then targets[#targets + 1] = argv[i] end end
  if #targets == 0 then targets = { "." } end
  local status = 0
  for _, t in ipairs(targets) do
    local p = n:path(t)
    if rootfs.is_dir(n.root, p) then
      for _, name in ipairs(rootfs.list(n.root, p) or {}) do
        if not name:find(".kina-tmp.", 1, true) then n:out(name .. "\n") end
      end
    elseif rootfs.exists(n.root, p) then
      n:out(t .. "\n")
    else
      n:err("ls: cannot access '" .. t .. "': No such file or directory\n"); status = 2
    end
  end
  return status
end

local function test_eval(n, args)
  local function unary(op, a)
    if op == "-n" then return a ~= "" end
    if op == "-z" then return a == "" end
    if op == "-S" then
      local p = n:path(a)
      return p == "/run/containerd/containerd.sock" and n:service_state("containerd") == "active"
    end
    local st = rootfs.stat(n.root, n:path(a))
    if op == "-e" then return st ~= nil end
    if op == "-f" then return st ~= nil and st.type == "file" end
    if op == "-d" then return st ~= nil and st.type == "directory" end
    if op == "-s" then return st ~= nil and st.size > 0 end
    if op == "-x" then return st ~= nil and (st.type == "directory" or (st.mode & 73) ~= 0 or M.NODE_TOOLS[a:match("([^/]+)$")] ~= nil) end
    if op == "-r" or op == "-w" then return st ~= nil end
    if op == "-L" or op == "-h" then return false end
    return nil
  end
  local neg = false
  if args[1] == "!" then neg = true; table.remove(args, 1) end
  local r
  if #args == 0 then r = false
  elseif #args == 1 then r = args[1] ~= ""
  elseif #args == 2 then
    r = unary(args[1], args[2])
    if r == nil then return nil, args[1] .. ": unexpected operator" end
  elseif #args == 3 then
    local a, op, b = args[1], args[2], args[3]
    if op == "=" or op == "==" then r = a == b
    elseif op == "!=" then r = a ~= b
    elseif op == "-eq" or op == "-ne" or op == "-lt" or op == "-le" or op == "-gt" or op == "-ge" then
      local x, y = tonumber(a), tonumber(b)
      if not x or not y then return nil, "Illegal number: " .. (x and b or a) end
      r = ({ ["-eq"] = x == y, ["-ne"] = x ~= y, ["-lt"] = x < y, ["-le"] = x <= y, ["-gt"] = x > y, ["-ge"] = x >= y })[op]
    else
      return nil, op .. ": unexpected operator"
    end
  else
    return nil, "too many arguments"
  end
  if neg then r = not r end
  return r
end

function commands.test(n, argv)
  local args = { table.unpack(argv, 2) }
  if argv[1]:match("%[$") then
    if args[#args] ~= "]" then n:err("[: missing ]\n"); return 2 end
    args[#args] = nil
  end
  local r, err = test_eval(n, args)
  if r == nil then n:err((argv[1]:match("%[$") and "[" or "test") .. ": " .. err .. "\n"); return 2 end
  return r and 0 or 1
end
commands["["] = commands.test

function commands.uname(n, argv)
  local kernel = n.rec.kernel or M.kernel_release(n:version())
  local fields = { s = "Linux", n = n:hostname(), r = kernel, v = "#1 SMP", m = "aarch64", o = "GNU/Linux" }
  local want = {}
  if #argv == 1 then want = { "s" } end
  for i = 2, #argv do
    local a = argv[i]
    if a == "-a" or a == "--all" then want = { "s", "n", "r", "v", "m", "m", "m", "o" }; break end
    local long = { ["--kernel-name"] = "s", ["--nodename"] = "n", ["--kernel-release"] = "r",
      ["--kernel-version"] = "v", ["--machine"] = "m", ["--operating-system"] = "o" }
    if long[a] then want[#want + 1] = long[a]
    elseif a:match("^%-[snrvmpio]+$") then
      for c in a:sub(2):gmatch(".") do want[#want + 1] = (c == "p" or c == "i") and "m" or c end
    else
      n:err("uname: invalid option -- '" .. a:gsub("^%-+", ""):sub(1, 1) .. "'\nTry 'uname --help' for more information.\n")
      return 1
    end
  end
  local out = {}
  for _, k in ipairs(want) do out[#out + 1] = fields[k] end
  n:out(table.concat(out, " ") .. "\n")
  return 0
end

function commands.hostname(n)
  n:out(n:hostname() .. "\n")
  return 0
end

function commands.sleep(_, argv)
  local s = tonumber((argv[2] or ""):match("^([%d%.]+)s?$"))
  if s then uv.sleep(math.floor(s * 1000)) end
  return s and 0 or 1
end

function commands.env(n)
  local keys = {}
  for k in pairs(n.env) do if not k:match("^__") then keys[#keys + 1] = k end end
  table.sort(keys)
  for _, k in ipairs(keys) do n:out(k .. "=" .. tostring(n.env[k]) .. "\n") end
  return 0
end

function commands.id(n, argv)
  if argv[2] == "-u" or argv[2] == "-g" then n:out("0\n") else n:out("uid=0(root) gid=0(root) groups=0(root)\n") end
  return 0
end

function commands.whoami(n) n:out("root\n"); return 0 end

local function run_shell(n, argv, which)
  -- sh -c 'script' [name [args…]] ; sh with no -c reads the script from stdin
  local script, args
  local i = 2
  while i <= #argv do
    local a = argv[i]
    if a == "-c" then
      script = argv[i + 1]
      -- sh -c SCRIPT NAME ARG…: NAME is $0, the rest $1 …
      args = { [0] = argv[i + 2] }
      for k = i + 3, #argv do args[#args + 1] = argv[k] end
      break
    elseif a == "-e" or a == "-x" or a == "-eu" or a == "-ex" or a == "-o" or a == "--noprofile" or a == "--norc" then
      if a == "-o" then i = i + 1 end
    else
      n:err(which .. ": 0: Can't open " .. a .. "\n"); return 2
    end
    i = i + 1
  end
  if not script then
    if argv[#argv] == "-c" then n:err(which .. ": 0: -c requires an argument\n"); return 2 end
    if not n.io.stdin then return 0 end
    script = n.io.stdin:read("a") or ""
  end
  local env = {}
  for k, v in pairs(n.env) do env[k] = v end
  -- a KINA_SIM_FAIL `exec:` pattern also fails a command the script runs (README, fault grammar)
  local function run_simple(av, cio, e, cwd)
    local failing, pattern
    if n.ctx.should_fail then failing, pattern = n.ctx.should_fail("exec", table.concat(av, " ")) end
    if failing then
      cio.stderr:write(string.format("%s: simulated failure (KINA_SIM_FAIL=%s)\n", av[1], pattern))
      return 1
    end
    return n:run(av, cio, e, cwd)
  end
  return shell.run(script, which, env, run_simple,
    { stdin = n.io.stdin, stdout = n.io.stdout, stderr = n.io.stderr }, n.root, n.cwd, args)
end

function commands.sh(n, argv) return run_shell(n, argv, "sh") end
commands.dash = commands.sh
function commands.bash(n, argv) return run_shell(n, argv, "bash") end

-- The runtime's text for exec of a missing executable.  vmexec fails with
-- `failed to find target executable X`; vminitd, the runtime helper and the API server each
-- wrap it (containerization vmexec.swift, ManagedProcess.swift, Server+GRPC.swift,
-- LinuxProcess.swift; container RuntimeClient.swift, XPCMessage.set(error:)) and the CLI
-- prints the result as `Error: …` with exit status 1 (the process never ran, so there is no
-- status 127 to pass through; 127 comes only from a shell: `sh -c missing`).
function M.exec_missing_error(ctx, executable, process_id)
  local cid = ctx.container.id
  local pid = process_id or string.format("%08x-%04x-4%03x-8%03x-%012x",
    math.random(0, 0xffffffff), math.random(0, 0xffff), math.random(0, 0xfff), math.random(0, 0xfff),
    math.random(0, 0xffffffffffff))
  local inner = 'internalError: "startProcess: failed to start process: internalError: "vmexec error: internalError: "failed to find target executable '
    .. executable .. '"""'
  local msg = "failed to start process " .. pid .. " in container " .. cid
    .. ' (cause: "internalError: "failed to start process (cause: "' .. inner .. '")"")'
  if M.compare_versions(ctx.version or "1.2.2", "0.10.0") < 0 then
    return 'Error: internalError: "' .. msg .. '"'
  end
  return "Error: " .. msg
end

--- A command context (Node) for container `rec` under `ctx`, with output discarded: for work
-- done outside `exec` (reading the boot log).
function M.context(ctx, rec)
  local sink = { write = function() return true end }
  local env = { PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME = "/root", container = "docker" }
  local n = setmetatable({ ctx = ctx, rec = rec, root = rec.rootfs, env = env, cwd = "/", node = M,
    io = { stdout = sink, stderr = sink } }, Node)
  env.__proc_sys_writer = function(path) return commands.__proc_sys_writer(n, path) end
  return n
end

--- Run `argv` inside the container `ctx.container` as `container exec` would.
-- @tparam table ctx see the module header (container, version, env, lock, find_by_ip, …);
--   ctx.now() (optional) overrides the clock
-- @tparam {string,...} argv the process arguments
-- @tparam table io {stdin?, stdout, stderr, env?, user?, workdir?, interactive?, tty?}
-- @treturn integer exit status (1 with the runtime's error text when the executable is missing)
function M.exec(ctx, argv, io)
  if type(ctx) ~= "table" or type(ctx.container) ~= "table" then error("node.exec: ctx.container must be a table", 2) end
  if type(argv) ~= "table" or type(argv[1]) ~= "string" then error("node.exec: argv must be a non-empty array of strings", 2) end
  if type(io) ~= "table" or not io.stdout or not io.stderr then error("node.exec: io needs stdout and stderr", 2) end
  local rec = ctx.container
  if type(rec.rootfs) ~= "string" then error("node.exec: ctx.container.rootfs must be a string", 2) end
  local env = { PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME = "/root", HOSTNAME = ((rec.hostname or rec.id or ""):match("^[^.]*")) }
  if M.is_node_image(rec.image) then env.container = "docker" end
  for k, v in pairs(rec.env or {}) do env[k] = v end
  for k, v in pairs(io.env or {}) do env[k] = v end
  local n = setmetatable({
    ctx = ctx, rec = rec, root = rec.rootfs, env = env, cwd = io.workdir or "/", node = M,
    io = { stdin = io.stdin, stdout = io.stdout, stderr = io.stderr }, tty = io.tty,
  }, Node)
  env.__proc_sys_writer = function(path) return commands.__proc_sys_writer(n, path) end
  -- the boot of this start (runtime files, the entrypoint) has happened before anything runs
  if M.is_node_image(rec.image) then n:runtime() end
  local impl = M.lookup(n, argv[1])
  if not impl then
    io.stderr:write(M.exec_missing_error(ctx, argv[1]) .. "\n")
    return 1
  end
  local code = n:run(argv, n.io, env, n.cwd)
  n:save_runtime()
  return code or 127
end

require("kina.sim.node.runtime").install(commands, M)
require("kina.sim.node.kube").install(commands, M)
require("kina.sim.node.archive").install(commands, M)

return M
