-- kina.loadbalancer: the API server's load balancer of a cluster with several control planes.
-- Its loop (kina-apiserver-lb) runs under the real bash: with stand-ins for the programs around
-- it, to see what it asks for; and in a network namespace with the real sysctl, iptables-nft and
-- iptables-nft-restore (root and `ip netns`; skipped with the reason otherwise), to see that the
-- kernel's nat table gets exactly the rules meant — the same text the node's iptables prints.
-- getent and curl stay stand-ins there: they answer for control planes that do not exist here.
local async = require "kina.async"
local loadbalancer = require "kina.loadbalancer"
local uv = require "luv"
local Netns = dofile("spec/support/netns.lua")
local World = dofile("spec/support/world.lua")

local function write_exe(path, text)
  World.write(path, text)
  assert(uv.fs_chmod(path, tonumber("755", 8)))
end

-- A directory with the script and stand-ins: getent answers from $STUB_HOSTS ("IP NAME"
-- lines), curl succeeds for the addresses in $STUB_HEALTHY; with `fake_netfilter`, sysctl,
-- iptables-nft and iptables-nft-restore record what they are asked into $STUB_LOG.
local function bench_dir(fake_netfilter)
  local dir = assert(uv.fs_mkdtemp("/tmp/kina-lb-spec-XXXXXX"))
  uv.fs_mkdir(dir .. "/bin", 493)
  write_exe(dir .. "/kina-apiserver-lb", loadbalancer.SCRIPT)
  write_exe(dir .. "/bin/getent", [==[#!/bin/bash
[[ "$1" == ahostsv4 ]] || exit 2
while read -r ip name; do
  [[ "$name" == "$2" ]] && { printf '%s       STREAM %s\n%s       DGRAM  \n' "$ip" "$2" "$ip"; exit 0; }
done <"$STUB_HOSTS"
exit 2
]==])
  write_exe(dir .. "/bin/curl", [==[#!/bin/bash
url=${@: -1}
ip=${url#https://}; ip=${ip%%:*}
grep -qx -- "$ip" "$STUB_HEALTHY" && exit 0
exit 7
]==])
  if fake_netfilter then
    write_exe(dir .. "/bin/iptables-nft-restore", "#!/bin/bash\n{ echo \"restore $*\"; cat; } >>\"$STUB_LOG\"\n")
    write_exe(dir .. "/bin/iptables-nft", "#!/bin/bash\necho \"iptables $*\" >>\"$STUB_LOG\"\n[[ \" $* \" == *' -C '* ]] && exit 1\nexit 0\n")
    write_exe(dir .. "/bin/sysctl", "#!/bin/bash\necho \"sysctl $*\" >>\"$STUB_LOG\"\n")
  end
  return dir
end

local function run(sched, argv, env, netns)
  if netns then
    local e = { "env" }
    for k, v in pairs(env) do e[#e + 1] = k .. "=" .. v end
    for _, a in ipairs(argv) do e[#e + 1] = a end
    return netns.exec(e)
  end
  return assert(sched:exec{ argv = argv, env = env, stdin = "", timeout = 30 })
end

local function loop_once(sched, dir, backends, hosts, healthy, netns)
  World.write(dir .. "/backends", table.concat(backends, "\n") .. "\n")
  World.write(dir .. "/hosts", table.concat(hosts, "\n") .. "\n")
  World.write(dir .. "/healthy", table.concat(healthy, "\n") .. "\n")
  local path = dir .. "/bin:" .. (os.getenv("PATH") or "/usr/bin:/bin") .. ":/usr/sbin:/sbin"
  return run(sched, { "bash", dir .. "/kina-apiserver-lb", "--once" }, {
    PATH = path, KINA_APISERVER_LB_BACKENDS = dir .. "/backends", STUB_HOSTS = dir .. "/hosts",
    STUB_HEALTHY = dir .. "/healthy", STUB_LOG = dir .. "/log" }, netns)
end

local HOSTS = { "10.0.0.2 kx-control-plane", "10.0.0.3 kx-control-plane2", "10.0.0.4 kx-control-plane3" }
local CPS = { "kx-control-plane", "kx-control-plane2", "kx-control-plane3" }

describe("kina.loadbalancer", function()
  it("names the container as kind does and installs the loop with the control planes as backends", function()
    assert.equal("dev-external-load-balancer", loadbalancer.name("dev"))
    assert.equal("a\nb\nc\n", loadbalancer.backends_text{ "c", "a", "b" })
    assert.has_error(function() loadbalancer.backends_text{ "a; rm -rf /" } end)
    local b = loadbalancer.install_batch{ "kx-control-plane2", "kx-control-plane" }
    local argvs = {}
    for _, step in ipairs(b.steps) do argvs[#argvs + 1] = table.concat(step.argv, " ") .. (step.path and (" > " .. step.path) or "") end
    local text = table.concat(argvs, "\n")
    assert.truthy(text:find("mkdir -p /kind/kina-apiserver-lb\n", 1, true), text)
    assert.truthy(text:find("> " .. loadbalancer.BACKENDS_PATH, 1, true), text)
    assert.truthy(text:find("> " .. loadbalancer.UNIT_PATH, 1, true), text)
    assert.truthy(text:find("chmod 0755 " .. loadbalancer.SCRIPT_PATH, 1, true), text)
    assert.truthy(text:find("systemctl enable --now " .. loadbalancer.UNIT, 1, true), text)
    local c = { model = { name = "kx", network = "net", kernel = nil, registry_schemes = {} } }
    local d = loadbalancer.description(c, "kindest/node:v1.35.5", { address = "127.0.0.1", port = 6443 })
    assert.same({ name = "kx-external-load-balancer", cluster = "kx", role = "external-load-balancer",
      image = "kindest/node:v1.35.5", network = "net", api_server = { address = "127.0.0.1", port = 6443 } }, d)
  end)

  describe("its loop under the real bash", function()
    local function with_bench(fn)
      async.run(function(sched)
        local dir = bench_dir(true)
        local ok, err = pcall(fn, sched, dir)
        os.execute("rm -rf '" .. dir .. "'")
        if not ok then error(err, 0) end
      end)
    end

    it("spreads over the healthy control planes with kube-proxy's probabilities and masquerades", function()
      with_bench(function(sched, dir)
        local r = loop_once(sched, dir, CPS, HOSTS, { "10.0.0.2", "10.0.0.3", "10.0.0.4" })
        assert.equal(0, r.code, r.stderr)
        local log = World.read(dir .. "/log")
        assert.truthy(log:find("sysctl -q -w net.ipv4.ip_forward=1", 1, true), log)
        assert.truthy(log:find("iptables -t nat -A PREROUTING -p tcp --dport 6443 -j KINA-APISERVER", 1, true), log)
        assert.truthy(log:find("iptables -t nat -A POSTROUTING -j KINA-APISERVER-SNAT", 1, true), log)
        assert.truthy(log:find(table.concat({
          "restore --noflush", "*nat", ":KINA-APISERVER - [0:0]", ":KINA-APISERVER-SNAT - [0:0]",
          "-A KINA-APISERVER -p tcp -m statistic --mode random --probability 0.33333 -j DNAT --to-destination 10.0.0.2:6443",
          "-A KINA-APISERVER -p tcp -m statistic --mode random --probability 0.50000 -j DNAT --to-destination 10.0.0.3:6443",
          "-A KINA-APISERVER -p tcp -j DNAT --to-destination 10.0.0.4:6443",
          "-A KINA-APISERVER-SNAT -p tcp -m conntrack --ctstate DNAT --ctorigdstport 6443 -j MASQUERADE",
          "COMMIT" }, "\n"), 1, true), log)
        assert.truthy(r.stderr:find("control planes in service: kx-control-plane=10.0.0.2 kx-control-plane2=10.0.0.3 kx-control-plane3=10.0.0.4", 1, true), r.stderr)
      end)
    end)

    it("leaves out a control plane that does not answer, one it cannot resolve and a name that is no name", function()
      with_bench(function(sched, dir)
        local backends = { "kx-control-plane", "kx-control-plane2", "kx-control-plane3", "kx-gone", "$(touch pwned)" }
        local r = loop_once(sched, dir, backends, HOSTS, { "10.0.0.2", "10.0.0.4" })
        assert.equal(0, r.code, r.stderr)
        local log = World.read(dir .. "/log")
        assert.truthy(log:find("--probability 0.50000 -j DNAT --to-destination 10.0.0.2:6443\n-A KINA-APISERVER -p tcp -j DNAT --to-destination 10.0.0.4:6443\n", 1, true), log)
        assert.falsy(log:find("10.0.0.3", 1, true), log)
        assert.is_nil(World.read(dir .. "/pwned"))
        assert.is_nil(World.read("pwned"))
      end)
    end)

    it("empties the chain when no control plane answers, so connections are refused", function()
      with_bench(function(sched, dir)
        local r = loop_once(sched, dir, CPS, HOSTS, {})
        assert.equal(0, r.code, r.stderr)
        local log = World.read(dir .. "/log")
        assert.truthy(log:find(":KINA-APISERVER-SNAT - [0:0]\n-A KINA-APISERVER-SNAT", 1, true), log)
        assert.falsy(log:find("DNAT --to-destination", 1, true), log)
      end)
    end)
  end)

  describe("its loop against the real iptables-nft in a network namespace", function()
    local skip_reason
    local function with_netns(fn)
      async.run(function(sched)
        local s = Netns.session(sched)
        local usable, why = s.usable()
        if not usable then skip_reason = why; return end
        for _, prog in ipairs{ "iptables-nft", "iptables-nft-restore", "iptables-nft-save", "sysctl" } do
          if not Netns.which(prog) then skip_reason = prog .. " not found (Debian packages iptables, procps: make deps)"; return end
        end
        local ns = assert(s.create())
        local dir = bench_dir(false)
        local ok, err = pcall(fn, sched, dir, ns)
        os.execute("rm -rf '" .. dir .. "'")
        s.cleanup()
        if not ok then error(err, 0) end
      end)
    end

    it("writes the rules the kernel then lists, once, and replaces them when the healthy set changes", function()
      with_netns(function(sched, dir, ns)
        local r = loop_once(sched, dir, CPS, HOSTS, { "10.0.0.2", "10.0.0.3" }, ns)
        assert.equal(0, r.code, r.stderr)
        assert.equal("1", (ns.exec{ "sysctl", "-n", "net.ipv4.ip_forward" }.stdout:gsub("%s+$", "")))
        local saved = ns.exec{ "iptables-nft-save", "-t", "nat" }.stdout
        assert.truthy(saved:find(table.concat({
          "-A PREROUTING -p tcp -m tcp --dport 6443 -j KINA-APISERVER",
          "-A POSTROUTING -j KINA-APISERVER-SNAT",
          "-A KINA-APISERVER -p tcp -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.0.0.2:6443",
          "-A KINA-APISERVER -p tcp -j DNAT --to-destination 10.0.0.3:6443",
          "-A KINA-APISERVER-SNAT -p tcp -m conntrack --ctstate DNAT --ctorigdstport 6443 -j MASQUERADE" }, "\n"), 1, true), saved)
        -- a second run (the unit restarted) with another healthy set: the jumps stay single,
        -- the chain holds only the new backend
        r = loop_once(sched, dir, CPS, HOSTS, { "10.0.0.4" }, ns)
        assert.equal(0, r.code, r.stderr)
        saved = ns.exec{ "iptables-nft-save", "-t", "nat" }.stdout
        local _, jumps = saved:gsub("%-A PREROUTING %-p tcp %-m tcp %-%-dport 6443 %-j KINA%-APISERVER\n", "")
        assert.equal(1, jumps, saved)
        assert.truthy(saved:find("-A KINA-APISERVER -p tcp -j DNAT --to-destination 10.0.0.4:6443\n", 1, true), saved)
        assert.falsy(saved:find("10.0.0.2", 1, true), saved)
      end)
      if skip_reason then pending("skipped: " .. skip_reason) end
    end)
  end)
end)
