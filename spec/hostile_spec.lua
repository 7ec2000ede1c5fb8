-- Bad and hostile input through the real CLI (build/kina against the simulator).
--
-- Every broken config in spec/fixtures/bad-configs/ makes `kina create cluster --config F` exit 1
-- with the fixture's expected message before any container command runs (the simulator's argv
-- log stays empty). Names, labels, mount paths, a kernel path and image references holding
-- spaces, quotes, `$(...)`, backticks, ';', newlines and non-ASCII either are refused with a
-- message naming the field (and run nothing), or reach Apple's CLI as exactly one argv element,
-- verbatim (checked in the simulator's log).
local uv = require "luv"
local json = require "kina.json"
local async = require "kina.async"
local World = dofile("spec/support/world.lua")

local ROOT, KINA, SIM = World.ROOT, World.KINA, World.SIM
local BAD = "spec/fixtures/bad-configs/"
-- A config script that loops is stopped by kina itself; this only bounds a kina that hangs.
local TIMEOUT_MS = 60000

local HOSTILE = {
  "with space", "it's", 'say "hi"', "$(id)", "`id`", "a;reboot", "line\nbreak", "non-ascii-é", "日本",
}

local slurp = World.read

local spit = World.write

local function list_dir(dir) return World.list_dir(dir, "file") end

-- Control characters written as escapes, as kina's messages show them.
local function escape_controls(s)
  return (s:gsub("%c", function(c)
    if c == "\n" then return "\\n" elseif c == "\t" then return "\\t" elseif c == "\r" then return "\\r" end
    return ("\\x%02x"):format(c:byte())
  end))
end

-- Whether a message shows `value` quoted, control characters escaped (inner quotes may or
-- may not be escaped: kina.config escapes them, kina.core.spec does not).
local function shows(msg, value)
  local plain = '"' .. escape_controls(value) .. '"'
  local escaped = '"' .. escape_controls(value:gsub('[\\"]', "\\%0")) .. '"'
  return msg:find(plain, 1, true) ~= nil or msg:find(escaped, 1, true) ~= nil
end

local function shown(s) return '"' .. escape_controls(s) .. '"' end

-- A YAML double-quoted scalar for s.
local function yq(s)
  return '"' .. s:gsub('[\\"]', "\\%0"):gsub("\n", "\\n") .. '"'
end

---------------------------------------------------------------------------------------------
-- Running build/kina: argv only, through kina's own process runner (kina.async), which also
-- bounds each run with a timeout.

-- The environment changes for a child: the simulator's fault switches and kina's cluster
-- name are never inherited (false unsets).
local function environment(changes)
  local env = {}
  for _, k in ipairs{ "KINA_CLUSTER_NAME", "KINA_SIM_FAIL", "KINA_SIM_HANG", "KINA_SIM_LATENCY", "KINA_SIM_SYSTEM",
    "KINA_SIM_VERSION", "KINA_SIM_MACOS", "KUBECONFIG", "KINA_SIM_LOG" } do
    env[k] = false
  end
  for k, v in pairs(changes) do env[k] = v end
  return env
end

-- Run argv; returns the runner's result {code, signal, stdout, stderr, timed_out, ...}.
local function run(argv, env, cwd)
  local sched <close> = async.new()
  local r, err = sched:exec{ argv = argv, env = env, cwd = cwd, timeout = TIMEOUT_MS / 1000 }
  assert(r, err)
  return r
end

-- A world: simulator state, HOME, kubeconfig and argv log in a fresh directory.
local function world()
  local dir = assert(uv.fs_mkdtemp("/tmp/kina-hostile-XXXXXX"))
  local w = { dir = dir, log = dir .. "/argv.log" }
  local base = {
    KINA_CONTAINER = SIM, KINA_SIM_STATE = dir .. "/state", KINA_SIM_LOG = w.log, HOME = dir,
    KUBECONFIG = dir .. "/kubeconfig", KINA_SIM_BOOT_DELAY = "10", KINA_SIM_READY_DELAY = "10", NO_COLOR = "1",
  }
  w.env = environment(base)
  function w.kina(args)
    local r = run({ KINA, table.unpack(args) }, w.env, ROOT)
    assert(not r.timed_out, "kina " .. table.concat(args, " ") .. " did not finish in " .. TIMEOUT_MS .. " ms")
    return r
  end
  function w.sim(args)
    local env = {}
    for k, v in pairs(base) do env[k] = v end
    env.KINA_SIM_LOG = false
    local r = run({ SIM, table.unpack(args) }, environment(env))
    assert(r.code == 0, "container " .. table.concat(args, " ") .. ": " .. r.stderr)
    return r.stdout
  end
  -- every argv the simulator was run with since the last reset, in order
  function w.calls()
    local out = {}
    for line in (slurp(w.log) or ""):gmatch("[^\n]+") do out[#out + 1] = json.decode(line) end
    return out
  end
  function w.reset_log() os.remove(w.log) end
  function w.close() os.execute("rm -rf '" .. dir:gsub("'", "'\\''") .. "'") end
  return w
end

local function calls_of(calls, verb)
  local out = {}
  for _, argv in ipairs(calls) do if argv[1] == verb then out[#out + 1] = argv end end
  return out
end

-- The element after `flag` in argv, for every occurrence.
local function values_of(argv, flag)
  local out = {}
  for i = 1, #argv - 1 do if argv[i] == flag then out[#out + 1] = argv[i + 1] end end
  return out
end

local function contains(list, value)
  for _, v in ipairs(list) do if v == value then return true end end
  return false
end

-- Refused: exit 1, the message names the field and shows the value, and nothing ran.
local function assert_refused(w, r, field, value)
  assert.are.equal(1, r.code, r.stderr)
  assert.truthy(r.stderr:find(field, 1, true), ("the message does not name %s: %s"):format(field, r.stderr))
  assert.is_true(shows(r.stderr, value), ("the message does not show %s: %s"):format(shown(value), r.stderr))
  -- the only line break is the one that ends the message
  assert.is_nil(r.stderr:gsub("\n$", ""):find("%c"), "a raw control character in: " .. r.stderr)
  -- a message for the user, not a Lua traceback or source position
  assert.is_nil(r.stderr:find("%.lua:%d+:"), r.stderr)
  assert.is_nil(r.stderr:find("stack traceback", 1, true), r.stderr)
end

describe("bad and hostile input through the kina CLI", function()
  describe("every config in spec/fixtures/bad-configs/", function()
    local w
    lazy_setup(function() w = world() end)
    lazy_teardown(function() if w then w.close() end end)

    local files = list_dir(BAD)
    it("is a set of at least 40", function()
      assert.is_true(#files >= 40, #files .. " fixtures")
    end)

    for _, name in ipairs(files) do
      it(name .. ": exit 1 with the expected message, no container command run", function()
        local path = BAD .. name
        local first = slurp(path):match("^[^\n]*")
        local expect = first:match("^%-%- expect: (.*)$") or first:match("^# expect: (.*)$")
        assert(expect, path .. ": the first line must be `# expect: ...` or `-- expect: ...`")
        -- "<path>: message", or "<path>:<line>: message" when the fixture names a line
        local want = path .. (expect:match("^%d") and ":" or ": ") .. expect
        w.reset_log()
        local r = w.kina{ "create", "cluster", "--config", path }
        assert.are.equal(1, r.code, r.stderr)
        assert.truthy(r.stderr:find(want, 1, true), ("expected %q in:\n%s"):format(want, r.stderr))
        assert.are.same({}, w.calls())
      end)
    end
  end)

  describe("hostile strings", function()
    local w
    lazy_setup(function()
      w = world()
      -- a cluster to load images into
      local r = w.kina{ "create", "cluster" }
      assert(r.code == 0, r.stderr)
      w.sim{ "image", "pull", "registry.example/app:1" }
    end)
    lazy_teardown(function() if w then w.close() end end)
    before_each(function() w.reset_log() end)

    for _, s in ipairs(HOSTILE) do
      describe(shown(s), function()
        it("is refused as --name, naming the flag, before any container command", function()
          local r = w.kina{ "create", "cluster", "--name", s }
          assert_refused(w, r, "name (from --name)", s)
          assert.are.same({}, w.calls())
        end)

        it("is refused in --image", function()
          local r = w.kina{ "create", "cluster", "--image", "kindest/node:" .. s }
          assert_refused(w, r, "--image", "kindest/node:" .. s)
          assert.are.same({}, w.calls())
        end)

        it("is refused in a config's name, label key, label value and node image, naming the path", function()
          local cases = {
            { "name: " .. yq(s) .. "\nnodes:\n- role: control-plane\n", "name", s },
            { "nodes:\n- role: control-plane\n  labels:\n    tier: " .. yq(s) .. "\n", "nodes[1].labels.tier", s },
            { "nodes:\n- role: control-plane\n  labels:\n    " .. yq(s) .. ": x\n", "nodes[1].labels[", s },
            { "nodes:\n- role: control-plane\n  image: " .. yq("kindest/node:" .. s) .. "\n", "nodes[1].image",
              "kindest/node:" .. s },
          }
          for i, case in ipairs(cases) do
            local cfg = ("%s/refused-%d.yaml"):format(w.dir, i)
            spit(cfg, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n" .. case[1])
            local r = w.kina{ "create", "cluster", "--config", cfg }
            assert_refused(w, r, cfg .. ": " .. case[2], case[3])
            assert.are.same({}, w.calls())
          end
        end)

        it("is refused as an image to `kina load docker-image`, or reaches Apple's CLI as one argument", function()
          local ref = "registry.example/app:" .. s
          local r = w.kina{ "load", "docker-image", ref }
          assert.are.equal(1, r.code, r.stderr)
          local inspected = false
          for _, argv in ipairs(w.calls()) do
            if contains(argv, ref) then
              assert.are.same({ "image", "inspect", ref }, argv)
              inspected = true
            end
            -- no piece of the value travels on its own
            for _, a in ipairs(argv) do
              if a ~= ref then assert.is_nil(a:find(s, 1, true), "a split value in " .. json.encode(argv)) end
            end
          end
          if inspected then
            assert.is_true(shows(r.stderr, ref), r.stderr) -- "not present locally"
          else
            assert_refused(w, r, "", ref)
          end
        end)
      end)
    end

    -- Values a path may hold: everything above but the newline (refused, see bad-configs/
    -- mount-host-newline.yaml); ':' and ',' cannot travel in `-v SRC:DST` and are refused.
    local PATH_SAFE = {}
    for _, s in ipairs(HOSTILE) do if not s:find("%c") then PATH_SAFE[#PATH_SAFE + 1] = s end end

    it("travel verbatim as one argv element in mount and kernel paths of a created cluster", function()
      local mounts, expected = {}, {}
      for i, s in ipairs(PATH_SAFE) do
        local host = ("%s/host %d %s"):format(w.dir, i, s)
        assert(uv.fs_mkdir(host, tonumber("755", 8)))
        local dst = "/mnt/" .. s
        local ro = i % 2 == 0
        mounts[#mounts + 1] = ("  - hostPath: %s\n    containerPath: %s\n%s"):format(yq(host), yq(dst),
          ro and "    readOnly: true\n" or "")
        expected[#expected + 1] = host .. ":" .. dst .. (ro and ":ro" or "")
      end
      local kernel = w.dir .. "/vmlinux " .. table.concat(PATH_SAFE, " ")
      spit(kernel, "not really a kernel")
      local cfg = w.dir .. "/hostile-paths.yaml"
      spit(cfg, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: paths\nkernel: " .. yq(kernel)
        .. "\nnodes:\n- role: control-plane\n  extraMounts:\n" .. table.concat(mounts))
      local r = w.kina{ "create", "cluster", "--config", cfg }
      assert.are.equal(0, r.code, r.stderr)
      local runs = calls_of(w.calls(), "run")
      assert.are.equal(1, #runs)
      assert.are.same(expected, values_of(runs[1], "-v"))
      assert.are.same({ kernel }, values_of(runs[1], "--kernel"))
      -- the node really has them (the simulator parsed each as one mount)
      local inspect = json.decode(w.sim{ "inspect", "paths-control-plane" })[1]
      local dests = {}
      for _, m in ipairs(inspect.configuration.mounts) do dests[#dests + 1] = m.destination end
      for _, s in ipairs(PATH_SAFE) do assert.truthy(contains(dests, "/mnt/" .. s), json.encode(dests)) end
    end)

    it("refuses a newline in a mount path, naming the field", function()
      local cfg = w.dir .. "/newline-mount.yaml"
      spit(cfg, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraMounts:\n"
        .. "  - hostPath: " .. yq(w.dir .. "/a\nb") .. "\n    containerPath: /x\n")
      local r = w.kina{ "create", "cluster", "--config", cfg }
      assert_refused(w, r, cfg .. ": nodes[1].extraMounts[1].hostPath", w.dir .. "/a\nb")
      assert.are.same({}, w.calls())
    end)

    it("streams image archives whose paths hold them without putting the path in any argv", function()
      local archives = {}
      for i, s in ipairs(HOSTILE) do
        local tar = ("%s/archive %d %s.tar"):format(w.dir, i, s)
        w.sim{ "image", "save", "--output", tar, "registry.example/app:1" }
        archives[#archives + 1] = tar
      end
      w.reset_log()
      local args = { "load", "image-archive" }
      for _, tar in ipairs(archives) do args[#args + 1] = tar end
      local r = w.kina(args)
      assert.are.equal(0, r.code, r.stderr)
      local imports = 0
      for _, argv in ipairs(w.calls()) do
        for _, a in ipairs(argv) do
          for _, s in ipairs(HOSTILE) do assert.is_nil(a:find(s, 1, true), "a path in " .. json.encode(argv)) end
        end
        if argv[1] == "exec" and contains(argv, "import") then
          imports = imports + 1
          assert.are.equal("-", argv[#argv]) -- read from stdin
        end
      end
      assert.are.equal(#archives, imports)
      local images = w.sim{ "exec", "kina-control-plane", "crictl", "images" }
      assert.truthy(images:find("registry.example/app", 1, true), images)

      -- a missing archive is named in the error, shown as the user wrote it
      local missing = w.dir .. "/missing $(id);`id`.tar"
      w.reset_log()
      r = w.kina{ "load", "image-archive", missing }
      assert.are.equal(1, r.code)
      assert.truthy(r.stderr:find(missing, 1, true), r.stderr)
      assert.are.same({}, calls_of(w.calls(), "exec"))
    end)
  end)
end)
