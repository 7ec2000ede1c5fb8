-- A private, real containerd for the oracle specs (spec/oracle_containerd_spec.lua).
--
-- `start` runs containerd in a private mount namespace (`unshare --mount --propagation
-- private`) in which a temp folder is bind-mounted on /etc/containerd, /etc is an overlay
-- writing into the temp folder, and tmpfs covers /opt and /run, so the daemon reads
-- /etc/containerd/config.toml as it does in a kind node while nothing it writes reaches the
-- host: its --root, --state and --address are in the temp folder, the `opt` plugin's
-- /opt/containerd and anything under /run (NRI's socket on 2.x) land in the namespace's tmpfs,
-- the CRI plugin's /etc/cni/net.d in the overlay. Commands run in the same namespace through
-- `nsenter --mount`, with the line's binaries first in PATH and CONTAINERD_ADDRESS set (ctr's
-- --address default, urfave/cli EnvVar), so kina's argv is run exactly as kina writes it.
--
-- Lines: "1.6" is the system's containerd (Debian 12 `apt-get install containerd`, 1.6.20);
-- "2.x" is Debian unstable's containerd unpacked by fetch-containerd-2.sh into
-- build-oracle/containerd-2 (never installed).
local uv = require "luv"
local json = require "kina.json"

local O = {}

O.ROOT = uv.cwd()
O.SUPPORT = O.ROOT .. "/spec/support/oracle"
O.CONTAINERD_2 = os.getenv("KINA_ORACLE_CONTAINERD_2") or (O.ROOT .. "/build-oracle/containerd-2")
O.PYTHON = "/usr/bin/python3" -- Debian's, where python3-grpcio installs

-- The namespace's setup; $1 = the temp folder (holding etc/, etc-upper/, etc-work/), the rest
-- = containerd's argv. A fixed text: paths arrive as arguments, never spliced into the script.
-- unshare's --propagation private already made every mount private. /run is covered first so
-- that nothing mount(8) records (its utab) reaches the host's /run; /etc becomes an overlay
-- whose writes land in the temp folder (the CRI plugin makes /etc/cni/net.d, NRI reads
-- /etc/nri), and /etc/containerd is exactly the temp folder's etc/. Each path in
-- $ORACLE_HIDE (colon-separated) gets /dev/null bind-mounted over it (a program made unusable).
local NS_SETUP = [[
set -e
dir=$1; shift
mount -t tmpfs -o mode=0755 oracle-run /run
mount -t tmpfs -o mode=0755 oracle-opt /opt
mount -t overlay -o "lowerdir=/etc,upperdir=$dir/etc-upper,workdir=$dir/etc-work" oracle-etc /etc
mkdir -p /etc/containerd
mount --bind "$dir/etc" /etc/containerd
IFS=:
for f in $ORACLE_HIDE; do
  if [ -e "$f" ]; then mount --bind /dev/null "$f"; fi
done
unset IFS ORACLE_HIDE
exec "$@"
]]

-- file helpers shared by every spec
local World = dofile("spec/support/world.lua")
local read, write = World.read, World.write
O.read, O.write = read, write

local function exists(path) return uv.fs_stat(path) ~= nil end

--- Why the oracle cannot run here (not root, no mount namespaces, no unshare/nsenter/setpriv,
-- mounts the namespace needs refused), or nil.
function O.problem(sched)
  if uv.getuid() ~= 0 then return "needs root (private mount namespaces and mounts); CI runs as root" end
  for _, tool in ipairs{ "/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/setpriv" } do
    if not exists(tool) then return tool .. " is missing (util-linux)" end
  end
  local tmp = os.getenv("TMPDIR") or "/tmp"
  for _, dir in ipairs{ O.ROOT, tmp } do
    if dir:match("^/opt/") or dir:match("^/run/") then
      return dir .. " lies under /opt or /run, which the private namespace covers with tmpfs"
    end
  end
  -- the namespace's whole setup, once, with `true` for containerd
  local dir = assert(uv.fs_mkdtemp(tmp .. "/kina-oracle-probe-XXXXXX"))
  for _, d in ipairs{ "/etc", "/etc-upper", "/etc-work" } do assert(uv.fs_mkdir(dir .. d, 448)) end
  local r = sched:exec{ argv = { "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", NS_SETUP,
    "oracle-ns", dir, "true" }, env = { ORACLE_HIDE = "" }, stdin = "", timeout = 30 }
  sched:exec{ argv = { "rm", "-rf", dir }, stdin = "", timeout = 30 }
  if not r or r.code ~= 0 then
    return "cannot set up the private mount namespace (unshare, tmpfs on /run and /opt, overlay on /etc): "
      .. tostring(r and r.stderr or "unshare did not start")
  end
  return nil
