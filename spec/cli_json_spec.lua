-- `-o json` on every command that prints a result, through build/kina against the simulator:
-- one JSON document on stdout with the shape the README lists ("JSON output"), progress on
-- stderr, and nothing on stdout when the command ends in an ERROR.
local json = require "kina.json"
local World = dofile("spec/support/world.lua")

local TWO_NODES = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n"

local in_world = World.in_world

-- the one document on stdout (a single line), decoded
local function doc(r)
  assert(r.code == 0, r.stderr)
  assert.matches("^[^\n]+\n$", r.stdout)
  return json.decode(r.stdout)
end

local function names_of(list)
  local out = {}
  for i, n in ipairs(list) do out[i] = n.name end
  return out
end

describe("-o json", function()
  it("create, get nodes, stop, start, delete: each command's document, progress on stderr", function()
    local res = in_world({ prefix = "kina-json", cluster = "dev", config = TWO_NODES }, function(w)
      local out = {}
      out.create = w.kina{ "create", "cluster", "--name", "dev", "--config", w.config, "-o", "json" }
      out.nodes_after_create = w.kina{ "get", "nodes", "--name", "dev", "-o", "json" }
      out.stop = w.kina{ "stop", "cluster", "--name", "dev", "-o", "json" }
      out.stop_again = w.kina{ "stop", "cluster", "--name", "dev", "-o", "json" }
      out.start = w.kina{ "start", "cluster", "--name", "dev", "-o", "json" }
      out.nodes_after_start = w.kina{ "get", "nodes", "--name", "dev", "-o", "json" }
      out.export = w.kina{ "export", "kubeconfig", "--name", "dev", "-o", "json" }
      out.delete = w.kina{ "delete", "cluster", "--name", "dev", "-o", "json" }
      out.delete_missing = w.kina{ "delete", "cluster", "--name", "dev", "-o", "json" }
      out.kubeconfig = w.kubeconfig
      return out
    end)
    local created = doc(res.create)
    assert.equal("dev", created.name)
    assert.equal("kina-dev", created.context)
    assert.equal(res.kubeconfig, created.kubeconfig)
    -- the nodes as `get nodes -o json` shows them, right after the create
    assert.same(doc(res.nodes_after_create), created.nodes)
    assert.same({ "dev-control-plane", "dev-worker" }, names_of(created.nodes))
    local api
    for _, p in ipairs(created.nodes[1].ports) do if p.container_port == 6443 then api = p end end
    assert.is_not_nil(api, res.create.stdout)
    assert.equal("127.0.0.1", api.host_address)
    -- progress and the usage hint on stderr only
    assert.truthy(res.create.stderr:find('Creating cluster "dev"', 1, true), res.create.stderr)
    assert.is_nil(res.create.stdout:find("kubectl cluster-info", 1, true))

    assert.same({ name = "dev", nodes = { "dev-control-plane", "dev-worker" }, stopped = { "dev-control-plane", "dev-worker" } },
      doc(res.stop))
    assert.same({ name = "dev", nodes = { "dev-control-plane", "dev-worker" }, stopped = {} }, doc(res.stop_again))

    local started = doc(res.start)
    assert.equal("dev", started.name)
    assert.equal("kina-dev", started.context)
    assert.equal(res.kubeconfig, started.kubeconfig)
    assert.same(doc(res.nodes_after_start), started.nodes)
    -- each IP change is a line of `changes`, from the IPs before and after
    local want = {}
    for i, before in ipairs(created.nodes) do
      local now = started.nodes[i]
      if now.ip ~= before.ip then
        want[#want + 1] = ("node %s: IP %s (was %s)"):format(now.name, now.ip:gsub("/%d+$", ""), (before.ip:gsub("/%d+$", "")))
      end
    end
    assert.is_true(#want > 0, "every start gives Apple's containers new IPs")
    assert.same(want, started.changes)
    assert.is_table(started.repairs)

    assert.same({ name = "dev", context = "kina-dev", kubeconfig = res.kubeconfig }, doc(res.export))
    assert.same({ name = "dev", nodes = { "dev-control-plane", "dev-worker" } }, doc(res.delete))
    -- deleting a missing cluster is not an error (kind's "like rm -f"): no nodes
    assert.same({ name = "dev", nodes = {} }, doc(res.delete_missing))
  end)

  it("load docker-image and load image-archive: a result per node", function()
    local res = in_world({ prefix = "kina-json", cluster = "kina", config = TWO_NODES }, function(w)
      local out = { tar = w.dir .. "/app.tar" }
      local created = w.kina{ "create", "cluster", "--config", w.config }
      assert(created.code == 0, created.stderr)
      assert(w.sim{ "image", "pull", "registry.example/web:2" }.code == 0)
      out.first = w.kina{ "load", "docker-image", "registry.example/web:2", "--nodes", "kina-worker", "-o", "json" }
      out.again = w.kina{ "load", "docker-image", "registry.example/web:2", "-o", "json" }
      assert(w.sim{ "image", "pull", "registry.example/app:1" }.code == 0)
      assert(w.sim{ "image", "save", "--output", out.tar, "registry.example/app:1" }.code == 0)
      out.archive = w.kina{ "load", "image-archive", out.tar, "-o", "json" }
      out.missing = w.kina{ "load", "docker-image", "registry.example/none:1", "-o", "json" }
      return out
    end)
    assert.same({ name = "kina", images = { "registry.example/web:2" }, nodes = { { name = "kina-worker", result = "loaded" } } },
      doc(res.first))
    assert.same({ name = "kina", images = { "registry.example/web:2" },
      nodes = { { name = "kina-control-plane", result = "loaded" }, { name = "kina-worker", result = "present" } } }, doc(res.again))
    assert.same({ name = "kina", archives = { res.tar },
      nodes = { { name = "kina-control-plane", result = "loaded" }, { name = "kina-worker", result = "loaded" } } }, doc(res.archive))
    -- an ERROR: exit 1, the message on stderr, stdout empty
    assert.equal(1, res.missing.code, res.missing.stderr)
    assert.equal("", res.missing.stdout)
    assert.truthy(res.missing.stderr:find("ERROR: image: ", 1, true), res.missing.stderr)
  end)

  it("delete clusters: which were deleted and which failed, also when the exit status is 1", function()
    local res = in_world({ prefix = "kina-json", cluster = "a" }, function(w)
      local out = {}
      for _, name in ipairs{ "a", "b" } do
        local r = w.kina{ "create", "cluster", "--name", name }
        assert(r.code == 0, r.stderr)
      end
      out.named = w.kina{ "delete", "clusters", "b", "-o", "json" }
      local r = w.kina{ "create", "cluster", "--name", "b" }
      assert(r.code == 0, r.stderr)
      out.all = w.kina{ "delete", "clusters", "--all", "-o", "json" }
      r = w.kina{ "create", "cluster", "--name", "c" }
      assert(r.code == 0, r.stderr)
      r = w.kina{ "create", "cluster", "--name", "d" }
      assert(r.code == 0, r.stderr)
      -- Apple's CLI refuses to delete c's node: c fails, d is still deleted
      out.failing = w.kina({ "delete", "clusters", "c", "d", "-o", "json" }, { KINA_SIM_FAIL = "delete:c-*" })
      return out
    end)
    assert.same({ deleted = { "b" }, failed = {} }, doc(res.named))
    assert.same({ deleted = { "a", "b" }, failed = {} }, doc(res.all))
    assert.equal(1, res.failing.code, res.failing.stderr)
    assert.matches("^[^\n]+\n$", res.failing.stdout)
    local d = json.decode(res.failing.stdout)
    assert.same({ "d" }, d.deleted)
    assert.equal(1, #d.failed)
    assert.equal("c", d.failed[1].name)
    assert.truthy(res.failing.stderr:find(('failed to delete cluster "c": %s'):format(d.failed[1].error), 1, true), res.failing.stderr)
  end)

  it("version: the fields of `kina version`'s line", function()
    local res = in_world({ prefix = "kina-json" }, function(w)
      return { text = w.kina{ "version" }, json = w.kina{ "version", "-o", "json" } }
    end)
    local d = doc(res.json)
    assert.equal(("kina v%s %s %s/%s\n"):format(d.version, d.lua, d.os, d.arch), res.text.stdout)
  end)

  it("doctor: ok and one entry per check", function()
    local res = in_world({ prefix = "kina-json" }, function(w) return w.kina{ "doctor", "-o", "json" } end)
    assert.matches("^[^\n]+\n$", res.stdout)
    local d = json.decode(res.stdout)
    assert.is_boolean(d.ok)
    assert.equal(d.ok and 0 or 1, res.code, res.stderr)
    assert.is_true(#d.checks > 0)
    for _, c in ipairs(d.checks) do
      assert.is_string(c.name)
      assert.truthy(c.status == "ok" or c.status == "warn" or c.status == "fail", c.status)
      assert.is_string(c.message)
    end
  end)

  it("export logs: the directory and what was not collected, at the end", function()
    local res = in_world({ prefix = "kina-json", cluster = "kina" }, function(w)
      local out = { dir = w.dir .. "/logs" }
      local r = w.kina{ "create", "cluster" }
      assert(r.code == 0, r.stderr)
      out.export = w.kina{ "export", "logs", out.dir, "-o", "json" }
      return out
    end)
    local d = doc(res.export)
    assert.equal("kina", d.name)
    assert.equal(res.dir, d.dir)
    assert.is_table(d.not_collected)
  end)

  it("an ERROR leaves stdout empty: a failed create, start or stop of a missing cluster", function()
    local res = in_world({ prefix = "kina-json", cluster = "kina" }, function(w)
      return {
        create = w.kina({ "create", "cluster", "-o", "json" }, { KINA_SIM_FAIL = "exec:kubeadm init" }),
        start = w.kina{ "start", "cluster", "--name", "nope", "-o", "json" },
        stop = w.kina{ "stop", "cluster", "--name", "nope", "-o", "json" },
        logs = w.kina{ "export", "logs", "--name", "nope", "-o", "json" },
      }
    end)
    for _, k in ipairs{ "create", "start", "stop", "logs" } do
      assert.equal(1, res[k].code, k .. ": " .. res[k].stderr)
      assert.equal("", res[k].stdout, k)
      assert.truthy(res[k].stderr:find("ERROR: ", 1, true), k .. ": " .. res[k].stderr)
    end
  end)

  it("an output format a command does not offer is a usage error (exit 2)", function()
    local res = in_world({ prefix = "kina-json" }, function(w)
      return { stop = w.kina{ "stop", "cluster", "-o", "yaml" }, run = w.kina{ "completion", "bash", "-o", "json" } }
    end)
    assert.equal(2, res.stop.code)
    assert.truthy(res.stop.stderr:find('unknown output format "yaml" (want json)', 1, true), res.stop.stderr)
    assert.equal("", res.stop.stdout)
    assert.equal(2, res.run.code)
    assert.equal("", res.run.stdout)
  end)
end)
