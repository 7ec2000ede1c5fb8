-- Specs for kina.kubeconfig: real files in temp dirs, checked with a real kubectl and with real
-- concurrent and SIGKILLed processes.
local uv = require("luv")
local lyaml = require("lyaml")
local json = require("kina.json")
local kc = require("kina.kubeconfig")
local World = dofile("spec/support/world.lua")

local KUBECTL = os.getenv("KUBECTL") or "/usr/bin/kubectl"
local FIXTURES = "spec/fixtures/kubeconfig/"
local LUA_PATH = "./lua/?.lua;./lua/?/init.lua;;"

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local spit = World.write

local ADMIN = slurp(FIXTURES .. "admin.conf")
local POPULATED = slurp(FIXTURES .. "populated.yaml")

local function admin_doc(name, server)
  return kc.from_admin_conf(ADMIN, { name = name, server = server or "https://127.0.0.1:6443" })
end

local function base_env(extra)
  local env = {}
  for k, v in pairs(uv.os_environ()) do
    if k ~= "LUA_PATH" and k ~= "KUBECONFIG" then env[#env + 1] = k .. "=" .. v end
  end
  env[#env + 1] = "LUA_PATH=" .. LUA_PATH
  for _, kv in ipairs(extra or {}) do env[#env + 1] = kv end
  return env
end

-- Children still running when a test ends (say, after a failed assertion) are killed then.
local running = {}

-- Starts argv as a child process; the record fills in code/signal/out/err when it exits.
local function start(argv, env)
  local rec = { out = {}, err = {} }
  running[#running + 1] = rec
  local stdout, stderr = uv.new_pipe(false), uv.new_pipe(false)
  local handle, pid = uv.spawn(argv[1], {
    args = { table.unpack(argv, 2) },
    env = env or base_env(),
    stdio = { nil, stdout, stderr },
  }, function(code, signal)
    rec.code, rec.signal, rec.done = code, signal, true
    rec.handle:close()
  end)
  assert(handle, "could not start " .. argv[1] .. ": " .. tostring(pid))
  rec.handle, rec.pid = handle, pid
  rec.open_pipes = 2
  local function reader(pipe, into)
    pipe:read_start(function(err, data)
      assert(not err, err)
      if data then
        into[#into + 1] = data
      else
        pipe:close()
        rec.open_pipes = rec.open_pipes - 1
      end
    end)
  end
  reader(stdout, rec.out)
  reader(stderr, rec.err)
  return rec
end

local function finish(rec)
  while not (rec.done and rec.open_pipes == 0) do uv.run("once") end
  uv.run("nowait") -- let the handle's close complete (luv crashes at exit on pending closes)
  rec.stdout, rec.stderr = table.concat(rec.out), table.concat(rec.err)
  return rec
end

local function run(argv, env)
  return finish(start(argv, env))
end

local function need_kubectl()
  if not uv.fs_access(KUBECTL, "X") then
    error("kubectl not found at " .. KUBECTL .. ": these specs check files with a real kubectl "
      .. "(Debian package kubernetes-client; set KUBECTL to another path)", 2)
  end
end

local function kubectl(file, ...)
  need_kubectl()
  local r = run({ KUBECTL, "--kubeconfig", file, ... })
  assert(r.code == 0, "kubectl " .. table.concat({ ... }, " ") .. " failed: " .. r.stderr)
  return r.stdout
end

-- kubectl's own reading of the file, as data.
local function kubectl_view(file)
  return json.decode(kubectl(file, "config", "view", "--raw", "-o", "json"))
end

local names = World.names

-- A kubectl view with the named entries dropped (to compare "everything else").
local function without(view, drop)
  local skip = {}
  for _, n in ipairs(drop) do skip[n] = true end
  local copy = json.decode(json.encode(view))
  for _, field in ipairs({ "clusters", "users", "contexts" }) do
    local kept = json.array()
    for _, e in ipairs(copy[field] or {}) do
      if not skip[e.name] then kept[#kept + 1] = e end
    end
    copy[field] = kept
  end
  copy["current-context"] = nil
  return copy
end

local function child_lua(code, extra_env)
  return start({ "lua5.4", "-e", code }, base_env(extra_env))
end

local function mode_of(path)
  return assert(uv.fs_stat(path)).mode & tonumber("777", 8)
end

local list_dir = World.list_dir

local function dead_pid()
  local r = run({ "true" })
  assert(r.code == 0)
  assert.is_nil((uv.kill(r.pid, 0)))
  return r.pid
end

local function hostname() return uv.os_gethostname() end
local MY_PID = math.tointeger(uv.os_getpid())

describe("kina.kubeconfig", function()
  local dir
  before_each(function() dir = assert(uv.fs_mkdtemp("/tmp/kina-kubeconfig-spec-XXXXXX")) end)
  after_each(function()
    for _, rec in ipairs(running) do
      if not rec.done then rec.handle:kill("sigkill") end
    end
    for _, rec in ipairs(running) do finish(rec) end
    running = {}
    run({ "rm", "-rf", dir })
  end)

  describe("paths", function()
    it("uses only --kubeconfig when given", function()
      local p = kc.paths({ kubeconfig = "/x/conf", env = "/a:/b", home = "/home/u" })
      assert.are.same({ write = "/x/conf", all = { "/x/conf" } }, p)
    end)

    it("uses the single $KUBECONFIG entry, dropping empty entries and duplicates", function()
      assert.are.same({ write = "/a", all = { "/a" } }, kc.paths({ env = "::/a::/a:", home = "/h" }))
    end)

    it("with several entries writes the first that exists and removes from all", function()
      local a, b, c = dir .. "/a", dir .. "/b", dir .. "/c"
      spit(b, "")
      spit(c, "")
      local p = kc.paths({ env = a .. ":" .. b .. "::" .. a .. ":" .. c, home = "/h" })
      assert.are.same({ write = b, all = { a, b, c } }, p)
    end)

    it("with several entries of which none exists writes the last", function()
      local a, b = dir .. "/a", dir .. "/b"
      assert.are.same({ write = b, all = { a, b } }, kc.paths({ env = a .. ":" .. b }))
    end)

    it("with several entries skips a directory, as kind's fileExists does, and follows symlinks", function()
      local d, f, link = dir .. "/kubedir", dir .. "/real", dir .. "/link"
      assert(uv.fs_mkdir(d, tonumber("755", 8)))
      spit(f, "")
      assert(uv.fs_symlink(f, link))
      assert.are.same({ write = f, all = { d, f } }, kc.paths({ env = d .. ":" .. f }))
      assert.are.same({ write = link, all = { d, link, f } }, kc.paths({ env = d .. ":" .. link .. ":" .. f }))
      -- a dangling symlink does not exist (os.Stat fails): the next entry wins
      local dangling = dir .. "/dangling"
      assert(uv.fs_symlink(dir .. "/nowhere", dangling))
      assert.are.same({ write = f, all = { dangling, f } }, kc.paths({ env = dangling .. ":" .. f }))
    end)

    it("with several entries none of which is a file writes the last, as kind does", function()
      local d, missing = dir .. "/kubedir", dir .. "/missing"
      assert(uv.fs_mkdir(d, tonumber("755", 8)))
      assert.are.same({ write = missing, all = { d, missing } }, kc.paths({ env = d .. ":" .. missing }))
      -- kind's rule ends at the last entry even when it is a directory; writing it then fails
      -- naming the directory, and leaves it as it was
      local p = kc.paths({ env = missing .. ":" .. d })
      assert.are.same({ write = d, all = { missing, d } }, p)
      local ok, err = pcall(kc.merge, p.write, admin_doc("dev"))
      assert.is_false(ok)
      assert.are.equal("could not read " .. d .. ": it is a directory, not a kubeconfig file", err)
      assert.are.same({}, list_dir(d))
      assert.is_nil(uv.fs_stat(d .. ".lock"))
    end)

    it("falls back to $HOME/.kube/config when $KUBECONFIG is unset or empty", function()
      local want = { write = "/home/u/.kube/config", all = { "/home/u/.kube/config" } }
      assert.are.same(want, kc.paths({ home = "/home/u" }))
      assert.are.same(want, kc.paths({ env = "", home = "/home/u/" }))
      assert.are.same(want, kc.paths({ env = ":::", home = "/home/u" }))
    end)

    it("rejects unknown option keys and wrong types, naming the field", function()
      assert.has_error(function() kc.paths({ kubeconf = "/x" }) end,
        "kubeconfig paths options: unknown field 'kubeconf'")
      assert.has_error(function() kc.paths({ env = 3 }) end,
        "kubeconfig paths options: field 'env' must be a string, got number")
    end)
  end)

  describe("from_admin_conf", function()
    it("names cluster, user and context kina-<name> and replaces the server when given", function()
      assert.are.equal("kina-dev", kc.key("dev"))
      local doc = admin_doc("dev", "https://127.0.0.1:41123")
      assert.are.equal("kina-dev", doc["current-context"])
      assert.are.equal("kina-dev", doc.clusters[1].name)
      assert.are.equal("kina-dev", doc.users[1].name)
      assert.are.equal("kina-dev", doc.contexts[1].name)
      assert.are.same({ cluster = "kina-dev", user = "kina-dev" }, doc.contexts[1].context)
      assert.are.equal("https://127.0.0.1:41123", doc.clusters[1].cluster.server)
      local original = lyaml.load(ADMIN)
      assert.are.equal(original.users[1].user["client-key-data"], doc.users[1].user["client-key-data"])
    end)

    it("keeps kubeadm's server without one (--internal)", function()
      local doc = kc.from_admin_conf(ADMIN, { name = "dev" })
      assert.are.equal("https://kina-control-plane:6443", doc.clusters[1].cluster.server)
    end)

    it("refuses an admin.conf without exactly one cluster, user and context (kind's text)", function()
      local two = ADMIN:gsub("clusters:\n", "clusters:\n- cluster:\n    server: https://x\n  name: extra\n", 1)
      assert.has_error(function() kc.from_admin_conf(two, { name = "dev" }) end,
        "kubeadm KUBECONFIG should have one cluster, but read 2")
      local no_users = ADMIN:gsub("users:\n.*$", "users: []\n")
      assert.has_error(function() kc.from_admin_conf(no_users, { name = "dev" }) end,
        "kubeadm KUBECONFIG should have one user, but read 0")
      assert.has_error(function() kc.from_admin_conf("", { name = "dev" }) end,
        "kubeadm KUBECONFIG should have one cluster, but read 0")
    end)

    it("rejects a missing name and unknown options", function()
      assert.has_error(function() kc.from_admin_conf(ADMIN, {}) end,
        "cluster name must be a non-empty string, got nil")
      assert.has_error(function() kc.from_admin_conf(ADMIN, { name = "a", port = 1 }) end,
        "from_admin_conf options: unknown field 'port'")
    end)
  end)

  describe("render", function()
    it("writes one YAML document without --- or ... markers, keys in kubectl's order", function()
      local text = kc.render(admin_doc("dev"))
      assert.is_nil(text:find("^%-%-%-"))
      assert.is_nil(text:find("\n%.%.%.\n"))
      assert.is_nil(text:find("\n%-%-%-"))
      local order = {}
      for line in text:gmatch("[^\n]+") do
        local key = line:match("^([%w%-]+):")
        if key then order[#order + 1] = key end
      end
      assert.are.same({ "apiVersion", "clusters", "contexts", "current-context", "kind",
        "preferences", "users" }, order)
      assert.are.equal(text, kc.render(kc.from_admin_conf(text, { name = "dev" })))
    end)

    it("round-trips types, empty maps and lists, nulls and strings that look like other types", function()
      local doc = kc.read(FIXTURES .. "populated.yaml")
      local again = lyaml.load(kc.render(doc))
      local sso = again.users[1].user.exec
      assert.are.equal("Never", sso.interactiveMode)
      assert.are.equal(false, sso.provideClusterInfo)
      assert.are.same({ "get-token", "--audience=work", "0755" }, sso.args)
      assert.are.equal("yes", sso.env[1].value)
      assert.are.equal("3", sso.env[2].value)
      -- quoted on output: kubectl's YAML (go-yaml v2) would read a plain y as a boolean
      assert.are.equal("y", sso.env[3].value)
      assert.truthy(kc.render(doc):find("value: 'y'\n", 1, true))
      assert.are.equal(true, again.clusters[2].cluster["insecure-skip-tls-verify"])
      assert.are.equal("", again.users[2].user.username)
      local ext = again.clusters[1].cluster.extensions[1].extension
      assert.are.equal(3, ext.retries)
      assert.are.equal(0.25, ext.ratio)
      assert.are.equal(true, ext.enabled)
      local nested = kc.render(doc):match("x%-kina%-test%-unknown:\n(.*)$")
      assert.truthy(nested:find("empty%-map: {}\n"))
      assert.truthy(nested:find("empty%-list: %[%]\n"))
      assert.truthy(nested:find("nothing: null\n"))
      assert.truthy(nested:find("big: 12345678901234\n"))
      assert.truthy(nested:find("pi: 3.14159\n"))
      assert.truthy(kc.render(doc):find("preferences:\n  colors: true\n"))
      -- Stable: rendering what was rendered gives the same bytes.
      spit(dir .. "/once", kc.render(doc))
      assert.are.equal(kc.render(doc), kc.render(kc.read(dir .. "/once")))
    end)

    it("writes an empty table as {} unless it is marked as a sequence", function()
      assert.are.equal("a: {}\nb: []\nc:\n- 1\n- x\n",
        kc.render({ a = {}, b = kc.seq(), c = { 1, "x" } }))
    end)
  end)

  describe("read", function()
    it("reads a missing or empty file as an empty config", function()
      assert.are.same({}, kc.read(dir .. "/missing"))
      spit(dir .. "/empty", "")
      assert.are.same({}, kc.read(dir .. "/empty"))
    end)

    it("raises naming a directory, rather than reading it", function()
      local ok, err = pcall(kc.read, dir)
      assert.is_false(ok)
      assert.are.equal("could not read " .. dir .. ": it is a directory, not a kubeconfig file", err)
    end)

    it("raises with the file, line and column for broken YAML", function()
      spit(dir .. "/bad", "apiVersion: v1\nclusters: [\n")
      local ok, err = pcall(kc.read, dir .. "/bad")
      assert.is_false(ok)
      assert.are.equal(dir .. "/bad:3:1: did not find expected node content "
        .. "(while parsing a flow node at line: 3, column: 1)", err)
    end)
  end)

  describe("merge", function()
    it("creates a missing file (and its directory 0755) with mode 0600 that kubectl reads", function()
      local path = dir .. "/new/.kube/config"
      assert.is_true(kc.merge(path, admin_doc("dev")))
      assert.are.equal(tonumber("600", 8), mode_of(path))
      assert.are.equal(tonumber("755", 8), mode_of(dir .. "/new/.kube"))
      assert.are.equal("kina-dev\n", kubectl(path, "config", "current-context"))
      local view = kubectl_view(path)
      assert.are.same({ "kina-dev" }, names(view.clusters))
      assert.are.equal("https://127.0.0.1:6443", view.clusters[1].cluster.server)
      assert.are.same({ "config" }, list_dir(dir .. "/new/.kube")) -- no lock or temp file left
    end)

    it("merges into an empty file", function()
      local path = dir .. "/config"
      spit(path, "")
      kc.merge(path, admin_doc("dev"))
      local view = kubectl_view(path)
      assert.are.same({ "kina-dev" }, names(view.contexts))
      assert.are.equal("kina-dev", view["current-context"])
    end)

    it("keeps every other entry and unknown field of a populated file, checked with kubectl", function()
      local path = dir .. "/config"
      spit(path, POPULATED)
      local before = kubectl_view(path)
      local raw_before = kc.read(path)
      kc.merge(path, admin_doc("dev"))

      local after = kubectl_view(path)
      assert.are.equal("kina-dev", after["current-context"])
      assert.are.same({ "kina-dev", "legacy", "work" }, names(after.clusters))
      assert.are.same({ "kina-dev", "legacy-admin", "sso" }, names(after.users))
      assert.are.same({ "kina-dev", "legacy", "work" }, names(after.contexts))
      assert.are.same(without(before, {}), without(after, { "kina-dev" }))

      -- Fields kubectl itself drops (unknown top-level keys) survive too.
      local raw_after = kc.read(path)
      assert.are.same(raw_before["x-kina-test-unknown"], raw_after["x-kina-test-unknown"])
      assert.are.same(raw_before.preferences, raw_after.preferences)
      assert.are.same(raw_before.users[1], raw_after.users[1])
      assert.are.same(raw_before.clusters[1], raw_after.clusters[1])
      assert.are.equal(tonumber("600", 8), mode_of(path))

      -- kubectl can switch contexts in the merged file, and kina merges again after it.
      kubectl(path, "config", "use-context", "work")
      assert.are.equal("work\n", kubectl(path, "config", "current-context"))
      kc.merge(path, admin_doc("other"))
      local contexts = kubectl(path, "config", "get-contexts", "-o", "name")
      assert.are.equal("kina-dev\nkina-other\nlegacy\nwork\n", contexts)
      assert.are.equal("kina-other\n", kubectl(path, "config", "current-context"))
    end)

    it("replaces kina's entries on a second merge instead of adding duplicates", function()
      local path = dir .. "/config"
      spit(path, POPULATED)
      kc.merge(path, admin_doc("dev", "https://127.0.0.1:1111"))
      kc.merge(path, admin_doc("other"))
      kc.merge(path, admin_doc("dev", "https://127.0.0.1:2222"))
      local raw = kc.read(path)
      assert.are.same({ "kina-dev", "kina-other", "legacy", "work" }, names(raw.clusters))
      assert.are.same({ "kina-dev", "kina-other", "legacy", "work" }, names(raw.contexts))
      assert.are.same({ "kina-dev", "kina-other", "legacy-admin", "sso" }, names(raw.users))
      -- Existing order kept, new entries appended, a replaced entry stays where it was.
      assert.are.same({ "work", "legacy", "kina-dev", "kina-other" },
        { raw.clusters[1].name, raw.clusters[2].name, raw.clusters[3].name, raw.clusters[4].name })
      assert.are.equal("https://127.0.0.1:2222", raw.clusters[3].cluster.server)
      assert.are.equal("kina-dev", raw["current-context"])
    end)

    it("makes an existing 0644 file 0600", function()
      local path = dir .. "/config"
      spit(path, POPULATED)
      assert(uv.fs_chmod(path, tonumber("644", 8)))
      kc.merge(path, admin_doc("dev"))
      assert.are.equal(tonumber("600", 8), mode_of(path))
    end)

    it("writes through a symlinked kubeconfig to its target", function()
      local target, link = dir .. "/real-config", dir .. "/config"
      spit(target, POPULATED)
      assert(uv.fs_symlink(target, link))
      kc.merge(link, admin_doc("dev"))
      assert.are.equal("link", uv.fs_lstat(link).type)
      assert.are.same({ "kina-dev", "legacy", "work" }, names(kc.read(target).contexts))
      -- A dangling link gets its target created.
      assert(uv.fs_symlink("made-by-merge", dir .. "/dangling"))
      kc.merge(dir .. "/dangling", admin_doc("dev"))
      assert.are.equal("link", uv.fs_lstat(dir .. "/dangling").type)
      assert.are.equal("kina-dev", kc.read(dir .. "/made-by-merge")["current-context"])
    end)

    it("leaves an unparsable file untouched and says where it is broken", function()
      local path = dir .. "/config"
      local broken = "apiVersion: v1\nclusters:\n- name: a\n  cluster: {server: \n"
      spit(path, broken)
      local ok, err = pcall(kc.merge, path, admin_doc("dev"))
      assert.is_false(ok)
      assert.truthy(err:find(path .. ":", 1, true), err)
      assert.are.equal(broken, slurp(path))
      assert.are.same({ "config" }, list_dir(dir))
    end)
  end)

  describe("remove", function()
    local function populated_with(names_to_add, current)
      local path = dir .. "/config"
      spit(path, POPULATED)
      for _, n in ipairs(names_to_add) do kc.merge(path, admin_doc(n)) end
      if current then kubectl(path, "config", "use-context", current) end
      return path
    end

    it("removes exactly kina's entries and clears current-context that pointed there", function()
      local path = populated_with({ "other", "dev" })
      local before = kubectl_view(path)
      assert.is_true(kc.remove({ path }, "dev"))
      local after = kubectl_view(path)
      assert.are.same({ "kina-other", "legacy", "work" }, names(after.clusters))
      assert.are.same({ "kina-other", "legacy-admin", "sso" }, names(after.users))
      assert.are.same({ "kina-other", "legacy", "work" }, names(after.contexts))
      assert.are.equal("", after["current-context"])
      assert.are.same(without(before, { "kina-dev" }), without(after, {}))
      assert.are.same(kc.read(FIXTURES .. "populated.yaml")["x-kina-test-unknown"],
        kc.read(path)["x-kina-test-unknown"])
      assert.are.equal(tonumber("600", 8), mode_of(path))
    end)

    it("passes by a directory and a missing file listed in $KUBECONFIG", function()
      local path = populated_with({ "dev" })
      local d = dir .. "/kubedir"
      assert(uv.fs_mkdir(d, tonumber("755", 8)))
      assert.is_true(kc.remove({ d, dir .. "/missing", path }, "dev"))
      assert.are.same({ "legacy", "work" }, names(kubectl_view(path).clusters))
      assert.are.same({}, list_dir(d))
    end)

    it("keeps current-context when it pointed elsewhere", function()
      local path = populated_with({ "dev" }, "work")
      assert.is_true(kc.remove({ path }, "dev"))
      assert.are.equal("work\n", kubectl(path, "config", "current-context"))
      assert.are.same({ "legacy", "work" }, names(kubectl_view(path).contexts))
    end)

    it("does not rewrite a file without kina's entries (same inode and mtime)", function()
      local path = dir .. "/config"
      spit(path, POPULATED)
      assert(uv.fs_utime(path, 1000000000, 1000000000))
      local st = uv.fs_stat(path)
      assert.is_false(kc.remove({ path }, "dev"))
      local again = uv.fs_stat(path)
      assert.are.equal(st.ino, again.ino)
      assert.are.same(st.mtime, again.mtime)
      assert.are.equal(POPULATED, slurp(path))
      assert.are.same({ "config" }, list_dir(dir))
    end)

    it("cleans every file it is given and skips missing ones without creating them", function()
      local a, b, missing = dir .. "/a", dir .. "/b", dir .. "/nodir/c"
      kc.merge(a, admin_doc("dev"))
      spit(b, POPULATED)
      kc.merge(b, admin_doc("dev"))
      kc.merge(b, admin_doc("keep"))
      assert.is_true(kc.remove({ a, missing, b }, "dev"))
      assert.are.same({}, names(kubectl_view(a).contexts))
      assert.are.same({ "kina-keep", "legacy", "work" }, names(kubectl_view(b).contexts))
      assert.are.equal("kina-keep", kubectl_view(b)["current-context"])
      assert.is_nil(uv.fs_stat(dir .. "/nodir"))
      assert.is_false(kc.remove({ a, b }, "dev"))
    end)
  end)

  describe("locking", function()
    it("waits for a lock held by a live process and merges after it is released", function()
      local path = dir .. "/config"
      spit(path, POPULATED)
      local holder = child_lua(string.format([[
        local kc, uv = require("kina.kubeconfig"), require("luv")
        local lock = kc.lock(%q)
        io.write("locked\n") io.flush()
        uv.sleep(300)
        local f = io.open(%q, "w") f:write("released") f:close()
        lock:release()
      ]], path, dir .. "/released"))
      while not table.concat(holder.out):find("locked") do
        assert(not holder.done, "the lock holder exited early: " .. table.concat(holder.err))
        uv.run("once")
      end
      kc.merge(path, admin_doc("dev"), { lock_timeout = 20 })
      -- The merge could only finish after the holder wrote its marker and let go.
      assert.are.equal("released", slurp(dir .. "/released"))
      finish(holder)
      assert.are.equal(0, holder.code, holder.stderr)
      assert.are.equal("kina-dev", kc.read(path)["current-context"])
    end)

    it("times out on a fresh lock with a clear error and leaves the file alone", function()
      local path = dir .. "/config"
      spit(path, POPULATED)
      -- A lock such as kubectl leaves while it writes: empty, no pid.
      spit(path .. ".lock", "")
      local ok, err = pcall(kc.merge, path, admin_doc("dev"), { lock_timeout = 0.2 })
      assert.is_false(ok)
      assert.truthy(err:find("could not lock " .. path .. ".lock: held by another program", 1, true), err)
      assert.truthy(err:find("since %d%d%d%d%-%d%d%-%d%dT"), err)
      assert.are.equal(POPULATED, slurp(path))

      -- A live kina holder is named by pid.
      local holder = child_lua("require('luv').sleep(60000)")
      spit(path .. ".lock", string.format("pid=%d\nhost=%s\ntoken=ab\n", holder.pid, hostname()))
      ok, err = pcall(kc.remove, { path }, "dev", { lock_timeout = 0.1 })
      holder.handle:kill("sigkill")
      finish(holder)
      assert.is_false(ok)
      assert.truthy(err:find("could not lock " .. path .. ".lock: held by pid " .. holder.pid
        .. " on " .. hostname() .. " since ", 1, true), err)
      assert.are.equal(POPULATED, slurp(path))

      -- Taking it twice in one process is called out.
      os.remove(path .. ".lock")
      local lock <close> = kc.lock(path)
      ok, err = pcall(kc.merge, path, admin_doc("dev"), { lock_timeout = 0 })
      assert.is_false(ok)
      assert.truthy(err:find("held by this very process, pid " .. MY_PID, 1, true), err)
    end)

    it("waits with the sleep function it is given (a scheduler's, inside a task)", function()
      local path = dir .. "/config"
      spit(path .. ".lock", string.format("pid=%d\nhost=%s\ntoken=ab\n", MY_PID, hostname()))
      local naps = {}
      local function sleep(seconds)
        naps[#naps + 1] = seconds
        if #naps == 3 then os.remove(path .. ".lock") end
      end
      assert.is_true(kc.merge(path, admin_doc("dev"), { lock_timeout = 60, sleep = sleep }))
      assert.are.equal(3, #naps)
      for _, s in ipairs(naps) do assert.is_true(s > 0 and s <= 0.1) end
      assert.is_true(naps[3] > naps[1]) -- backs off
      assert.are.equal("kina-dev", kc.read(path)["current-context"])
    end)

    it("recovers at once a lock whose owner pid is gone", function()
      local path = dir .. "/config"
      spit(path .. ".lock", string.format("pid=%d\nhost=%s\ntoken=ab\n", dead_pid(), hostname()))
      assert.is_true(kc.merge(path, admin_doc("dev"), { lock_timeout = 0 }))
      assert.are.same({ "config" }, list_dir(dir))
    end)

    it("recovers a lock older than the stale bound even without a pid", function()
      local path = dir .. "/config"
      spit(path .. ".lock", "")
      local old = os.time() - kc.STALE_AFTER - 5
      assert(uv.fs_utime(path .. ".lock", old, old))
      assert.is_true(kc.merge(path, admin_doc("dev"), { lock_timeout = 0 }))
      -- A pid on another host cannot be checked; only the age counts.
      spit(path .. ".lock", "pid=1\nhost=some-other-host\ntoken=ab\n")
      local ok = pcall(kc.merge, path, admin_doc("dev"), { lock_timeout = 0 })
      assert.is_false(ok)
      assert(uv.fs_utime(path .. ".lock", old, old))
      assert.is_true(kc.merge(path, admin_doc("dev"), { lock_timeout = 0 }))
    end)

    it("lets only one of many processes recovering the same stale lock in at a time", function()
      local path = dir .. "/config"
      local inside, go = dir .. "/inside", dir .. "/go"
      for round = 1, 3 do
        spit(path .. ".lock", string.format("pid=%d\nhost=%s\ntoken=ab\n", dead_pid(), hostname()))
        local kids = {}
        for i = 1, 6 do
          kids[i] = child_lua(string.format([[
            local kc, uv = require("kina.kubeconfig"), require("luv")
            while not uv.fs_stat(%q) do uv.sleep(1) end
            local lock = kc.lock(%q, { lock_timeout = 30 })
            local fd = uv.fs_open(%q, "wx", 384)
            if not fd then io.write("two holders at once") os.exit(1) end
            uv.fs_close(fd)
            uv.sleep(10)
            uv.fs_unlink(%q)
            lock:release()
          ]], go, path, inside, inside))
        end
        spit(go, "")
        for i, kid in ipairs(kids) do
          finish(kid)
          assert.are.equal(0, kid.code, "round " .. round .. " child " .. i .. ": " .. kid.stdout .. kid.stderr)
        end
        os.remove(go)
        assert.are.same({}, list_dir(dir))
      end
    end)

    it("release removes only its own lock file, never one that replaced it", function()
      local path = dir .. "/config"
      local lock = kc.lock(path)
      assert.is_true(lock:held())
      -- As if this lock had been broken as stale and another writer had taken it.
      os.remove(path .. ".lock")
      spit(path .. ".lock", "pid=1\nhost=elsewhere\ntoken=cafe\n")
      assert.is_false(lock:held())
      assert.is_true(lock:release())
      assert.are.equal("pid=1\nhost=elsewhere\ntoken=cafe\n", slurp(path .. ".lock"))
      os.remove(path .. ".lock")
      local again = kc.lock(path)
      assert.is_true(again:release())
      assert.is_true(again:release()) -- idempotent
      assert.is_false(again:held())
      assert.are.same({}, list_dir(dir))
    end)

    it("rejects bad lock options, naming the field", function()
      assert.has_error(function() kc.merge(dir .. "/c", admin_doc("dev"), { timeout = 1 }) end,
        "merge options: unknown field 'timeout'")
      assert.has_error(function() kc.lock(dir .. "/c", { lock_timeout = "1" }) end,
        "lock options: field 'lock_timeout' must be a number, got string")
    end)
  end)

  describe("under concurrency and crashes", function()
    it("keeps all 200 contexts when 8 processes merge 25 clusters each into one file", function()
      local path = dir .. "/config"
      spit(path, POPULATED)
      local kids = {}
      for p = 1, 8 do
        kids[p] = child_lua(string.format([[
          local kc = require("kina.kubeconfig")
          local admin = io.open(%q):read("a")
          for round = 1, 25 do
            local name = string.format("p%%d-r%%02d", %d, round)
            kc.merge(%q, kc.from_admin_conf(admin, { name = name }), { lock_timeout = 60 })
          end
        ]], FIXTURES .. "admin.conf", p, path))
      end
      for p, kid in ipairs(kids) do
        finish(kid)
        assert.are.equal(0, kid.code, "writer " .. p .. ": " .. kid.stderr)
      end
      local view = kubectl_view(path)
      local want = { "legacy", "work" }
      for p = 1, 8 do
        for round = 1, 25 do want[#want + 1] = string.format("kina-p%d-r%02d", p, round) end
      end
      table.sort(want)
      assert.are.same(want, names(view.contexts))
      assert.are.equal(202, #view.clusters)
      assert.are.equal(202, #view.users)
      assert.are.same({ "config" }, list_dir(dir))
    end)

    it("recovers the lock of a writer SIGKILLed while holding it", function()
      local path = dir .. "/config"
      spit(path, POPULATED)
      local holder = child_lua(string.format([[
        local kc, uv = require("kina.kubeconfig"), require("luv")
        local lock = kc.lock(%q)
        io.write("locked\n") io.flush()
        uv.sleep(60000)
      ]], path))
      while not table.concat(holder.out):find("locked") do
        assert(not holder.done, "the lock holder exited early: " .. table.concat(holder.err))
        uv.run("once")
      end
      holder.handle:kill("sigkill")
      finish(holder)
      assert.are.equal(9, holder.signal)
      assert.truthy(uv.fs_stat(path .. ".lock"))
      assert.is_true(kc.merge(path, admin_doc("dev"), { lock_timeout = 5 }))
      assert.are.same({ "kina-dev", "legacy", "work" }, names(kubectl_view(path).contexts))
      assert.are.same({ "config" }, list_dir(dir))
    end)

    it("never leaves a truncated file when a writer is SIGKILLed mid-write", function()
      local path = dir .. "/config"
      spit(path, POPULATED)
      -- A big token makes each write long enough to be caught in the middle of it.
      local token_size = 8 * 1024 * 1024
      local writer = child_lua(string.format([[
        local kc = require("kina.kubeconfig")
        local admin = io.open(%q):read("a")
        local doc = kc.from_admin_conf(admin, { name = "big" })
        doc.users[1].user.token = string.rep("t", %d)
        local i = 0
        while true do
          i = i + 1
          doc.clusters[1].cluster.server = "https://127.0.0.1:" .. (20000 + i)
          kc.merge(%q, doc)
          io.write("merged\n") io.flush()
        end
      ]], FIXTURES .. "admin.conf", token_size, path))
      -- Wait for one complete merge, then for the next temp file, and kill the writer there.
      while not table.concat(writer.out):find("merged") do
        assert(not writer.done, "the writer exited early: " .. table.concat(writer.err))
        uv.run("nowait")
        uv.sleep(1)
      end
      -- "In the middle" = its temp file exists, or the kubeconfig is shorter than a complete
      -- one (which only a writer that is not atomic would show).
      local complete_size = assert(uv.fs_stat(path)).size
      local function merges_done() return select(2, table.concat(writer.out):gsub("merged", "")) end
      local before = merges_done()
      local caught = false
      while not caught do
        assert(not writer.done, "the writer exited early: " .. table.concat(writer.err))
        assert(merges_done() < before + 5, "never saw a write in progress in 5 merges")
        for _, name in ipairs(list_dir(dir)) do
          if name:find("%.tmp$") then caught = true end
        end
        local st = uv.fs_stat(path)
        if st and st.size < complete_size then caught = true end
        if not caught then uv.run("nowait") end
      end
      writer.handle:kill("sigkill")
      finish(writer)
      assert.are.equal(9, writer.signal)

      -- The file is complete (old or new), and kubectl reads it.
      local doc = kc.read(path)
      assert.are.equal(token_size, #doc.users[3].user.token)
      assert.are.same({ "kina-big", "legacy", "work" }, names(kubectl_view(path).contexts))
      -- The dead writer's lock does not block the next one, which also sweeps its temp file.
      assert.is_true(kc.merge(path, admin_doc("dev"), { lock_timeout = 5 }))
      assert.are.same({ "config" }, list_dir(dir))
      assert.are.same({ "kina-big", "kina-dev", "legacy", "work" }, names(kubectl_view(path).contexts))
    end)

    it("leaves a parsable file whenever a looping writer is killed", function()
      local path = dir .. "/config"
      spit(path, POPULATED)
      for trial = 1, 8 do
        local writer = child_lua(string.format([[
          local kc = require("kina.kubeconfig")
          local admin = io.open(%q):read("a")
          local i = 0
          while true do
            i = i + 1
            kc.merge(%q, kc.from_admin_conf(admin, { name = "t%d-" .. i }))
          end
        ]], FIXTURES .. "admin.conf", path, trial))
        -- Kill after a varying number of loop turns of ours (no timing assumptions).
        for _ = 1, trial * 3 do uv.run("nowait") uv.sleep(2) end
        writer.handle:kill("sigkill")
        finish(writer)
        local doc = kc.read(path)
        assert.are.equal("Config", doc.kind)
        assert.is_true(kc.merge(path, admin_doc("after-" .. trial), { lock_timeout = 5 }))
        assert.are.equal("kina-after-" .. trial, kubectl_view(path)["current-context"])
      end
      assert.are.same({ "config" }, list_dir(dir))
    end)
  end)

  it("does not touch the global table", function()
    local before = {}
    for k in pairs(_G) do before[k] = true end
    package.loaded["kina.kubeconfig"] = nil
    local fresh = require("kina.kubeconfig")
    fresh.render(fresh.from_admin_conf(ADMIN, { name = "g" }))
    for k in pairs(_G) do assert.is_true(before[k], "new global " .. tostring(k)) end
    package.loaded["kina.kubeconfig"] = kc
  end)
end)
