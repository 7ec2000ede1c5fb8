--- kina.kubeconfig — pick, build, merge and clean the user's kubeconfig, the way kind does.
--
-- Rules follow kind (pkg/cluster/internal/kubeconfig): which file (`paths`), the names
-- (`kina-<name>` for cluster, user and context), the merge (replace or append by name, set
-- current-context, keep everything else) and the removal (exactly kina's entries, in every file
-- $KUBECONFIG names, writing only what changed).
--
-- What kina adds on top of kind:
--   * The lock `<path>.lock` is created exclusively like client-go/kubectl's (O_CREAT|O_EXCL;
--     kina stages its record and hard-links it into place, which fails exactly when O_EXCL
--     would, so the lock never exists without its owner), so kubectl and kina exclude each
--     other, but kina also records who holds it (pid, host, a random token) and waits with
--     back-off instead of failing at once. A stale lock is recovered:
--       - it records a pid on this host and that process is gone (kill(pid, 0) = ESRCH), or
--       - it is older than STALE_AFTER (30 s). kina and kubectl hold the lock for
--         milliseconds, so 30 s is far beyond any live holder; it is the only way to recover
--         locks that record no pid (client-go's are empty) or come from another host.
--     Breaking a stale lock is serialised by a second exclusive file, `<path>.lock.break`,
--     and re-checks under it that the lock is still the very file judged stale (inode, mtime,
--     content), so two processes recovering the same stale lock cannot both win: the second
--     finds a different (live) lock and waits for it. (The guard itself is tiny-lived; a guard
--     left by a crash is recovered by the same rules.)
--   * Writes go to a temporary file in the same directory, are fsynced and renamed into place
--     (then the directory is fsynced), so a SIGKILL at any point leaves either the old or the
--     new complete file. Temporary files left by killed writers are removed by the next writer.
--     Just before the rename the writer checks that it still owns the lock; if it was stopped
--     long enough for its lock to be broken, it gives up rather than overwrite another update.
--
-- YAML goes through kina.yaml (libYAML's event parser and emitter, lyaml's resolvers), not
-- lyaml.load/lyaml.dump, which cannot tell `{}` from `[]` (`preferences: []` breaks kubectl),
-- dump keys in `pairs` order and frame every document with `---`/`...`. Here mappings and
-- sequences carry metatables (`kubeconfig.map_mt`, `kubeconfig.seq_mt`), keys are written
-- sorted (kubectl's own order: apiVersion, clusters, contexts, current-context, kind,
-- preferences, users), and there are no document markers.
--
-- Known losses, stated plainly: YAML comments, anchors/aliases (expanded), key order within a
-- mapping (sorted) and the spelling of numbers (`0x1F` is written `31`, `yes` is written `true`)
-- do not survive a rewrite — kubectl loses the same things when it writes the file. Every entry
-- and every field, known or not, does survive, with its type. Plain scalars in the YAML 1.1
-- sexagesimal form (`1:20`) stay strings, as Go's YAML reads them; mapping keys are strings,
-- as kubectl makes them (`1: x` is written `'1': x`).
--
-- Errors: misuse (wrong types, unknown option keys) raises naming the field; failures of the
-- world (a file kina cannot parse, read or write, a lock it cannot take) raise a message naming
-- the file. No module state: every call works only on its arguments.
local uv = require("luv")
local yaml = require("kina.yaml")

local M = {}

--- The null value of loaded documents (lyaml's, as kina.yaml reads it).
M.null = yaml.null

--- Metatable marking a table as a YAML mapping (so an empty one is written `{}`).
M.map_mt = { __name = "kina.kubeconfig.map" }
--- Metatable marking a table as a YAML sequence (so an empty one is written `[]`).
M.seq_mt = { __name = "kina.kubeconfig.seq" }

-- Seconds after which a lock (or break guard) is stale whatever its owner, and the default
-- seconds `merge`/`remove` wait for the lock. Exported for reading only: the module uses its
-- own copies, so changing the fields changes nothing (no shared mutable state).
local STALE_AFTER, LOCK_TIMEOUT = 30, 10
M.STALE_AFTER, M.LOCK_TIMEOUT = STALE_AFTER, LOCK_TIMEOUT

local PREFIX = "kina-"
local MODE_FILE = tonumber("600", 8)
local MODE_DIR = tonumber("755", 8)

local function map(t) return setmetatable(t or {}, M.map_mt) end
local function seq(t) return setmetatable(t or {}, M.seq_mt) end
M.map, M.seq = map, seq

local function isnull(v) return v == yaml.null end

------------------------------------------------------------------------------------------------
-- Option checking (misuse raises, naming the field)

local function check_options(opts, what, fields, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(what .. " must be a table, got " .. type(opts), level + 1)
  end
  for k, v in pairs(opts) do
    local want = fields[k]
    if not want then
      error(what .. ": unknown field '" .. tostring(k) .. "'", level + 1)
    end
    if type(v) ~= want then
      error(what .. ": field '" .. k .. "' must be a " .. want .. ", got " .. type(v), level + 1)
    end
  end
  return opts
end

local function check_name(name, level)
  if type(name) ~= "string" or name == "" then
    error("cluster name must be a non-empty string, got " .. (type(name) == "string" and '""' or type(name)),
      level + 1)
  end
end

------------------------------------------------------------------------------------------------
-- YAML (kina.yaml): mappings and sequences marked, so `{}` and `[]` survive a rewrite

local function is_sequence(t)
  local mt = getmetatable(t)
  if mt == M.seq_mt then return true end
  if mt == M.map_mt then return false end
  return yaml.is_sequence(t)
end

-- A kubeconfig as kubectl reads it: a key set twice keeps its last value and unknown tags are
-- ignored (client-go decodes with sigs.k8s.io/yaml's non-strict YAMLToJSON), so kina reads
-- every file kubectl reads.
local function load_documents(text, source)
  return yaml.load(text, { source = source, map_mt = M.map_mt, seq_mt = M.seq_mt })
end

local function emit_document(doc)
  return yaml.dump(doc, { is_array = is_sequence })
end

-- Parses kubeconfig text; an empty stream is an empty config.
local function parse(text, source)
  local docs = load_documents(text, source)
  if #docs == 0 then return map() end
  if #docs > 1 then
    error(source .. ": holds " .. #docs .. " YAML documents; a kubeconfig is one", 0)
  end
  local doc = docs[1]
  if isnull(doc) then return map() end
  if type(doc) ~= "table" or getmetatable(doc) ~= M.map_mt then
    error(source .. ": not a kubeconfig (the top level is not a mapping)", 0)
  end
  return doc
end

------------------------------------------------------------------------------------------------
-- Files

local function dirname(path)
  local d = path:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

local function basename(path)
  return path:match("([^/]*)$")
end

local function read_whole(path)
  local fd, err, code = uv.fs_open(path, "r", 0)
  if not fd then return nil, err, code end
  local parts = {}
  while true do
    local chunk, rerr, rcode = uv.fs_read(fd, 1 << 16, -1)
    if not chunk then
      uv.fs_close(fd)
      return nil, rerr, rcode
    end
    if chunk == "" then break end
    parts[#parts + 1] = chunk
  end
  uv.fs_close(fd)
  return table.concat(parts)
end

local function write_all(fd, data)
  local pos = 1
  while pos <= #data do
    local n, err, code = uv.fs_write(fd, pos == 1 and data or data:sub(pos), -1)
    if not n then return nil, err, code end
    pos = pos + n
  end
  return true
end

-- mkdir -p with mode 0755 for the directories it creates.
local function make_dirs(dir)
  if dir == "." or dir == "/" or uv.fs_stat(dir) then return true end
  local ok, err, code = make_dirs(dirname(dir))
  if not ok then return nil, err, code end
  ok, err, code = uv.fs_mkdir(dir, MODE_DIR)
  if not ok and code ~= "EEXIST" then return nil, err, code end
  return true
end

local function random_token()
  local bytes = uv.random and uv.random(8, 0)
  if type(bytes) ~= "string" then
    bytes = string.pack("<I8I8", uv.hrtime(), uv.os_getpid())
  end
  return (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function pid_alive(pid)
  local ok, _, code = uv.kill(pid, 0)
  return ok ~= nil or code ~= "ESRCH" -- EPERM: alive, someone else's
end

-- Temporary files next to the kubeconfig `<base>`: `.<base>.kina-<pid>-<token>.tmp` (a new
-- version being written) and `<base>.lock[.break].<pid>.<token>` (a lock record being staged).
local function temp_patterns(base)
  local b = base:gsub("%W", "%%%0")
  return { "^%." .. b .. "%.kina%-(%d+)%-%x+%.tmp$", "^" .. b .. "%.lock%.(%d+)%.%x+$",
    "^" .. b .. "%.lock%.break%.(%d+)%.%x+$" }
end

-- Removes temporary files of writers that were killed (their pid is gone).
local function sweep_temp_files(dir, base)
  local req = uv.fs_scandir(dir)
  if not req then return end
  local patterns = temp_patterns(base)
  while true do
    local name = uv.fs_scandir_next(req)
    if not name then break end
    local pid
    for _, pattern in ipairs(patterns) do
      pid = pid or tonumber(name:match(pattern))
    end
    if pid and pid ~= uv.os_getpid() and not pid_alive(pid) then
      uv.fs_unlink(dir .. "/" .. name)
    end
  end
end

------------------------------------------------------------------------------------------------
-- Locking

local function self_identity()
  return { pid = math.tointeger(uv.os_getpid()), host = uv.os_gethostname() or "", token = random_token() }
end

-- Creates `path` exclusively with kina's owner record already in it. The record is written to
-- `<path>.<pid>.<token>` and hard-linked to `path`: link() fails with EEXIST exactly when
-- O_CREAT|O_EXCL would (so kubectl's and kina's locks still exclude each other), but the lock
-- never exists empty — an O_EXCL lock is empty until its pid is written, and a writer killed
-- in between would leave a lock only the age bound could recover. Where the filesystem has no
-- hard links, O_CREAT|O_EXCL and a write it is.
local NO_HARD_LINKS = { EPERM = true, ENOTSUP = true, EOPNOTSUPP = true, ENOSYS = true, EMLINK = true }

local function create_owned(path, me)
  local record = string.format("pid=%d\nhost=%s\ntoken=%s\nsince=%d\n", me.pid, me.host, me.token, os.time())
  local staged = string.format("%s.%d.%s", path, me.pid, random_token())
  local fd, err, code = uv.fs_open(staged, "wx", MODE_FILE)
  if not fd then return nil, err, code end
  local ok, werr, wcode = write_all(fd, record)
  uv.fs_close(fd)
  if ok then ok, werr, wcode = uv.fs_link(staged, path) end
  uv.fs_unlink(staged)
  if ok then return true end
  if not NO_HARD_LINKS[wcode] then return nil, werr, wcode end

  fd, err, code = uv.fs_open(path, "wx", MODE_FILE)
  if not fd then return nil, err, code end
  ok, werr, wcode = write_all(fd, record)
  uv.fs_close(fd)
  if not ok then
    uv.fs_unlink(path)
    return nil, werr, wcode
  end
  return true
end

-- What a lock file says about its owner; nil when it is gone. Content may be unreadable or
-- empty (client-go's locks are empty, mode 0), then only the age counts.
local function inspect(path)
  local st = uv.fs_stat(path)
  if not st then return nil end
  local content = read_whole(path)
  local info = {
    ino = st.ino, dev = st.dev, size = st.size,
    mtime = st.mtime.sec, mtime_nsec = st.mtime.nsec,
    content = content,
  }
  if content then
    info.pid = tonumber(content:match("pid=(%d+)"))
    info.host = content:match("host=([^\n]*)")
    info.token = content:match("token=(%x+)")
  end
  return info
end

local function same_file(a, b)
  return a and b and a.ino == b.ino and a.dev == b.dev and a.mtime == b.mtime
    and a.mtime_nsec == b.mtime_nsec and a.content == b.content
end

-- Why the lock described by `info` is stale, or nil while it may be live.
local function stale_reason(info, me)
  if info.pid and info.host == me.host and not pid_alive(info.pid) then
    return "its owner, pid " .. info.pid .. ", is gone"
  end
  local age = os.time() - info.mtime
  if age > STALE_AFTER then
    return string.format("it is %d s old", age)
  end
  return nil
end

-- Removes the stale lock `info` unless it changed meanwhile. Only the holder of the break
-- guard may remove somebody else's lock, and it re-checks under the guard, so of two
-- processes that judged the same lock stale, the second finds the first one's fresh lock.
local function break_stale(lock_path, info, me)
  local guard = lock_path .. ".break"
  if not create_owned(guard, me) then
    local ginfo = inspect(guard)
    if ginfo and stale_reason(ginfo, me) then
      local again = inspect(guard)
      if same_file(ginfo, again) then uv.fs_unlink(guard) end
    end
    return false
  end
  local current = inspect(lock_path)
  local broke = false
  if same_file(current, info) then
    broke = uv.fs_unlink(lock_path) ~= nil
  end
  uv.fs_unlink(guard)
  return broke
end

local function describe_holder(lock_path, info, me)
  if not info then return "could not lock " .. lock_path end
  local since = os.date("!%Y-%m-%dT%H:%M:%SZ", info.mtime)
  local who
  if info.pid == me.pid and info.host == me.host then
    who = "this very process, pid " .. info.pid .. " (a lock taken twice?)"
  elseif info.pid then
    who = "pid " .. info.pid .. (info.host and info.host ~= "" and (" on " .. info.host) or "")
  else
    who = "another program (kubectl and kind record no pid)"
  end
  return string.format("could not lock %s: held by %s since %s; it is recovered when its "
    .. "owner exits or after %d s, or remove the file if nothing is using it",
    lock_path, who, since, STALE_AFTER)
end

local Lock = {}
Lock.__index = Lock

-- Whether the lock file is still the one this lock created.
local function owns(lock)
  local info = inspect(lock.path)
  return info ~= nil and info.token == lock.me.token
end

--- Whether this process still owns the lock file (false once released or broken as stale).
function Lock:held()
  return not self.released and owns(self)
end

--- Removes the lock file if it is still ours. Idempotent.
function Lock:release()
  if self.released then return true end
  self.released = true
  if owns(self) then uv.fs_unlink(self.path) end
  return true
end

Lock.__close = function(self) self:release() end
Lock.__gc = function(self) self:release() end

local LOCK_FIELDS = { lock_timeout = "number", sleep = "function" }

--- Take `<path>.lock` (see the module comment for the rules).
-- @tparam string path the kubeconfig file
-- @tparam[opt] table opts `lock_timeout` (seconds, default 10), `sleep` (function(seconds),
--   default a blocking uv.sleep; pass the scheduler's sleep inside a task)
-- @return a lock with `:release()` (also on `<close>` and collection) and `:held()`
-- Raises "could not lock <path>.lock: held by pid N since ..." after the timeout.
function M.lock(path, opts)
  if type(path) ~= "string" or path == "" then error("kubeconfig path must be a non-empty string", 2) end
  opts = check_options(opts, "lock options", LOCK_FIELDS, 2)
  local timeout = opts.lock_timeout or LOCK_TIMEOUT
  if timeout < 0 then error("lock options: field 'lock_timeout' must not be negative", 2) end
  local sleep = opts.sleep or function(s) uv.sleep(math.max(1, math.floor(s * 1000))) end

  local ok, err = make_dirs(dirname(path))
  if not ok then error("could not create the directory of " .. path .. ": " .. err, 0) end

  local lock_path = path .. ".lock"
  local me = self_identity()
  local deadline = uv.hrtime() + timeout * 1e9
  local delay = 0.005
  local last
  while true do
    local created, cerr, code = create_owned(lock_path, me)
    if created then
      sweep_temp_files(dirname(lock_path), basename(path))
      return setmetatable({ path = lock_path, me = me, released = false }, Lock)
    end
    if code ~= "EEXIST" then error("could not lock " .. lock_path .. ": " .. cerr, 0) end
    local info = inspect(lock_path)
    if info then
      last = info
      if not (stale_reason(info, me) and break_stale(lock_path, info, me)) then
        local now = uv.hrtime()
        if now >= deadline then error(describe_holder(lock_path, last, me), 0) end
        -- Back-off with jitter so waiting writers do not move in step.
        local jitter = 0.5 + (uv.hrtime() % 1000) / 1000
        sleep(math.min(delay * jitter, (deadline - now) / 1e9))
        delay = math.min(delay * 2, 0.1)
      end
    end
    -- info == nil: the holder released it between our open and stat; try again at once.
  end
end

------------------------------------------------------------------------------------------------
-- Reading and writing kubeconfig files

--- Read a kubeconfig; a missing (or empty) file is an empty config.
-- @tparam string path
-- @treturn table the document (mappings carry `map_mt`, sequences `seq_mt`, nulls are `null`)
-- Raises "<path>:<line>:<col>: ..." for YAML kina cannot parse and "<path>: ..." when unreadable.
function M.read(path)
  if type(path) ~= "string" or path == "" then error("kubeconfig path must be a non-empty string", 2) end
  local st = uv.fs_stat(path)
  if st and st.type == "directory" then
    error("could not read " .. path .. ": it is a directory, not a kubeconfig file", 0)
  end
  local text, err, code = read_whole(path)
  if not text then
    if code == "ENOENT" then return map() end
    error("could not read " .. path .. ": " .. err, 0)
  end
  return parse(text, path)
end

-- Writes `text` to `path` atomically (temp file, fsync, rename, fsync of the directory), mode
-- 0600. A symlinked kubeconfig is written through to its target, as kubectl does.
local function write_atomic(path, text, lock)
  local target = path
  local lst = uv.fs_lstat(path)
  if lst and lst.type == "link" then
    target = uv.fs_realpath(path)
    if not target then -- dangling: create the file it points at, as kubectl would
      local link, lerr = uv.fs_readlink(path)
      if not link then error("could not write " .. path .. ": " .. lerr, 0) end
      target = link:sub(1, 1) == "/" and link or (dirname(path) .. "/" .. link)
    end
  end
  local dir, base = dirname(target), basename(target)
  local ok, err = make_dirs(dir)
  if not ok then error("could not create the directory of " .. target .. ": " .. err, 0) end
  sweep_temp_files(dir, base)

  local tmp = string.format("%s/.%s.kina-%d-%s.tmp", dir, base, uv.os_getpid(), random_token())
  local fd, oerr = uv.fs_open(tmp, "wx", MODE_FILE)
  if not fd then error("could not write " .. target .. ": " .. oerr, 0) end
  local function fail(msg)
    uv.fs_close(fd)
    uv.fs_unlink(tmp)
    error("could not write " .. target .. ": " .. msg, 0)
  end
  local wok, werr = write_all(fd, text)
  if not wok then fail(werr) end
  wok, werr = uv.fs_fchmod(fd, MODE_FILE) -- the umask may have narrowed it; 0600 exactly
  if not wok then fail(werr) end
  wok, werr = uv.fs_fsync(fd)
  if not wok then fail(werr) end
  uv.fs_close(fd)

  if lock and not lock:held() then
    uv.fs_unlink(tmp)
    error("could not write " .. target .. ": the lock " .. lock.path
      .. " was taken over while kina held it (was this process stopped?); nothing written", 0)
  end
  local rok, rerr = uv.fs_rename(tmp, target)
  if not rok then
    uv.fs_unlink(tmp)
    error("could not write " .. target .. ": " .. rerr, 0)
  end
  -- Make the rename itself durable; not every system can fsync a directory, so best effort.
  local dfd = uv.fs_open(dir, "r", 0)
  if dfd then
    uv.fs_fsync(dfd)
    uv.fs_close(dfd)
  end
end

------------------------------------------------------------------------------------------------
-- Public API

-- Whether `path` names an existing file to merge into: kind's fileExists (os.Stat, following
-- symlinks, and not a directory; kubeconfig/internal/kubeconfig/paths.go).
local function file_exists(path)
  local st = uv.fs_stat(path)
  return st ~= nil and st.type ~= "directory"
end

--- Which files to use, as kind and kubectl pick them (kind's paths and pathForMerge,
-- kubeconfig/internal/kubeconfig/paths.go): --kubeconfig alone; else the $KUBECONFIG
-- entries, empty ones and repeats dropped; else $HOME/.kube/config. With one path, it is the
-- file to write; with several, the first that exists and is not a directory, else the last.
-- @tparam table opts `kubeconfig` (the --kubeconfig value), `env` ($KUBECONFIG), `home` ($HOME;
--   default the user's home directory)
-- @treturn table `{ write = file to merge into, all = every file (for removal) }`
function M.paths(opts)
  opts = check_options(opts, "kubeconfig paths options",
    { kubeconfig = "string", env = "string", home = "string" }, 2)
  if opts.kubeconfig and opts.kubeconfig ~= "" then
    return { write = opts.kubeconfig, all = { opts.kubeconfig } }
  end
  if opts.env then
    local all, seen = {}, {}
    for entry in (opts.env .. ":"):gmatch("([^:]*):") do
      if entry ~= "" and not seen[entry] then
        seen[entry] = true
        all[#all + 1] = entry
      end
    end
    if #all == 1 then return { write = all[1], all = all } end
    if #all > 1 then
      for _, p in ipairs(all) do
        if file_exists(p) then return { write = p, all = all } end
      end
      return { write = all[#all], all = all }
    end
  end
  local home = opts.home
  if not home or home == "" then home = uv.os_homedir() end
  if not home or home == "" then error("cannot find the kubeconfig: no --kubeconfig, $KUBECONFIG or home directory", 0) end
  local p = home:gsub("/+$", "") .. "/.kube/config"
  return { write = p, all = { p } }
end

--- The name of kina's cluster, user and context for cluster `name`.
function M.key(name)
  check_name(name, 2)
  return PREFIX .. name
end

local function count(list)
  if type(list) ~= "table" then return 0 end
  return #list
end

--- Turn kubeadm's admin.conf into kina's kubeconfig for the cluster.
-- @tparam string text the admin.conf YAML
-- @tparam table opts `name` (cluster name), `server` (optional, replaces the API server URL)
-- @treturn table a document with one cluster, user and context, all named `kina-<name>`
function M.from_admin_conf(text, opts)
  if type(text) ~= "string" then error("admin.conf text must be a string, got " .. type(text), 2) end
  opts = check_options(opts, "from_admin_conf options", { name = "string", server = "string" }, 2)
  check_name(opts.name, 2)
  local doc = parse(text, "admin.conf")
  for _, kind in ipairs({ { "clusters", "cluster" }, { "users", "user" }, { "contexts", "context" } }) do
    local n = count(doc[kind[1]])
    if n ~= 1 then
      error(string.format("kubeadm KUBECONFIG should have one %s, but read %d", kind[2], n), 0)
    end
    if type(doc[kind[1]][1]) ~= "table" then
      error("kubeadm KUBECONFIG has a " .. kind[2] .. " that is not a mapping", 0)
    end
  end
  local key = PREFIX .. opts.name
  local cluster, user, context = doc.clusters[1], doc.users[1], doc.contexts[1]
  cluster.name, user.name, context.name = key, key, key
  if type(context.context) ~= "table" then context.context = map() end
  context.context.cluster, context.context.user = key, key
  doc["current-context"] = key
  if opts.server then
    if type(cluster.cluster) ~= "table" then cluster.cluster = map() end
    cluster.cluster.server = opts.server
  end
  return doc
end

--- The YAML text of a kubeconfig document (what `kina get kubeconfig` prints).
function M.render(doc)
  if type(doc) ~= "table" then error("kubeconfig document must be a table, got " .. type(doc), 2) end
  return emit_document(doc)
end

local function entry_list(doc, field, path)
  local list = doc[field]
  if list == nil or isnull(list) then
    list = seq()
    doc[field] = list
  elseif type(list) ~= "table" or getmetatable(list) == M.map_mt then
    error(path .. ": '" .. field .. "' is not a list", 0)
  end
  return list
end

local function find_named(list, name)
  for i, entry in ipairs(list) do
    if type(entry) == "table" and entry.name == name then return i end
  end
end

local MERGE_FIELDS = { lock_timeout = "number", sleep = "function" }

--- Merge `doc`'s clusters, users and contexts into the kubeconfig at `path` and make its
-- current-context current. Entries with the same names are replaced in place, others kept.
-- @tparam string path
-- @tparam table doc usually from `from_admin_conf`
-- @tparam[opt] table opts `lock_timeout` (seconds), `sleep` (see `lock`)
-- @treturn true; raises on failure (the file is then unchanged)
function M.merge(path, doc, opts)
  if type(path) ~= "string" or path == "" then error("kubeconfig path must be a non-empty string", 2) end
  if type(doc) ~= "table" then error("kubeconfig document must be a table, got " .. type(doc), 2) end
  opts = check_options(opts, "merge options", MERGE_FIELDS, 2)
  local lock <close> = M.lock(path, opts)
  local existing = M.read(path)
  for _, field in ipairs({ "clusters", "users", "contexts" }) do
    local into = entry_list(existing, field, path)
    for _, entry in ipairs(type(doc[field]) == "table" and doc[field] or {}) do
      local i = find_named(into, entry.name)
      into[i or #into + 1] = entry
    end
  end
  local current = doc["current-context"]
  if type(current) ~= "string" or current == "" then
    current = type(doc.contexts) == "table" and doc.contexts[1] and doc.contexts[1].name
  end
  if current then existing["current-context"] = current end
  -- kind#1242: a new file gets apiVersion and kind from the document.
  for _, field in ipairs({ "apiVersion", "kind" }) do
    if existing[field] == nil then existing[field] = doc[field] end
  end
  write_atomic(path, emit_document(existing), lock)
  return true
end

--- Remove kina's entries for cluster `name` from every file in `paths_all`. Files without them
-- are not rewritten, missing files and directories are passed by; current-context is cleared
-- only when it named kina's context.
-- @tparam {string,...} paths_all usually `paths(...).all`
-- @tparam string name the cluster name
-- @tparam[opt] table opts `lock_timeout`, `sleep` (see `lock`)
-- @treturn boolean whether any file changed. Raises after trying every file if any failed.
function M.remove(paths_all, name, opts)
  if type(paths_all) ~= "table" then error("kubeconfig paths must be a list of strings", 2) end
  check_name(name, 2)
  opts = check_options(opts, "remove options", MERGE_FIELDS, 2)
  local key = PREFIX .. name
  local removed, failures = false, {}
  for i, path in ipairs(paths_all) do
    if type(path) ~= "string" or path == "" then
      error("kubeconfig paths[" .. i .. "] must be a non-empty string", 2)
    end
  end
  for _, path in ipairs(paths_all) do
    -- a directory in $KUBECONFIG holds no entries; kind would fail reading it, kina passes by
    if file_exists(path) then
      local ok, err = pcall(function()
        local lock <close> = M.lock(path, opts)
        local doc = M.read(path)
        local changed = false
        for _, field in ipairs({ "clusters", "users", "contexts" }) do
          local list = doc[field]
          if type(list) == "table" and getmetatable(list) ~= M.map_mt then
            local idx = find_named(list, key)
            while idx do
              table.remove(list, idx)
              changed = true
              idx = find_named(list, key)
            end
          end
        end
        if doc["current-context"] == key then
          doc["current-context"] = ""
          changed = true
        end
        if changed then
          write_atomic(path, emit_document(doc), lock)
          removed = true
        end
      end)
      if not ok then failures[#failures + 1] = tostring(err) end
    end
  end
  if #failures > 0 then error(table.concat(failures, "\n"), 0) end
  return removed
end

return M
