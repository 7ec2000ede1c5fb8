-- Oracle for kina's in-node containerd steps (issue 9): kina's own code (kina.containerd) run
-- against the REAL containerd — Debian 12's 1.6.20 and Debian unstable's 2.x, each started
-- privately by spec/support/oracle/containerd.lua — and against the simulated kindest/node,
-- which must give the real outcome. The outputs established are recorded in
-- spec/support/oracle/FACTS.md; this spec pins them down.
--
-- The real daemon reads kind's node config.toml, rebuilt here from its facts. What the running
-- CRI plugin uses is asked of the CRI itself (spec/support/oracle/cri.py: Status, ImageFsInfo,
-- ImageStatus — what `crictl info`, `crictl imagefsinfo` and the kubelet's image lookup see) and
-- shown by behaviour: a CRI pull must reach the registry host that /etc/containerd/certs.d
-- names.
--
-- Needs root, mount namespaces, Debian's containerd and python3-grpcio (`make deps`); the 2.x
-- line is fetched from sid by spec/support/oracle/fetch-containerd-2.sh. Skips with the reason
-- otherwise; a sid that cannot be reached skips the 2.x cases loudly and the rest still run.
local async = require "kina.async"
local cluster_lib = require "kina.cluster"
local config_lib = require "kina.config"
local containerd = require "kina.containerd"
local json = require "kina.json"
local toml = require "kina.toml"
local uv = require "luv"
local O = dofile("spec/support/oracle/containerd.lua")
local A = dofile("spec/support/oracle/archives.lua")

local SIM = dofile("spec/support/world.lua").SIM
local NODE_IMAGE = "kindest/node:v1.35.5"

-- kind's node /etc/containerd/config.toml, rebuilt from its facts in the fixture (kindest/node
-- images from v1.24 on ship it as is: kind pkg/build/nodeimage/buildcontext.go patches it only
-- below v1.24).
local KIND_CONFIG
do
  local f = assert(io.open("spec/fixtures/containerd/kind-config.toml", "rb"))
  KIND_CONFIG = f:read("a")
  f:close()
end

-- kind's local-registry patch (site/content/docs/user/private-registries.md,
-- site/static/examples/kind-with-registry.sh; a `|-` block: no final newline).
local LOCAL_REGISTRY_PATCH = '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"'

-- kind's config.toml after kina's configuration (the matrix daemons start with it, as a node
-- has it once kina configured it).
local KINA_CONFIG = containerd.patch_config(KIND_CONFIG, { snapshotter = "native", patches = { LOCAL_REGISTRY_PATCH } })

-- The drop-ins the old kina wrote (lua/kina/cluster.lua before issue 9).
local OLD_DROPINS = {
  ["conf.d/kina-snapshotter.toml"] = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "native"\n',
  ["conf.d/kina-patch-1.toml"] = LOCAL_REGISTRY_PATCH,
}

-- The node's platform is containerd's host platform; the archives are made for it (on a
-- platform other than the host's, 1.6's unpack fails: "no match for platform in manifest").
local ARCH = ({ x86_64 = "amd64", aarch64 = "arm64", arm64 = "arm64" })[uv.os_uname().machine] or uv.os_uname().machine
local PLATFORM = "linux/" .. ARCH
local OTHER_PLATFORM = ARCH == "amd64" and "linux/arm64" or "linux/amd64"

-- The archive forms. `lookup` is the name a pod spec would use (the kubelet asks the CRI with
-- it); `kubelet_name` is what the CRI must report for it, or false when the kubelet cannot find
-- the image under any name it would use.
local FORMS = {
  { id = "docker-save", lookup = "oracle-docker:v1", kubelet_name = "docker.io/library/oracle-docker:v1",
    build = function() return A.docker_save("oracle-docker:v1", PLATFORM) end },
  { id = "podman-save", lookup = "localhost/oracle-podman:v1", kubelet_name = "localhost/oracle-podman:v1",
    build = function() return A.podman_save("localhost/oracle-podman:v1", PLATFORM) end },
  { id = "oci-layout", lookup = "oci-layout:v1", kubelet_name = false, stored = "import-<date>:v1",
    build = function() return A.oci_layout("v1", PLATFORM) end },
  { id = "apple-save", lookup = "oracle-apple:v1", kubelet_name = "docker.io/library/oracle-apple:v1",
    build = function() return A.apple_save("docker.io/library/oracle-apple:v1", PLATFORM) end },
  { id = "apple-short", lookup = "oracle-short:v1", kubelet_name = false, stored = "oracle-short:v1",
    build = function() return A.apple_save("oracle-short:v1", PLATFORM) end },
  { id = "multi-platform", lookup = "oracle-multi:v1", kubelet_name = "docker.io/library/oracle-multi:v1",
    build = function() return A.multi_platform("docker.io/library/oracle-multi:v1", PLATFORM, OTHER_PLATFORM) end },
}