end

--- Whether the CRI client (cri.py, Debian's python3-grpcio) can run, or nil, why not.
function O.cri_problem(sched)
  local r = sched:exec{ argv = { O.PYTHON, "-c", "import grpc" }, timeout = 30 }
  if r and r.code == 0 then return nil end
  return "the CRI client needs Debian's python3-grpcio (" .. tostring(r and r.stderr or "no python3") .. ")"
end

-- `containerd --version` of a binary, or nil, message
local function version_of(sched, bin)
  local r = sched:exec{ argv = { bin, "--version" }, timeout = 30 }
  if not r then return nil, bin .. " did not start" end
  if r.code ~= 0 then return nil, bin .. " --version: " .. r.stderr end
  return r.stdout
end

--- The containerd lines to test: {name = "1.6"|"2.x", bin = dir of containerd and ctr,
-- version_output = `containerd --version`} or {name, skip = reason}. The 2.x line is fetched
-- (once) by fetch-containerd-2.sh when not unpacked yet; a sid that cannot be reached makes its
-- skip reason start with "SID UNREACHABLE".
function O.lines(sched)
  local out = {}
  -- 1.6: Debian 12's package
  if exists("/usr/bin/containerd") and exists("/usr/bin/ctr") then
    local v, err = version_of(sched, "/usr/bin/containerd")
    if v and v:match(" v?1%.6%.") then
      out[#out + 1] = { name = "1.6", bin = "/usr/bin", version_output = v }
    else
      out[#out + 1] = { name = "1.6", skip = "/usr/bin/containerd is not 1.6: " .. tostring(v or err) }
    end
  else
    out[#out + 1] = { name = "1.6", skip = "containerd 1.6 is not installed (Debian 12: apt-get install containerd)" }
  end
  -- 2.x: sid's package, unpacked
  local bin = O.CONTAINERD_2 .. "/usr/bin"
  if not exists(bin .. "/containerd") then
    local r = sched:exec{ argv = { "sh", O.SUPPORT .. "/fetch-containerd-2.sh", O.CONTAINERD_2 }, timeout = 300 }
    if not r or r.code ~= 0 then
      local msg = r and (r.stderr ~= "" and r.stderr or r.stdout) or "fetch-containerd-2.sh did not start"
      out[#out + 1] = { name = "2.x", skip = (msg:gsub("%s+$", "")) }
      return out
    end
  end
  local v, err = version_of(sched, bin .. "/containerd")
  if v and v:match(" v?2%.%d+%.") then
    out[#out + 1] = { name = "2.x", bin = bin, version_output = v }
  else
    out[#out + 1] = { name = "2.x", skip = bin .. "/containerd is not 2.x: " .. tostring(v or err) }
  end
  return out
end

local Daemon = {}
Daemon.__index = Daemon

-- environment for commands in the namespace: the line's binaries first, the daemon's socket
function Daemon:env()
  return { PATH = self.line.bin .. ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    CONTAINERD_ADDRESS = self.address, CONTAINERD_NAMESPACE = false, CONTAINERD_SNAPSHOTTER = false }
end

local function boot(self)
  self.log_lines = {}
  local log = self.log_lines
  self.job = self.sched:spawn{
    -- setpriv --pdeathsig: should the spec process die without stopping it, the daemon gets
    -- SIGTERM (unshare and sh exec, so the daemon is the spawned process itself)
    argv = { "setpriv", "--pdeathsig", "TERM", "--", "unshare", "--mount", "--propagation", "private",
      "/bin/sh", "-c", NS_SETUP, "oracle-ns", self.dir,
      self.line.bin .. "/containerd", "--root", self.root, "--state", self.state, "--address", self.address },
    env = (function()
      local e = self:env()
      e.ORACLE_HIDE = table.concat(self.hide or {}, ":")
      return e
    end)(),
    stdin = "", stdout = "discard", grace = 10,
    on_stderr = function(line) log[#log + 1] = line end,
  }
  -- wait (a deadline, not a timing assertion) until the daemon answers on its socket
  local deadline = uv.hrtime() + 60e9
  while true do
    if self.job.done then
      error(("containerd %s exited while starting: %s\n%s"):format(self.line.name,
        tostring(self.job.err or (self.job.result and self.job.result.code)), table.concat(log, "\n")), 0)
    end
    if exists(self.address) then
      local r = self.sched:exec{ argv = { self.line.bin .. "/ctr", "--address", self.address, "version" }, timeout = 10 }
      if r and r.code == 0 then break end
    end
    if uv.hrtime() > deadline then
      error("containerd " .. self.line.name .. " did not answer on " .. self.address .. " within 60 s:\n" .. table.concat(log, "\n"), 0)
    end
    self.sched:sleep(0.05)
  end
  self.pid = self.job.proc:pid()
end

--- Start a private containerd of `line` (from O.lines) reading `opts.config` as its
-- /etc/containerd/config.toml; `opts.files` = {relative path under /etc/containerd = text};
-- `opts.hide` = paths made unusable in the namespace (e.g. runc), on every (re)start.
-- Returns a Daemon; call :stop() in a finally.
function O.start(sched, line, opts)
  assert(line.bin, "line " .. tostring(line.name) .. " is not available")
  local dir = assert(uv.fs_mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/kina-oracle-" .. line.name .. "-XXXXXX"))
  local self = setmetatable({ sched = sched, line = line, dir = dir, etc = dir .. "/etc", root = dir .. "/root",
    state = dir .. "/state", address = dir .. "/containerd.sock", hide = opts.hide }, Daemon)
  for _, d in ipairs{ self.etc, self.etc .. "/certs.d", dir .. "/etc-upper", dir .. "/etc-work", self.root, self.state } do
    assert(uv.fs_mkdir(d, 448))
  end
  local ok, err = pcall(function()
    write(self.etc .. "/config.toml", opts.config)
    for name, text in pairs(opts.files or {}) do
      local sub = name:match("^(.*)/[^/]+$")
      if sub then sched:exec{ argv = { "mkdir", "-p", self.etc .. "/" .. sub } } end
      write(self.etc .. "/" .. name, text)
    end
    boot(self)
  end)
  if not ok then
    self:stop()
    error(err, 0)
  end
  return self
end

--- Run `argv` in the daemon's mount namespace (as `container exec` runs it in a node).
-- opts: stdin (string). Returns {code, stdout, stderr, ...}.
function Daemon:run(argv, opts)
  opts = opts or {}
  assert(self.pid, "containerd is not running")
  -- --root and --wd keep a chroot's view: without them nsenter lands at the namespace's real /
  local proc = "/proc/" .. self.pid
  local full = { "nsenter", "--mount=" .. proc .. "/ns/mnt", "--root=" .. proc .. "/root", "--wd=" .. proc .. "/cwd", "--" }
  for _, a in ipairs(argv) do full[#full + 1] = a end
  local r, err = self.sched:exec{ argv = full, env = self:env(), stdin = opts.stdin or "", timeout = opts.timeout or 120 }
  assert(r, err)
  assert(not r.timed_out, table.concat(argv, " ") .. " did not finish")
  return r
end

--- `ctr <args...>` against the daemon (the line's ctr, in the namespace).
function Daemon:ctr(args, opts)
  local argv = { "ctr" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return self:run(argv, opts)
end

--- The daemon's log so far (its stderr).
function Daemon:log() return table.concat(self.log_lines or {}, "\n") end

--- Write `text` to `path` in the namespace as kina's provider does (`cp /dev/stdin PATH`).
function Daemon:copy_to(text, path)
  local r = self:run({ "cp", "/dev/stdin", path }, { stdin = text })
  assert(r.code == 0, "cp /dev/stdin " .. path .. ": " .. r.stderr)
end

local function halt(self)
  if self.job and not self.job.done and self.job.proc then
    self.job.proc:terminate(10)
  end
  if self.job then
    local r = self.sched:await(self.job)
    self.last_exit = r
  end
  self.job, self.pid = nil, nil
end

--- Stop the daemon and start it again on the same root, state and /etc/containerd (what
-- `systemctl restart containerd` does in a node).
function Daemon:restart()
  halt(self)
  boot(self)
end

--- The CRI, through cri.py (runtime.v1 over the daemon's socket): method "status" (the
-- verbose info map, its "config" decoded), "imagefsinfo" (mountpoints), "image_status" REF
-- (what the kubelet asks before pulling) → decoded JSON; or nil, stderr.
function Daemon:cri(method, arg)
  local argv = { O.PYTHON, O.SUPPORT .. "/cri.py", self.address, method, arg }
  local r = assert(self.sched:exec{ argv = argv, timeout = 60 })
  if r.code ~= 0 then return nil, r.stderr end
  local v = json.decode(r.stdout)
  if method == "status" and type(v) == "table" and type(v.config) == "string" then v.config = json.decode(v.config) end
  return v
end

--- Stop the daemon (SIGTERM, SIGKILL after 10 s), wait for it, remove its temp folder.
-- Idempotent; safe after a failed start.
function Daemon:stop()
  halt(self)
  if self.dir then
    local r = self.sched:exec{ argv = { "rm", "-rf", "--one-file-system", self.dir }, timeout = 120 }
    assert(r and r.code == 0, "rm -rf " .. self.dir .. ": " .. tostring(r and r.stderr))
    self.dir = nil
  end
end

return O
