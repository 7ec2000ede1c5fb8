-- kina.provider.podman against real podman (and Docker where an engine exists), through the
-- shared conformance suite (spec/support/provider_conformance.lua) and what is this
-- provider's own: kind's node flags, real /etc/hosts and mounts, the /var volume, cleanup.
local async = require "kina.async"
local podman = require "kina.provider.podman"
local common = require "kina.provider.common"
local conformance = dofile("spec/support/provider_conformance.lua")
local Runtime = dofile("spec/support/linux_runtime.lua")

local function has(argv, ...)
  local want = { ... }
  for i = 1, #argv - #want + 1 do
    local all = true
    for j, w in ipairs(want) do if argv[i + j - 1] ~= w then all = false end end
    if all then return true end
  end
  return false
end

describe("podman provider's run argv (no runtime needed)", function()
  it("follows kind's podman node flags", function()
    local sched <close> = async.new()
    local p = podman.new{ scheduler = sched, binary = "podman" }
    local argv = p:run_argv{ name = "k-control-plane", cluster = "k", role = "control-plane", image = "localhost/node:1",
      api_server = { address = "127.0.0.1", port = 16443 }, env = { A = "b" } }
    assert.same({ "podman", "run", "--name", "k-control-plane", "--hostname", "k-control-plane",
      "--label", "io.kina.role=control-plane", "--privileged", "--tmpfs", "/tmp", "--tmpfs", "/run",
      "--volume", "k-control-plane:/var:suid,exec,dev" }, { table.unpack(argv, 1, 15) })
    assert.is_true(has(argv, "-e", "container=podman"))
    assert.is_true(has(argv, "--detach", "--tty", "--label", "io.kina.cluster=k", "--net", "kina"))
    assert.is_true(has(argv, "--publish", "127.0.0.1:16443:6443"))
    assert.is_true(has(argv, "-e", "A=b"))
    assert.is_true(has(argv, "-e", "KUBECONFIG=/etc/kubernetes/admin.conf"))
    assert.equal("localhost/node:1", argv[#argv])
  end)

  it("gives Docker its own flags, and refuses Apple-only fields", function()
    local sched <close> = async.new()
    local d = podman.new{ scheduler = sched, binary = "/usr/bin/docker" }
    assert.equal("docker", d.runtime)
    local argv = d:run_argv{ name = "k-worker", cluster = "k", role = "worker", image = "img:1", network = "n1" }
    assert.is_true(has(argv, "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined"))
    assert.is_true(has(argv, "--volume", "/var"))
    assert.is_true(has(argv, "--net", "n1", "--restart=on-failure:1", "--init=false", "--cgroupns=private"))
    assert.is_false(has(argv, "-e", "KUBECONFIG=/etc/kubernetes/admin.conf"))
    local ok, err = pcall(d.run_argv, d, { name = "k-worker", cluster = "k", role = "worker", image = "img:1", kernel = "/k" })
    assert.is_false(ok)
    assert.is_true(common.is_error(err))
    assert.matches("kernel: podman and Docker nodes run on the host's kernel", tostring(err))
    assert.has_error(function() podman.new{ scheduler = sched, binary = "nerdctl" } end)
  end)
end)

local counter = 0
for _, binary in ipairs{ "podman", "docker" } do
  describe(binary .. " for real", function()
    local rt, why
    setup(function() rt, why = Runtime.open(binary) end)
    teardown(function() if rt then rt.close() end end)

    local function new_world()
      if not rt then return nil, why end
      counter = counter + 1
      local cluster = ("kps%d%d"):format(os.time() % 1000, counter)
      local sched = async.new({ max = 16 })
      local w = { sched = sched, runtime = binary, image = Runtime.IMAGE, cluster = cluster,
        missing_image = "localhost:5999/kina/none:0", rt = rt }
      w.provider = podman.new{ scheduler = sched, binary = binary, env = rt.env }
      function w.close()
        rt.remove_cluster(cluster)
        rt.remove_cluster(cluster .. "x")
        sched:close()
      end
      return w
    end

    conformance.run(_ENV, binary, new_world)

    describe("what is " .. binary .. "'s own", function()
      local w
      before_each(function() w = new_world() end)
      after_each(function() if w then w.close() end end)

      it("runs nodes privileged, with tmpfs /tmp and /run, /var on the node's volume, real /etc/hosts", function()
        if not w then pending(why) return end
        local p = w.provider
        local name = p:create{ name = w.cluster .. "-control-plane", cluster = w.cluster, role = "control-plane", image = w.image }
        local _, privileged = w.rt.sh("inspect --format '{{.HostConfig.Privileged}}' " .. name)
        assert.equal("true", privileged:gsub("%s+$", ""))
        local mounts = p:exec(name, { "cat", "/proc/mounts" }).stdout
        assert.matches("tmpfs /tmp ", mounts)
        assert.matches("tmpfs /run ", mounts)
        assert.matches(" /var ", mounts)
        local hosts = p:exec(name, { "cat", "/etc/hosts" }).stdout
        assert.matches(p:ip(name):gsub("%.", "%%.") .. "%s+" .. name:gsub("%-", "%%-"), hosts)
        assert.equal(name, (p:exec(name, { "cat", "/etc/hostname" }).stdout:gsub("%s+$", "")))
        assert.equal("/etc/kubernetes/admin.conf\n", p:exec(name, { "sh", "-c", "echo $KUBECONFIG" }).stdout)
        p:copy_to(name, "x", "/tmp/mode", { mode = "0750" })
        assert.matches("^%-rwxr%-x%-%-%-", p:exec(name, { "ls", "-l", "/tmp/mode" }).stdout)
        p:delete(name)
        assert.same({}, w.rt.leftovers(w.cluster))
      end)

      it("leaves nothing behind when a run fails", function()
        if not w then pending(why) return end
        local p = w.provider
        -- the image does not exist: volume made, run refused, both gone
        local ok, err = pcall(p.create, p, { name = w.cluster .. "-worker", cluster = w.cluster, role = "worker",
          image = "localhost:5999/kina/none:0" })
        assert.is_false(ok)
        assert.is_true(common.is_error(err))
        assert.equal("run", err.op)
        assert.same({}, w.rt.leftovers(w.cluster))
      end)
    end)
  end)
end