-- The argv variants of the matrix (the lead picks kina's from it).
local VARIANTS = {
  { id = "kind", all = true, args = { "--all-platforms", "--digests", "--snapshotter=native", "-" } },
  { id = "platform", args = { "--platform=" .. PLATFORM, "--digests", "--snapshotter=native", "-" } },
  { id = "kind+local", all = true, local_flag = true,
    args = { "--all-platforms", "--digests", "--snapshotter=native", "--local", "-" } },
  { id = "platform+local", local_flag = true,
    args = { "--platform=" .. PLATFORM, "--digests", "--snapshotter=native", "--local", "-" } },
}

local UNPACKER = "ctr: unable to initialize unpacker: no unpack platforms defined: invalid argument\n"
local NO_LOCAL = "ctr: flag provided but not defined: -local\n"

-- What the real ctr answers for a cell (rc 1 + this stderr), or nil when it imports: 1.6's ctr
-- has no --local; 2.x without --local goes through the transfer service, whose unpack config
-- (host platform + overlayfs) matches no --snapshotter=native; --all-platforms needs every
-- platform's blobs.
local function expected_failure(line, variant, form, desc)
  if line == "1.6" and variant.local_flag then return NO_LOCAL end
  if line == "2.x" and not variant.local_flag then return UNPACKER end
  if variant.all and form.id == "multi-platform" then
    return "ctr: content digest " .. desc.missing_manifest .. ": not found\n"
  end
  return nil
end

local function undate(s)
  return (s:gsub("import%-%d%d%d%d%-%d%d%-%d%d", "import-<date>"))
end

local function lines_of(s)
  local out = {}
  for l in s:gmatch("[^\n]+") do out[#out + 1] = l end
  table.sort(out)
  return out
end

-- `ctr snapshots ls` → the sorted KEY column
local function snapshot_keys(s)
  local out = {}
  for l in s:gmatch("[^\n]+") do
    local key = l:match("^(%S+)")
    if key and key ~= "KEY" then out[#out + 1] = key end
  end
  table.sort(out)
  return out
end

local function basename(p) return p and p:match("([^/]+)$") end

-- The names ctr must list after an import of `form` (the "<date>" is the import day).
local function stored_names(form, desc)
  local top = form.id == "oci-layout" and desc.manifest_digest or desc.index_digest
  local first = form.kubelet_name or form.stored
  return first, top and ("import-<date>@" .. top) or nil, desc.config_digest
end

---------------------------------------------------------------------------------------------
-- worlds: the same steps against a real daemon or a simulated node

-- Every world made and not yet cleaned up; after_each cleans them all, so a failing case
-- still stops its daemons and removes its temp folders.
local live = {}
local function register(w)
  local cleanup = w.cleanup
  local done = false
  function w.cleanup()
    if done then return end
    done = true
    for i = #live, 1, -1 do if live[i] == w then table.remove(live, i) end end
    cleanup()
  end
  live[#live + 1] = w
  return w
end

local function cleanup_all()
  local errors = {}
  while #live > 0 do
    local ok, err = pcall(live[#live].cleanup)
    if not ok then errors[#errors + 1] = tostring(err) end
  end
  assert(#errors == 0, "cleanup failed: " .. table.concat(errors, "; "))
end

-- kind's cri-base.json: `ctr oci spec` with a createContainer hook added and rlimits removed
-- (kind images/base/Dockerfile). The CRI plugin does not load when the file named by
-- base_runtime_spec is missing.
local function cri_base(sched, line)
  local r = assert(sched:exec{ argv = { line.bin .. "/ctr", "oci", "spec" }, timeout = 30 })
  assert(r.code == 0, "ctr oci spec: " .. r.stderr)
  local spec = json.decode(r.stdout)
  spec.hooks = spec.hooks or {}
  spec.hooks.createContainer = spec.hooks.createContainer or json.array()
  spec.hooks.createContainer[#spec.hooks.createContainer + 1] = { path = "/kind/bin/mount-product-files.sh" }
  if spec.process then spec.process.rlimits = nil end
  return json.encode(spec)
end

-- A real daemon reading `config` (default: kind's) plus cri-base.json and `extra_files`;
-- `hide`: paths made unusable in its namespace.
local function real_world(sched, line, extra_files, config, hide)
  local files = { ["cri-base.json"] = cri_base(sched, line) }
  for k, v in pairs(extra_files or {}) do files[k] = v end
  local d = O.start(sched, line, { config = config or KIND_CONFIG, files = files, hide = hide })
  local w = { daemon = d, platform = PLATFORM, name = "containerd " .. line.name }
  function w.exec(argv, stdin) return d:run(argv, { stdin = stdin }) end
  function w.copy_to(text, path) d:copy_to(text, path) end
  function w.restart() d:restart() end
  function w.lookup(name)
    local st = assert(d:cri("image_status", name))
    if st == json.null then return { found = false } end
    local digests = {}
    for i, s in ipairs(st.repoDigests) do digests[i] = undate(s) end
    return { found = true, id = st.id, repoTags = st.repoTags, repoDigests = digests }
  end
  function w.cri_snapshotter()
    local mounts = assert(d:cri("imagefsinfo"))
    return basename(mounts[1])
  end
  function w.cleanup() d:stop() end
  return register(w)
end

-- A simulated kindest/node in a private simulator state, started as kina starts nodes (current
-- CLI flags) on the host's platform so both worlds import byte-identical archives. Its base is
-- kind v0.30's (containerd 2.1, KINA_SIM_NODE_BASE): the same containerd line as the real 2.x
-- the spec runs, so the two must agree to the letter.
local function sim_world(sched)
  local dir = assert(uv.fs_mkdtemp("/tmp/kina-oracle-sim-XXXXXX"))
  local env = { KINA_SIM_STATE = dir .. "/state", KINA_SIM_BOOT_DELAY = "0", KINA_SIM_READY_DELAY = "0",
    KINA_SIM_LOG = false, KINA_SIM_FAIL = false, KINA_SIM_HANG = false, KINA_SIM_LATENCY = false, KINA_SIM_VERSION = false,
    KINA_SIM_NODE_BASE = "v0.30" }
  local function sim(args, stdin)
    local r = assert(sched:exec{ argv = { SIM, table.unpack(args) }, env = env, stdin = stdin or "", timeout = 60 })
    assert(not r.timed_out, "container " .. table.concat(args, " ") .. " did not finish")
    return r
  end
  local w = { platform = PLATFORM, name = "simulated " .. NODE_IMAGE }
  function w.cleanup()
    local r = sched:exec{ argv = { "rm", "-rf", dir }, stdin = "" }
    assert(r and r.code == 0, "rm -rf " .. dir)
  end
  register(w)
  local ok, err = pcall(function()
    local r = sim{ "run", "-d", "--name", "kina-oracle", "--platform", PLATFORM, "--cap-add", "ALL",
      "--masked-path", "NONE", "--read-only-path", "NONE", NODE_IMAGE }
    assert(r.code == 0, "container run: " .. r.stderr)
  end)
  if not ok then w.cleanup(); error(err, 0) end
  function w.exec(argv, stdin)
    local args = { "exec" }
    if stdin then args[#args + 1] = "-i" end
    args[#args + 1] = "kina-oracle"
    for _, a in ipairs(argv) do args[#args + 1] = a end
    return sim(args, stdin)
  end
  local function wait_for_containerd()
    -- kina's own readiness poll; a deadline, not a timing assertion
    local deadline = uv.hrtime() + 60e9
    while w.exec{ "test", "-S", "/run/containerd/containerd.sock" }.code ~= 0 do
      assert(uv.hrtime() < deadline, "the simulated node's containerd socket never appeared")
      sched:sleep(0.05)
    end
  end
  wait_for_containerd()
  function w.copy_to(text, path)
    local r = w.exec({ "cp", "/dev/stdin", path }, text)
    assert(r.code == 0, "cp /dev/stdin " .. path .. ": " .. r.stderr)
  end
  function w.restart()
    local r = w.exec{ "systemctl", "restart", "containerd" }
    assert(r.code == 0, "systemctl restart containerd: " .. r.stderr)
    wait_for_containerd()
  end
  function w.lookup(name)
    local r = w.exec{ "crictl", "inspecti", name }
    if r.code ~= 0 then return { found = false } end
    local st = json.decode(r.stdout).status
    local digests = {}
    for i, s in ipairs(st.repoDigests or {}) do digests[i] = undate(s) end
    return { found = true, id = st.id, repoTags = st.repoTags, repoDigests = digests }
  end
  function w.cri_snapshotter()
    local r = w.exec{ "crictl", "imagefsinfo" }
    if r.code ~= 0 then return "crictl imagefsinfo failed: " .. r.stderr end
    local fs = json.decode(r.stdout).status.imageFilesystems
    return basename(fs and fs[1] and fs[1].fsId and fs[1].fsId.mountpoint)
  end
  return w
end

-- What kina does to a node's containerd: read config.toml, merge (snapshotter + patches), write
-- it back with `cp /dev/stdin`, restart containerd.
-- kina's own create step code (Cluster:configure_containerd) on a world, with the cluster config
-- loaded from a kind YAML file (default: kind's local-registry guide): the node's exec and copy
-- go to the world; `systemctl restart containerd` restarts the world's daemon, which waits for
-- its socket, so kina's socket poll is answered from that.
local function kina_configure(sched, world, config_file)
  local model = config_lib.load(config_file or "spec/fixtures/good-configs/kind-local-registry.yaml")
  local provider = {}
  function provider.exec(_, _, argv, opts)
    if argv[1] == "systemctl" and argv[2] == "restart" and argv[3] == "containerd" then
      world.restart()
      return { code = 0, stdout = "", stderr = "" }
    end
    if argv[1] == "test" and argv[2] == "-S" and argv[3] == "/run/containerd/containerd.sock" then
      return { code = 0, stdout = "", stderr = "" }
    end
    local r = world.exec(argv)
    if not (opts and opts.check == false) then
      assert(r.code == 0, world.name .. ": " .. table.concat(argv, " ") .. ": " .. r.stderr)
    end
    return r
  end
  function provider.copy_to(_, _, text, path) world.copy_to(text, path) end
  -- Apple's VMs: kina's preparation (the native snapshotter) applies
  function provider.capabilities() return { needs_node_preparation = true } end
  local c = cluster_lib.new{ config = model, provider = provider, scheduler = sched }
  c:configure_containerd("node")
  return world.exec{ "cat", containerd.CONFIG_PATH }.stdout
end

-- The values kina and the kubelet depend on in `containerd config dump`.
local function dump_values(world)
  local r = world.exec{ "containerd", "config", "dump" }
  assert(r.code == 0, world.name .. ": containerd config dump: " .. r.stderr)
  local doc = assert(toml.parse(r.stdout))
  local registry
  if doc.version == 2 then
    registry = ((doc.plugins or {})["io.containerd.grpc.v1.cri"] or {}).registry
  else
    registry = ((doc.plugins or {})["io.containerd.cri.v1.images"] or {}).registry
  end
  return {
    version = doc.version,
    snapshotter = containerd.snapshotter(r.stdout),
    config_path = registry and registry.config_path,
  }, r.stdout
end

-- kina's import argv for the node, from what the node tells kina.
local function kina_import_argv(world)
  local v = world.exec{ "containerd", "--version" }
  assert(v.code == 0, "containerd --version: " .. v.stderr)
  local version = assert(containerd.parse_version(v.stdout), "no version in " .. v.stdout)
  local snap = assert(containerd.snapshotter((world.exec{ "containerd", "config", "dump" }).stdout))
  return containerd.import_argv{ version = version, snapshotter = snap, platform = world.platform }
end

-- Import `bytes` with `argv` and describe everything kina and the kubelet would see after it:
-- the images and native snapshots the import added (a kindest/node comes with its own images),
-- and what the CRI answers for the form's lookup name.
local function import_outcome(world, argv, bytes, form)
  local function listing()
    local ls = world.exec{ "ctr", "-n", "k8s.io", "images", "ls", "-q" }
    local snaps = world.exec{ "ctr", "-n", "k8s.io", "snapshots", "--snapshotter", "native", "ls" }
    return ls.code == 0 and lines_of(undate(ls.stdout)) or ("ctr images ls failed: " .. ls.stderr),
      snaps.code == 0 and snapshot_keys(snaps.stdout) or ("ctr snapshots ls failed: " .. snaps.stderr)
  end
  local function added(before, after)
    if type(before) ~= "table" or type(after) ~= "table" then return type(after) == "string" and after or before end
    local seen, out = {}, {}
    for _, v in ipairs(before) do seen[v] = true end
    for _, v in ipairs(after) do if not seen[v] then out[#out + 1] = v end end
    return out
  end
  local names_before, snaps_before = listing()
  local r = world.exec(argv, bytes)
  local names_after, snaps_after = listing()
  return {
    code = r.code, stdout = undate(r.stdout), stderr = undate(r.stderr),
    names = added(names_before, names_after),
    native_snapshots = added(snaps_before, snaps_after),
    kubelet_lookup = world.lookup(form.lookup),
  }, r
end

local function ctr_import(variant_args)
  local argv = { "ctr", "--namespace=k8s.io", "images", "import" }
  for _, a in ipairs(variant_args) do argv[#argv + 1] = a end
  return argv
end

-- Each form's archive and description, built once (the same bytes in every world).
local ARCHIVES = {}
for _, form in ipairs(FORMS) do
  local bytes, desc = form.build()
  ARCHIVES[form.id] = { bytes = bytes, desc = desc }
end

---------------------------------------------------------------------------------------------

local sched = async.new()
local problem = O.problem(sched)
local cri_problem = not problem and O.cri_problem(sched) or nil
local LINES = problem and {} or O.lines(sched)
local by_name = {}
for _, l in ipairs(LINES) do by_name[l.name] = l end

-- Real outcomes, kept for the simulator cross-checks: key → outcome
local real_outcomes = {}

local function assert_ok_import(outcome, form, desc, what)
  assert.are.equal(0, outcome.code, what .. ": " .. outcome.stderr)
  assert.are.equal("", outcome.stderr, what)
  local first, top, config = stored_names(form, desc)
  local names = outcome.names
  assert.are.equal("table", type(names), what .. ": " .. tostring(names))
  assert.are.equal(3, #names, what .. ": " .. table.concat(names, " "))
  for _, want in ipairs{ first, config } do
    assert.is_true(table.concat(names, "\n"):find(want, 1, true) ~= nil, what .. ": " .. want .. " not in " .. table.concat(names, " "))
  end
  if top then
    assert.is_true(table.concat(names, "\n"):find(top, 1, true) ~= nil, what .. ": " .. top .. " not in " .. table.concat(names, " "))
  else -- docker-save: named by the manifest ctr writes for it
    local found = false
    for _, n in ipairs(names) do found = found or n:match("^import%-<date>@sha256:%x+$") ~= nil end
    assert.is_true(found, what .. ": no import-<date>@sha256: name in " .. table.concat(names, " "))
  end
  -- unpacked in the native snapshotter: one committed snapshot, the layer's chain ID
  assert.are.same({ desc.layer_digest }, outcome.native_snapshots, what)
  -- the kubelet's lookup
  if form.kubelet_name then
    assert.is_true(outcome.kubelet_lookup.found, what .. ": the CRI does not find " .. form.lookup)
    assert.are.same({ form.kubelet_name }, outcome.kubelet_lookup.repoTags, what)
    assert.are.equal(config, outcome.kubelet_lookup.id, what)
  else
    assert.is_false(outcome.kubelet_lookup.found, what .. ": the CRI finds " .. form.lookup)
  end
end

describe("containerd oracle:", function()
  after_each(cleanup_all)
  teardown(function()
    cleanup_all()
    sched:close()
  end)

  describe("fetch-containerd-2.sh", function()
    it("says SID UNREACHABLE and exits 2 when sid cannot be reached", function()
      if not uv.fs_stat("/usr/bin/apt-get") then pending("skipped: no apt-get here") return end
      local dir = assert(uv.fs_mkdtemp("/tmp/kina-oracle-fetch-XXXXXX"))
      finally(function() sched:exec{ argv = { "rm", "-rf", dir }, stdin = "" } end)
      -- a private apt configuration whose archive is a closed local port, and no lists
      for _, d in ipairs{ "/apt", "/apt/lists", "/apt/lists/partial", "/apt/cache", "/apt/cache/archives",
        "/apt/cache/archives/partial" } do assert(uv.fs_mkdir(dir .. d, 448)) end
      O.write(dir .. "/apt/sources.list", "deb [trusted=yes] http://127.0.0.1:9/debian sid main\n")
      local r = assert(sched:exec{ argv = { "sh", O.SUPPORT .. "/fetch-containerd-2.sh", dir .. "/containerd-2" },
        env = { KINA_SID_APT = dir .. "/apt" }, stdin = "", timeout = 120 })
      assert.are.equal(2, r.code, r.stdout .. r.stderr)
      assert.is_truthy(r.stderr:find("^SID UNREACHABLE: apt%-get download containerd from sid failed"), r.stderr)
      assert.is_falsy(uv.fs_stat(dir .. "/containerd-2"))
    end)

    it("reuses the copy it unpacked", function()
      if problem then pending("skipped: " .. problem) return end
      local line = by_name["2.x"]
      if not line or not line.bin then pending("containerd 2.x NOT TESTED: " .. tostring(line and line.skip or "no 2.x line")) return end
      local r = assert(sched:exec{ argv = { "sh", O.SUPPORT .. "/fetch-containerd-2.sh", O.CONTAINERD_2 }, stdin = "", timeout = 60 })
      assert.are.equal(0, r.code, r.stderr)
      assert.is_truthy(r.stdout:find("^containerd 2%.[%d.]+%S* already unpacked in "), r.stdout)
    end)
  end)

  describe("kina's in-node containerd steps on the real containerd", function()
    if problem then
      pending("skipped: " .. problem)
      return
    end

    for _, line in ipairs(LINES) do
      describe("containerd " .. line.name, function()
        if line.skip then
          -- loud on purpose: the 2.x line must not vanish silently
          pending(("containerd %s NOT TESTED: %s"):format(line.name, line.skip))
          io.stderr:write(("\n*** oracle_containerd: containerd %s NOT TESTED: %s ***\n"):format(line.name, line.skip))
          return
        end

        it("is the line it claims, and kina reads its version", function()
          local v = containerd.parse_version(line.version_output)
          assert.is_truthy(v, line.version_output)
          if line.name == "1.6" then
            assert.are.equal("1.6.20", v)
            assert.is_truthy(line.version_output:match("^containerd github%.com/containerd/containerd 1%.6%.20~ds1 "))
          else
            assert.is_truthy(v:match("^2%.%d+%.%d+$"), v)
            assert.is_truthy(line.version_output:match("^containerd github%.com/containerd/containerd/v2 2%.%d+%.%d+"))
          end
        end)

        it("with kind's config.toml and what kina writes, config dump and the running CRI show the registry config_path and snapshotter native", function()
          local w = real_world(sched, line)
          local server
          finally(function()
            if server and not server.done then server.proc:terminate(2); sched:await(server) end
          end)
          -- before: kind's file as shipped
          local before = dump_values(w)
          assert.are.equal("overlayfs", before.snapshotter)
          assert.are.equal("", before.config_path)

          local written = kina_configure(sched, w)
          assert.are.equal(written, w.exec{ "cat", containerd.CONFIG_PATH }.stdout)
          local after, dump = dump_values(w)
          assert.are.equal("native", after.snapshotter)
          assert.are.equal("/etc/containerd/certs.d", after.config_path)
          if line.name == "1.6" then
            assert.are.equal(2, after.version)
            assert.is_truthy(dump:find('\nimports = ["/etc/containerd/config.toml"]\n', 1, true))
            assert.is_truthy(dump:find('\n      snapshotter = "native"\n', 1, true))
            assert.is_truthy(dump:find('\n      config_path = "/etc/containerd/certs.d"\n', 1, true))
          else
            assert.are.equal(3, after.version) -- 2.x migrates kind's version 2 when it reads it
            assert.is_truthy(dump:find("\nimports = []\n", 1, true))
            assert.is_truthy(dump:find("\n    snapshotter = 'native'\n", 1, true))
            assert.is_truthy(dump:find("\n      config_path = '/etc/containerd/certs.d'\n", 1, true))
          end

          -- the running CRI: its image filesystem is the native snapshotter's ...
          if cri_problem then
            pending("the CRI checks need the CRI client: " .. cri_problem)
            return
          end
          assert.are.equal("io.containerd.snapshotter.v1.native", w.cri_snapshotter())
          if line.name == "1.6" then
            -- ... and 1.6's CRI status shows its whole config (2.x moved image settings out of it)
            local status = assert(w.daemon:cri("status"))
            assert.are.equal("native", status.config.containerd.snapshotter)
            assert.are.equal("/etc/containerd/certs.d", status.config.registry.configPath)
            assert.is_truthy(w.daemon:log():find("Start cri plugin with config {PluginConfig:{ContainerdConfig:{Snapshotter:native", 1, true))
          else
            assert.is_truthy(w.daemon:log():find('for snapshotter \\"native\\""', 1, true))
          end
          -- ... and a CRI pull goes where /etc/containerd/certs.d/<host>/hosts.toml sends it
          local port
          local requests = {}
          server = sched:spawn{ argv = { O.PYTHON, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1" }, stdin = "",
            on_stdout = function(l) port = port or l:match(" port (%d+) ") end,
            on_stderr = function(l) requests[#requests + 1] = l end }
          local deadline = uv.hrtime() + 30e9
          while not port do
            assert(not server.done and uv.hrtime() < deadline, "the probe registry did not start")
            sched:sleep(0.05)
          end
          assert.are.equal(0, w.exec{ "mkdir", "-p", "/etc/containerd/certs.d/oracle.invalid" }.code)
          w.copy_to(('server = "http://127.0.0.1:%s"\n\n[host."http://127.0.0.1:%s"]\n  capabilities = ["pull", "resolve"]\n')
            :format(port, port), "/etc/containerd/certs.d/oracle.invalid/hosts.toml")
          local pulled = assert(w.daemon:cri("pull", "oracle.invalid/probe:v1"))
          assert.are.equal("StatusCode.NOT_FOUND", pulled.code, pulled.error)
          server.proc:terminate(2)
          sched:await(server)
          assert.is_truthy(table.concat(requests, "\n"):find('"HEAD /v2/probe/manifests/v1?ns=oracle.invalid HTTP/1.1" 404', 1, true),
            "the CRI pull never reached the registry named in certs.d:\n" .. table.concat(requests, "\n"))
        end)

        it("does not see the old kina drop-ins under /etc/containerd/conf.d (no `imports` in kind's config.toml)", function()
          local w = real_world(sched, line, OLD_DROPINS)
          local values, dump = dump_values(w)
          assert.are.equal("overlayfs", values.snapshotter)
          assert.are.equal("", values.config_path)
          assert.is_falsy(dump:find("/etc/containerd/conf.d", 1, true))
          if not cri_problem then
            assert.are.equal("io.containerd.snapshotter.v1.overlayfs", w.cri_snapshotter())
          end
        end)

        it("needs no runc for config dump, the CRI plugin and kina's import", function()
          -- runc made unusable inside the daemon's namespace only (/dev/null over the binary),
          -- from its first start on
          local w = real_world(sched, line, nil, nil, { "/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc" })
          local runc = w.exec{ "runc", "--version" }
          assert.are_not.equal(0, runc.code, "runc still runs: " .. runc.stdout)
          kina_configure(sched, w)
          local plugins = w.exec{ "ctr", "plugins", "ls" }
          local cri = line.name == "1.6" and "io%.containerd%.grpc%.v1%s+cri%s+%S+%s+ok" or "io%.containerd%.cri%.v1%s+images%s+%S+%s+ok"
          assert.is_truthy(plugins.stdout:find(cri), plugins.stdout)
          assert.are.equal("native", (dump_values(w)).snapshotter)
          local archive = ARCHIVES["apple-save"]
          local r = w.exec(kina_import_argv(w), archive.bytes)
          assert.are.equal(0, r.code, r.stderr)
        end)

        it("gives the recorded outcome for every import argv variant and archive form (the matrix)", function()
          if cri_problem then pending("needs the CRI client: " .. cri_problem) return end
          for _, variant in ipairs(VARIANTS) do
            for _, form in ipairs(FORMS) do
              local archive = ARCHIVES[form.id]
              local what = ("containerd %s, %s, ctr ... import %s"):format(line.name, form.id, table.concat(variant.args, " "))
              local w = real_world(sched, line, nil, KINA_CONFIG)
              local ok, err = pcall(function()
                local outcome, raw = import_outcome(w, ctr_import(variant.args), archive.bytes, form)
                real_outcomes[line.name .. "|" .. variant.id .. "|" .. form.id] = outcome
                local failure = expected_failure(line.name, variant, form, archive.desc)
                if failure then
                  assert.are.same({ code = 1, stderr = failure }, { code = outcome.code, stderr = outcome.stderr }, what)
                  assert.are.same({}, outcome.names, what .. ": a failed import left images")
                  assert.are.same({}, outcome.native_snapshots, what)
                  if failure == NO_LOCAL then
                    assert.is_truthy(raw.stdout:find("^Incorrect Usage: flag provided but not defined: %-local\n\nNAME:\n   ctr images import %- import images\n"), what)
                  else
                    assert.are.equal("", outcome.stdout, what)
                  end
                else
                  assert_ok_import(outcome, form, archive.desc, what)
                end
              end)
              w.cleanup()
              if not ok then error(err, 0) end
            end
          end
        end)

        for _, form in ipairs(FORMS) do
          it(("imports the %s archive with kina's argv: under the kubelet's name, unpacked in native"):format(form.id), function()
            if cri_problem then pending("needs the CRI client: " .. cri_problem) return end
            local archive = ARCHIVES[form.id]
            local w = real_world(sched, line)
            kina_configure(sched, w)
            local argv = kina_import_argv(w)
            local outcome = import_outcome(w, argv, archive.bytes, form)
            real_outcomes[line.name .. "|kina|" .. form.id] = outcome
            assert_ok_import(outcome, form, archive.desc, ("containerd %s, %s, %s"):format(line.name, form.id, table.concat(argv, " ")))
          end)
        end
      end)
    end
  end)

  describe("the simulated kindest/node gives the real containerd 2.x outcome", function()
    local line = by_name["2.x"]
    if problem then pending("skipped: " .. problem) return end
    if not line or line.skip then
      local why = line and line.skip or "no 2.x line"
      pending("containerd 2.x NOT TESTED, so the simulator is not cross-checked: " .. why)
      return
    end
    if cri_problem then pending("skipped: " .. cri_problem) return end
    if not uv.fs_stat(SIM) then pending("skipped: no simulator at " .. SIM .. " (make all)") return end

    it("ships kind's config.toml: the same keys and values", function()
      local s = sim_world(sched)
      local r = s.exec{ "cat", containerd.CONFIG_PATH }
      assert.are.equal(0, r.code, r.stderr)
      assert.are.same(assert(toml.parse(KIND_CONFIG)), assert(toml.parse(r.stdout)))
    end)

    it("after kina's configuration: the same config dump values and CRI snapshotter", function()
      local w = real_world(sched, line)
      local s = sim_world(sched)
      kina_configure(sched, w)
      kina_configure(sched, s)
      assert.are.same((dump_values(w)), (dump_values(s)), "containerd config dump values after kina's configuration")
      assert.are.same(w.cri_snapshotter(), s.cri_snapshotter(), "the CRI image filesystem's snapshotter")
    end)

    it("with the old conf.d drop-ins: the same (ignored) values", function()
      local w = real_world(sched, line, OLD_DROPINS)
      local s = sim_world(sched)
      assert.are.equal(0, s.exec{ "mkdir", "-p", "/etc/containerd/conf.d" }.code)
      for name, text in pairs(OLD_DROPINS) do s.copy_to(text, "/etc/containerd/" .. name) end
      s.restart()
      assert.are.same((dump_values(w)), (dump_values(s)), "containerd config dump values with the old drop-ins")
      assert.are.same(w.cri_snapshotter(), s.cri_snapshotter(), "the CRI image filesystem's snapshotter")
    end)

    for _, form in ipairs(FORMS) do
      it(("imports the %s archive with kina's argv as the real containerd does"):format(form.id), function()
        local archive = ARCHIVES[form.id]
        local real = real_outcomes["2.x|kina|" .. form.id]
        if not real then
          local w = real_world(sched, line)
          kina_configure(sched, w)
          real = import_outcome(w, kina_import_argv(w), archive.bytes, form)
        end
        local s = sim_world(sched)
        kina_configure(sched, s)
        local simulated = import_outcome(s, kina_import_argv(s), archive.bytes, form)
        assert.are.same(real, simulated)
      end)
    end

    it("gives the real 2.x outcome for every matrix cell", function()
      local differences = {}
      for _, variant in ipairs(VARIANTS) do
        for _, form in ipairs(FORMS) do
          local archive = ARCHIVES[form.id]
          local argv = ctr_import(variant.args)
          local real = real_outcomes["2.x|" .. variant.id .. "|" .. form.id]
          if not real then
            local w = real_world(sched, line, nil, KINA_CONFIG)
            local ok, err = pcall(function() real = import_outcome(w, argv, archive.bytes, form) end)
            w.cleanup()
            if not ok then error(err, 0) end
          end
          local s = sim_world(sched)
          local ok, err = pcall(function()
            -- as the real daemon: kind's config.toml after kina's configuration
            kina_configure(sched, s)
            local simulated = import_outcome(s, argv, archive.bytes, form)
            local same = require("luassert.util").deepcompare(real, simulated, true)
            if not same then
              differences[#differences + 1] = ("%s %s:\n  real      %s\n  simulated %s"):format(form.id, table.concat(argv, " "),
                json.encode(real), json.encode(simulated))
            end
          end)
          s.cleanup()
          if not ok then error(err, 0) end
        end
      end
      assert(#differences == 0, #differences .. " matrix cells differ:\n" .. table.concat(differences, "\n"))
    end)
  end)
end)
