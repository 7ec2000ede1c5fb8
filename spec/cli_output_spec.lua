-- What the commands print and how they exit, through build/kina against the simulator: the
-- `get nodes` table, -v's runtime calls, `export logs` after a kept failed create and for a
-- missing cluster, a hung cleanup that says what it waits for, and what --name defaults to.
local json = require "kina.json"
local uv = require "luv"
local World = dofile("spec/support/world.lua")

local function has(text, s) assert.truthy(text:find(s, 1, true), ("%q not in:\n%s"):format(s, text)) end
local function lacks(text, s) assert.is_nil(text:find(s, 1, true), ("%q in:\n%s"):format(s, text)) end

local in_world = World.in_world

describe("kina's output", function()
  it("get nodes: a header row naming kina's columns, then one row per node", function()
    local r = in_world({ prefix = "kina-out", cluster = "kina" }, function(w)
      local created = w.kina{ "create", "cluster" }
      assert(created.code == 0, created.stderr)
      return w.kina{ "get", "nodes" }
    end)
    assert.equal(0, r.code, r.stderr)
    assert.matches("^NAME%s+ROLE%s+STATE%s+IP\nkina%-control%-plane%s+control%-plane%s+running%s+192%.168%.64%.%d+\n$", r.stdout)
  end)

  it("-v shows each call of Apple's CLI during a create, how it ended and how long it took", function()
    local res = in_world({ prefix = "kina-out", cluster = "kina" }, function(w)
      return { verbose = w.kina{ "-v", "create", "cluster" }, deleted = w.kina{ "delete", "cluster" },
        plain = w.kina{ "create", "cluster" } }
    end)
    assert.equal(0, res.verbose.code, res.verbose.stderr)
    local err = res.verbose.stderr
    assert.matches("DEBUG: %S+/container run %-d %-%-name kina%-control%-plane [^\n]*: exit 0 in %d+%.%d%ds\n", err)
    assert.matches("DEBUG: %S+/container exec kina%-control%-plane kubeadm init [^\n]*: exit 0 in %d+%.%d%ds\n", err)
    assert.matches("DEBUG: %S+/container list %-%-all %-%-format json: exit 0 in %d+%.%d%ds\n", err)
    -- between the step lines, as the calls happen
    assert.matches("Starting control%-plane[^\n]*\nDEBUG: [^\n]*kubeadm init", err)
    assert.equal(0, res.plain.code, res.plain.stderr)
    lacks(res.plain.stderr, "DEBUG:")
  end)

  it("-v shows the calls of stop, start and load too", function()
    local res = in_world({ prefix = "kina-out", cluster = "kina" }, function(w)
      local out = { create = w.kina{ "create", "cluster" } }
      out.stop = w.kina{ "-v", "stop", "cluster" }
      out.start = w.kina{ "-v", "start", "cluster" }
      return out
    end)
    for _, k in ipairs{ "create", "stop", "start" } do assert.equal(0, res[k].code, res[k].stderr) end
    assert.matches("DEBUG: %S+/container stop %-%-time 30 kina%-control%-plane: exit 0 in %d+%.%d%ds\n", res.stop.stderr)
    assert.matches("DEBUG: %S+/container start kina%-control%-plane: exit 0 in %d+%.%d%ds\n", res.start.stderr)
  end)

  it("export logs after a failed create kept with --retain: exit 0, naming what the nodes did not have yet", function()
    local res = in_world({ prefix = "kina-out", cluster = "kina" }, function(w)
      local out = { dir = w.dir .. "/logs" }
      out.create = w.kina({ "create", "cluster", "--retain" }, { KINA_SIM_FAIL = "exec:kubeadm init" })
      out.export = w.kina{ "export", "logs", out.dir }
      out.serial = World.read(out.dir .. "/kina-control-plane/serial.log")
      out.journal = World.read(out.dir .. "/kina-control-plane/journal.log")
      return out
    end)
    assert.equal(1, res.create.code, res.create.stderr)
    has(res.create.stderr, "the nodes were kept (--retain)")
    assert.equal(0, res.export.code, res.export.stderr)
    assert.equal(res.dir .. "\n", res.export.stdout)
    -- kubeadm init never ran through: no admin.conf for kubectl, no kubelet config yet
    has(res.export.stderr, "WARNING: not collected")
    has(res.export.stderr, "kina-control-plane/kubectl-get-nodes.txt")
    has(res.export.stderr, "kina-control-plane/kubelet-config.yaml")
    lacks(res.export.stderr, "ERROR:")
    assert.is_not_nil(res.serial)
    assert.is_not_nil(res.journal)
  end)

  it("export logs for a missing cluster: exit 1, and no directory left behind", function()
    local res = in_world({ prefix = "kina-out", cluster = "nope" }, function(w)
      local tmp = w.dir .. "/tmp"
      assert(uv.fs_mkdir(tmp, 448))
      local out = { named = w.dir .. "/named" }
      out.default = w.kina({ "export", "logs", "--name", "nope" }, { TMPDIR = tmp })
      out.given = w.kina{ "export", "logs", out.named, "--name", "nope" }
      out.tmp = World.list_dir(tmp)
      out.named_exists = uv.fs_stat(out.named) ~= nil
      return out
    end)
    assert.equal(1, res.default.code, res.default.stderr)
    has(res.default.stderr, 'ERROR: unknown cluster "nope"')
    assert.equal("", res.default.stdout)
    assert.same({}, res.tmp)
    assert.equal(1, res.given.code, res.given.stderr)
    assert.is_false(res.named_exists)
  end)

  it("a failed create whose cleanup hangs says which call it waits for", function()
    local res = in_world({ prefix = "kina-out", cluster = "kina",
      env = { KINA_SIM_FAIL = "exec:kubeadm init", KINA_SIM_HANG = "delete", KINA_CONTAINER_TIMEOUT = "8" } }, function(w)
      return w.kina{ "create", "cluster" }
    end)
    assert.equal(1, res.code, res.stderr)
    -- after the failed step's line, before the cleanup's end: the hung `container delete`
    assert.matches("✗ Starting control%-plane[^\n]*\nwaiting for `%S+/container delete %-%-force kina%-control%-plane` %(no answer after %d+s%) %.%.%.\n",
      res.stderr)
    has(res.stderr, "cleanup was incomplete")
  end)

  it("a failed create points to --retain for the logs, since its nodes are deleted; with --retain to export logs", function()
    local res = in_world({ prefix = "kina-out", cluster = "kina" }, function(w)
      return { deleted = w.kina({ "create", "cluster" }, { KINA_SIM_FAIL = "exec:kubeadm init" }),
        kept = w.kina({ "create", "cluster", "--retain" }, { KINA_SIM_FAIL = "exec:kubeadm init" }) }
    end)
    assert.equal(1, res.deleted.code, res.deleted.stderr)
    has(res.deleted.stderr, "Deleted nodes:")
    has(res.deleted.stderr, "hint: the nodes are deleted after a failure: run the create again with --retain to keep them, then `kina export logs --name kina`")
    assert.equal(1, res.kept.code, res.kept.stderr)
    has(res.kept.stderr, "hint: see the whole story with `kina export logs --name kina`")
    lacks(res.kept.stderr, "--retain to keep them")
  end)

  it("a create that fails before making anything says nothing of deleted nodes", function()
    local res = in_world({ prefix = "kina-out", cluster = "kina" }, function(w)
      local first = w.kina{ "create", "cluster" }
      assert(first.code == 0, first.stderr)
      return w.kina{ "create", "cluster" } -- the name is in use: preflight fails
    end)
    assert.equal(1, res.code, res.stderr)
    has(res.stderr, 'node(s) already exist for a cluster with the name "kina"')
    lacks(res.stderr, "Deleted nodes")
  end)

  it("--name: the flag, else $KINA_CLUSTER_NAME, else the config's name, else kina", function()
    local res = in_world({ prefix = "kina-out", cluster = "fromenv", config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: fromconfig\n" },
      function(w)
        local out = {}
        out.env = w.kina({ "create", "cluster", "--config", w.config }, { KINA_CLUSTER_NAME = "fromenv" })
        out.env_nodes = w.kina({ "get", "nodes", "-o", "json" }, { KINA_CLUSTER_NAME = "fromenv" })
        out.config = w.kina{ "create", "cluster", "--config", w.config }
        out.flag = w.kina({ "create", "cluster", "--config", w.config, "--name", "fromflag" }, { KINA_CLUSTER_NAME = "fromenv" })
        out.default = w.kina{ "create", "cluster" }
        out.clusters = w.kina{ "get", "clusters", "-o", "json" }
        return out
      end)
    for _, k in ipairs{ "env", "config", "flag", "default" } do assert.equal(0, res[k].code, res[k].stderr) end
    has(res.env.stderr, 'Creating cluster "fromenv"')
    has(res.env_nodes.stdout, '"name":"fromenv-control-plane"')
    has(res.config.stderr, 'Creating cluster "fromconfig"')
    has(res.flag.stderr, 'Creating cluster "fromflag"')
    has(res.default.stderr, 'Creating cluster "kina"')
    local names = {}
    for i, c in ipairs(json.decode(res.clusters.stdout)) do names[i] = c.name end
    assert.same({ "fromconfig", "fromenv", "fromflag", "kina" }, names)
  end)
end)
