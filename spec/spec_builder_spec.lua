-- kina.core.spec: node descriptions in, `container run` argvs out, per CLI version.
local spec = require("kina.core.spec")

local function copy(t, extra)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  for k, v in pairs(extra or {}) do out[k] = v end
  return out
end

local function words(s)
  local out = {}
  for w in s:gmatch("%S+") do out[#out + 1] = w end
  return out
end

local function raises(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return err
end

local CONTROL_PLANE = {
  name = "kind-control-plane", cluster = "kind", role = "control-plane",
  image = "kindest/node:v1.35.5", cpus = 4, memory = "4G",
  api_server = { port = 6443 },
  env = { KUBECONFIG = "/etc/kubernetes/admin.conf" },
}

local WORKER = {
  name = "kind-worker2", cluster = "kind", role = "worker", image = "kindest/node:v1.35.5",
  cpus = 2, memory = "2048M", network = "kind",
  labels = { tier = "b", app = "a" },
  mounts = {
    { host_path = "/Users/me/src", container_path = "/src", readonly = true },
    { type = "tmpfs", container_path = "/run" },
    { type = "volume", host_path = "kina-cache", container_path = "/cache" },
  },
  ports = {
    { host_port = 8080, container_port = 80 },
    { host_address = "127.0.0.1", host_port = 8443, container_port = 443, protocol = "tcp" },
  },
  proxy = { HTTP_PROXY = "http://proxy:3128", HTTPS_PROXY = "http://proxy:3128", NO_PROXY = "localhost,127.0.0.1" },
  no_proxy_extra = { "10.244.0.0/16", "10.96.0.0/12", "localhost" },
}

local CP_PRIV = {
  ["0.7.1"] = "",
  ["0.8.0"] = "",
  ["0.12.0"] = "--cap-add ALL ",
  ["1.1.0"] = "--cap-add ALL ",
  ["1.2.1"] = "--cap-add ALL --masked-path NONE --read-only-path NONE ",
  ["1.2.2"] = "--cap-add ALL --masked-path NONE --read-only-path NONE ",
}

describe("kina.core.spec", function()
  it("passes a given scheme on every version, else http from 1.3.0 where --scheme auto sent http", function()
    local function tail(desc, version)
      local argv = spec.run_argv(desc, version)
      return table.concat(argv, " ", #argv - 2)
    end
    local lan = copy(CONTROL_PLANE, { image = "registry.lan:5000/kindest/node:v1.35.5" })
    local lan_ref = "registry.lan:5000/kindest/node:v1.35.5"
    assert.are.equal("--scheme http " .. lan_ref, tail(copy(lan, { scheme = "http" }), "1.5.0"))
    assert.are.equal("--scheme http " .. lan_ref, tail(copy(lan, { scheme = "http" }), "1.2.2"))
    assert.are.equal("-e KUBECONFIG=/etc/kubernetes/admin.conf " .. lan_ref, tail(lan, "1.5.0"))
    local local_reg = copy(CONTROL_PLANE, { image = "localhost:5001/kindest/node:v1.35.5" })
    assert.are.equal("--scheme http localhost:5001/kindest/node:v1.35.5", tail(local_reg, "1.3.0"))
    assert.are.equal("--scheme https localhost:5001/kindest/node:v1.35.5",
      tail(copy(local_reg, { scheme = "https" }), "1.3.0"))
    local err = raises(spec.run_argv, copy(lan, { scheme = "auto" }), "1.5.0", "nodes[1]")
    assert.matches('nodes%[1%]%.scheme: "auto" is not a scheme', err)
  end)

  it("does not touch the global table", function()
    local before = {}
    for k in pairs(_G) do before[k] = true end
    spec.run_argv(CONTROL_PLANE, "1.2.2")
    for k in pairs(_G) do assert.is_true(before[k], "new global " .. tostring(k)) end
  end)

  describe("node_name", function()
    it("follows kind's namer", function()
      assert.equal("kind-control-plane", spec.node_name("kind", "control-plane", 1))
      assert.equal("kind-control-plane2", spec.node_name("kind", "control-plane", 2))
      assert.equal("kind-worker", spec.node_name("kind", "worker", 1))
      assert.equal("dev-worker3", spec.node_name("dev", "worker", 3))
    end)

    it("refuses what would not make a valid node name", function()
      assert.equal('role: "master" is not a node role; use "control-plane" or "worker"',
        raises(spec.node_name, "kind", "master", 1))
      assert.equal("index: 0 is not a node index; indexes start at 1", raises(spec.node_name, "kind", "worker", 0))
      assert.equal('cluster: "Kind" has upper-case letters; cluster names allow only lower-case letters, digits and \'-\': write "kind"',
        raises(spec.node_name, "Kind", "worker", 1))
      local long = string.rep("c", 50)
      assert.equal('node name: "' .. long .. '-control-plane" is 64 characters long; Apple\'s container runtime and Kubernetes allow at most 63',
        raises(spec.node_name, long, "control-plane", 1))
    end)
  end)

  describe("check_name", function()
    it("returns a name that fits Apple's rule and DNS-1123", function()
      assert.equal("kind-worker", spec.check_name("kind-worker"))
      assert.equal("a1", spec.check_name("a1"))
      assert.equal(string.rep("a", 63), spec.check_name(string.rep("a", 63)))
    end)

    local cases = {
      { "a", 'name: "a" is too short; Apple\'s container runtime needs 2 to 63 characters' },
      { "", "name: must not be empty" },
      { string.rep("a", 64), 'name: "' .. string.rep("a", 64) .. '" is 64 characters long; Apple\'s container runtime and Kubernetes allow at most 63' },
      { "Kind-Worker", 'name: "Kind-Worker" has upper-case letters; Kubernetes node names (DNS-1123 labels) allow only lower-case letters, digits and \'-\': write "kind-worker"' },
      { "kind_worker", 'name: "kind_worker" contains \'_\'; Kubernetes node names (DNS-1123 labels) allow only lower-case letters, digits and \'-\'' },
      { "kind.worker", 'name: "kind.worker" contains \'.\'; Kubernetes node names (DNS-1123 labels) allow only lower-case letters, digits and \'-\'' },
      { "-kind", 'name: "-kind" must start and end with a letter or digit (Apple\'s container rule and DNS-1123)' },
      { "kind-", 'name: "kind-" must start and end with a letter or digit (Apple\'s container rule and DNS-1123)' },
    }
    for _, case in ipairs(cases) do
      it("refuses " .. string.format("%q", case[1]):sub(1, 20), function()
        assert.equal(case[2], raises(spec.check_name, case[1]))
      end)
    end

    it("names the field it was given", function()
      assert.equal('nodes[3].name: "x" is too short; Apple\'s container runtime needs 2 to 63 characters',
        raises(spec.check_name, "x", "nodes[3].name"))
      assert.equal("name: must be a string, not number", raises(spec.check_name, 42))
    end)
  end)

  describe("run_argv per version", function()
    for version, priv in pairs(CP_PRIV) do
      it("builds a control plane for " .. version, function()
        local argv, info = spec.run_argv(CONTROL_PLANE, version)
        assert.same(words("run -d --name kind-control-plane --cpus 4 --memory 4G " .. priv ..
          "-l io.kina.cluster=kind -l io.kina.role=control-plane -p 127.0.0.1:6443:6443 " ..
          "-e KUBECONFIG=/etc/kubernetes/admin.conf kindest/node:v1.35.5"), argv)
        assert.same({ { address = "127.0.0.1", port = 6443, protocol = "tcp", field = "api_server" } }, info.host_ports)
        assert.same({}, info.warnings)
      end)

      it("builds a worker with mounts, ports and proxies for " .. version, function()
        local argv, info = spec.run_argv(WORKER, version, "nodes[3]")
        local worker_priv = priv
        assert.same(words("run -d --name kind-worker2 --cpus 2 --memory 2G " .. worker_priv ..
          "-l io.kina.cluster=kind -l io.kina.role=worker -l app=a -l tier=b --network kind " ..
          "-v /Users/me/src:/src:ro --tmpfs /run -v kina-cache:/cache " ..
          "-p 8080:80 -p 127.0.0.1:8443:443/tcp " ..
          "-e HTTPS_PROXY=http://proxy:3128 -e HTTP_PROXY=http://proxy:3128 " ..
          "-e NO_PROXY=localhost,127.0.0.1,10.244.0.0/16,10.96.0.0/12 " ..
          "-e http_proxy=http://proxy:3128 -e https_proxy=http://proxy:3128 " ..
          "-e no_proxy=localhost,127.0.0.1,10.244.0.0/16,10.96.0.0/12 kindest/node:v1.35.5"), argv)
        assert.same({
          { address = "0.0.0.0", port = 8080, protocol = "tcp", field = "nodes[3].ports[1]" },
          { address = "127.0.0.1", port = 8443, protocol = "tcp", field = "nodes[3].ports[2]" },
        }, info.host_ports)
      end)
    end

    it("refuses 1.2.0, where kindest/node cannot boot", function()
      assert.equal("cli_version: container 1.2.0 cannot run Kubernetes nodes: it makes /proc/sys read-only with no opt-out (apple/container#2041); upgrade to 1.2.1 or newer",
        raises(spec.run_argv, CONTROL_PLANE, "1.2.0"))
    end)

    it("gives the same argv for the same input", function()
      local a = spec.run_argv(WORKER, "1.2.2")
      for _ = 1, 20 do assert.same(a, (spec.run_argv(WORKER, "1.2.2"))) end
    end)
  end)

  describe("run_argv details", function()
    local base = { name = "kind-worker", cluster = "kind", role = "worker", image = "kindest/node:v1.35.5" }

    local function argv_of(extra, version)
      return (spec.run_argv(copy(base, extra), version or "1.2.2"))
    end

    it("emits memory in a canonical form Apple accepts", function()
      local cases = { ["4G"] = "4G", ["4g"] = "4G", ["4096M"] = "4G", ["4096MiB"] = "4G", ["4gib"] = "4G",
        ["1.5G"] = "1536M", ["3000m"] = "3000M", ["204800K"] = "200M", ["1T"] = "1024G", ["2GB"] = "2G" }
      for input, out in pairs(cases) do
        local argv = argv_of({ memory = input })
        assert.same({ "--memory", out }, { argv[5], argv[6] }, input)
      end
    end)

    it("emits args after the image", function()
      local argv = argv_of({ args = { "--v=2", "x" } })
      assert.same({ "kindest/node:v1.35.5", "--v=2", "x" }, { argv[#argv - 2], argv[#argv - 1], argv[#argv] })
    end)

    it("emits platform, rosetta, kernel and tmpfs with a size", function()
      assert.same(words("run -d --name kind-worker --cap-add ALL --masked-path NONE --read-only-path NONE " ..
        "-l io.kina.cluster=kind -l io.kina.role=worker --kernel /opt/vmlinux --platform linux/amd64 --rosetta " ..
        "--mount type=tmpfs,target=/tmp,size=512M --mount type=tmpfs,target=/ro,readonly kindest/node:v1.35.5"),
        argv_of({ kernel = "/opt/vmlinux", platform = "linux/amd64", rosetta = true,
          mounts = { { type = "tmpfs", container_path = "/tmp", size = "512M" },
                     { type = "tmpfs", container_path = "/ro", readonly = true } } }))
    end)

    it("publishes ranges, udp and IPv6 from the versions that have them", function()
      local argv, info = spec.run_argv(copy(base, { ports = {
        { host_port = 30000, container_port = 30000, count = 3 },
        { host_address = "::1", host_port = 53, container_port = 53, protocol = "UDP" },
        { host_port = 53, container_port = 53, protocol = "tcp" },
      } }), "0.8.0")
      assert.same(words("run -d --name kind-worker -l io.kina.cluster=kind -l io.kina.role=worker " ..
        "-p 30000-30002:30000-30002 -p [::1]:53:53/udp -p 53:53/tcp kindest/node:v1.35.5"), argv)
      assert.equal(5, #info.host_ports)
      assert.same({ address = "::1", port = 53, protocol = "udp", field = "ports[2]" }, info.host_ports[4])
      -- below 1024 only the given address (::1) is a problem on macOS; no address is 0.0.0.0
      assert.same({ "ports[2].host_port: 53 on ::1 is below 1024: macOS lets your user bind such ports only on every address (0.0.0.0), and sudo does not help because Apple's container services run as your user (\"Permission denied while binding to host port\")" },
        info.warnings)
    end)

    it("does not warn about ports below 1024 on every address, as kind's ingress guide publishes 80 and 443", function()
      local _, info = spec.run_argv(copy(base, { ports = {
        { host_address = "0.0.0.0", host_port = 80, container_port = 80, protocol = "tcp" },
        { host_address = "::", host_port = 443, container_port = 443, protocol = "tcp" },
        { host_port = 53, container_port = 53, protocol = "udp" },
      } }), "0.8.0")
      assert.same({}, info.warnings)
    end)

    it("warns when the API server listens on every interface", function()
      local _, info = spec.run_argv({ name = "kind-control-plane", cluster = "kind", role = "control-plane", image = "i",
        api_server = { address = "0.0.0.0", port = 7443 } }, "1.2.2")
      assert.same({ "api_server.address: 0.0.0.0 publishes the API server on every host interface" }, info.warnings)
    end)

    it("forwards NO_PROXY only when there is a proxy to bypass", function()
      local argv = argv_of({ proxy = {}, no_proxy_extra = { "10.96.0.0/12" } })
      for _, a in ipairs(argv) do assert.is_nil(a:find("PROXY", 1, true)) end
      argv = argv_of({ proxy = { HTTPS_PROXY = "http://p" }, no_proxy_extra = { "10.96.0.0/12" } })
      assert.same(words("-e HTTPS_PROXY=http://p -e NO_PROXY=10.96.0.0/12 -e https_proxy=http://p -e no_proxy=10.96.0.0/12 " ..
        "kindest/node:v1.35.5"), { table.unpack(argv, #argv - 8) })
    end)

    local invalid = {
      { { memory = "4096" }, "nodes[2].memory: \"4096\" has no unit; write 4096M or 4G" },
      { { memory = 4096 }, "nodes[2].memory: \"4096\" has no unit; write 4096M or 4G" },
      { { memory = "3" }, "nodes[2].memory: \"3\" has no unit; write 3M or 3G" },
      { { memory = "100M" }, "nodes[2].memory: \"100M\" is below Apple's minimum of 200 MiB" },
      { { memory = "1.1G" }, "nodes[2].memory: \"1.1G\" is not a whole number of MiB (Apple's runtime rounds down); write 1126M" },
      { { memory = "4X" }, "nodes[2].memory: \"4X\" has an unknown unit \"X\"; use K, M, G or T (binary: 1G = 1024M)" },
      { { memory = "G" }, "nodes[2].memory: \"G\" is not a size; write a number and a unit, like 4G or 512M" },
      { { memory = true }, "nodes[2].memory: must be a string with a unit, like \"4G\", not boolean" },
      { { cpus = 0 }, "nodes[2].cpus: 0 is not a CPU count; use 1 or more" },
      { { cpus = 2.5 }, "nodes[2].cpus: must be an integer, not 2.5" },
      { { cpus = "2" }, "nodes[2].cpus: must be an integer, not string" },
      { { colour = "red" }, "nodes[2]: unknown field 'colour'" },
      { { image = false }, "nodes[2].image: must be a string, not boolean" },
      { { image = "-x" }, "nodes[2].image: \"-x\" is not an image reference" },
      { { image = "kindest/node v1" }, "nodes[2].image: \"kindest/node v1\" is not an image reference" },
      { { role = "master" }, "nodes[2].role: \"master\" is not a node role; use \"control-plane\", \"worker\" or \"external-load-balancer\"" },
      { { name = "Kind_W" }, "nodes[2].name: \"Kind_W\" contains '_'; Kubernetes node names (DNS-1123 labels) allow only lower-case letters, digits and '-'" },
      { { name = "a\0b" }, "nodes[2].name: contains a NUL byte" },
      { { labels = { ["io.kina.role"] = "x" } }, "nodes[2].labels[\"io.kina.role\"]: kina sets this label itself from the cluster and role" },
      { { labels = { a = "b=c" } }, "nodes[2].labels[\"a\"]: \"b=c\" contains '='; Apple's runtime refuses label values with '=' (\"invalid label format\")" },
      { { labels = { a = 1 } }, "nodes[2].labels[\"a\"]: must be a string, not number" },
      { { labels = { "x" } }, "nodes[2].labels: keys must be strings, not number" },
      { { env = { ["A=B"] = "1" } }, "nodes[2].env[\"A=B\"]: variable names may not contain '='" },
      { { env = { HTTP_PROXY = "x" }, proxy = { HTTP_PROXY = "y" } }, "nodes[2].env[\"HTTP_PROXY\"]: is also set by nodes[2].proxy; set it in one place" },
      { { proxy = { FTP_PROXY = "x" } }, "nodes[2].proxy: unknown field 'FTP_PROXY'" },
      { { proxy = { HTTP_PROXY = "x" }, no_proxy_extra = { "a,b" } }, "nodes[2].no_proxy_extra[1]: \"a,b\" is not one NO_PROXY entry (a name, address or CIDR)" },
      { { mounts = { { host_path = "src", container_path = "/src" } } }, "nodes[2].mounts[1].host_path: \"src\" must be an absolute host path" },
      { { mounts = { { host_path = "/a:b", container_path = "/src" } } }, "nodes[2].mounts[1].host_path: \"/a:b\" contains ':', which `-v` cannot carry" },
      { { mounts = { { host_path = "/src", container_path = "src" } } }, "nodes[2].mounts[1].container_path: \"src\" must be an absolute path in the node" },
      { { mounts = { { host_path = "/src", container_path = "/" } } }, "nodes[2].mounts[1].container_path: cannot mount over the node's root" },
      { { mounts = { { host_path = "/a", container_path = "/x" }, { type = "tmpfs", container_path = "/x" } } }, "nodes[2].mounts[2].container_path: \"/x\" is already mounted by nodes[2].mounts[1]" },
      { { mounts = { { type = "nfs", container_path = "/x" } } }, "nodes[2].mounts[1].type: \"nfs\" is not a mount type; use \"bind\", \"volume\" or \"tmpfs\"" },
      { { mounts = { { type = "tmpfs", host_path = "/a", container_path = "/x" } } }, "nodes[2].mounts[1].host_path: a tmpfs mount has no host path" },
      { { mounts = { { host_path = "/a", container_path = "/x", size = "1G" } } }, "nodes[2].mounts[1].size: only a tmpfs mount has a size" },
      { { mounts = { { container_path = "/x" } } }, "nodes[2].mounts[1].host_path: is required (the host directory or file)" },
      { { mounts = { { type = "volume", host_path = "/abs", container_path = "/x" } } }, "nodes[2].mounts[1].host_path: \"/abs\" is not a volume name (letters, digits, '_', '.' and '-')" },
      { { mounts = { { host_path = "/a", container_path = "/x", ro = true } } }, "nodes[2].mounts[1]: unknown field 'ro'" },
      { { mounts = { [2] = { host_path = "/a", container_path = "/x" } } }, "nodes[2].mounts: must be an array without holes" },
      { { ports = { { host_port = 1, container_port = 80 } } }, "nodes[2].ports[1].host_port: 1 is not a port Apple's runtime accepts (2 to 65535)" },
      { { ports = { { host_port = 8080, container_port = 70000 } } }, "nodes[2].ports[1].container_port: 70000 is not a port Apple's runtime accepts (2 to 65535)" },
      { { ports = { { host_port = 8080 } } }, "nodes[2].ports[1].container_port: is required" },
      { { ports = { { host_port = 8080, container_port = 80, protocol = "sctp" } } }, "nodes[2].ports[1].protocol: \"sctp\" is not a protocol Apple's runtime publishes; use \"tcp\" or \"udp\"" },
      { { ports = { { host_port = 8080, container_port = 80, host_address = "localhost" } } }, "nodes[2].ports[1].host_address: \"localhost\" is not an IPv4 or IPv6 address" },
      { { ports = { { host_port = 65535, container_port = 80, count = 2 } } }, "nodes[2].ports[1].count: 2 ports from 65535 run past 65535" },
      { { ports = { { host_port = 8080, container_port = 80 }, { host_address = "127.0.0.1", host_port = 8080, container_port = 81 } } },
        "nodes[2].ports[2]: host port 8080/tcp is already published by nodes[2].ports[1]; Apple's runtime refuses overlapping host ports, even on different addresses" },
      { { ports = { { host_port = 8000, container_port = 80, count = 5 }, { host_port = 8004, container_port = 90 } } },
        "nodes[2].ports[2]: host port 8004/tcp is already published by nodes[2].ports[1]; Apple's runtime refuses overlapping host ports, even on different addresses" },
      { { api_server = { port = 6443 } }, "nodes[2].api_server: only a control-plane node or the load balancer publishes the API server" },
      { { network = "My_Net" }, "nodes[2].network: \"My_Net\" is not a network name (lower-case letters, digits, '.', '_' and '-'; up to 63)" },
      { { kernel = "vmlinux" }, "nodes[2].kernel: \"vmlinux\" must be an absolute host path" },
      { { platform = "darwin/arm64" }, "nodes[2].platform: \"darwin/arm64\" is not a platform like \"linux/arm64\" or \"linux/amd64\"" },
      { { rosetta = "yes" }, "nodes[2].rosetta: must be a boolean, not string" },
      { { args = { 1 } }, "nodes[2].args[1]: must be a string, not number" },
      { { name = false }, "nodes[2].name: must be a string, not boolean" },
    }
    for i, case in ipairs(invalid) do
      it("refuses invalid description " .. i .. " with a message naming the field", function()
        assert.equal(case[2], raises(spec.run_argv, copy(base, case[1]), "1.2.2", "nodes[2]"))
      end)
    end

    it("requires name, cluster, role and image", function()
      for _, field in ipairs({ "name", "cluster", "role", "image" }) do
        local desc = copy(base)
        desc[field] = nil
        assert.equal(field .. ": is required", raises(spec.run_argv, desc, "1.2.2"))
      end
    end)

    it("refuses more than 64 port mappings", function()
      local ports = {}
      for i = 1, 65 do ports[i] = { host_port = 10000 + i, container_port = 80 } end
      assert.equal("ports[65]: is port mapping 65; Apple's runtime accepts at most 64 per node (a range counts once)",
        raises(spec.run_argv, copy(base, { ports = ports }), "1.2.2"))
    end)

    local too_old = {
      { "0.7.1", { ports = { { host_address = "::1", host_port = 8080, container_port = 80 } } },
        "ports[1].host_address: IPv6 host addresses in --publish needs container 0.8.0 or newer (this is 0.7.1)" },
      { "0.7.1", { ports = { { host_port = 53, container_port = 53, protocol = "udp" }, { host_port = 53, container_port = 53 } } },
        "ports[2]: host port 53 is already published by ports[1]; container 0.7.1 refuses overlapping host ports, even for different protocols or addresses" },
      { "0.6.0", { ports = { { host_port = 8000, container_port = 8000, count = 2 } } },
        "ports[1].count: port ranges in --publish needs container 0.7.0 or newer (this is 0.6.0)" },
      { "0.6.0", { rosetta = true }, "rosetta: --rosetta needs container 0.7.0 or newer (this is 0.6.0)" },
      { "0.3.0", { platform = "linux/arm64" }, "platform: --platform needs container 0.4.0 or newer (this is 0.3.0)" },
      { "0.3.0", { mounts = { { type = "volume", host_path = "cache", container_path = "/c" } } },
        "mounts[1]: named volumes needs container 0.4.0 or newer (this is 0.3.0)" },
      { "0.2.0", { ports = { { host_port = 8080, container_port = 80 } } }, "ports[1]: --publish needs container 0.3.0 or newer (this is 0.2.0)" },
      { "0.1.0", { network = "kind" }, "network: --network needs container 0.2.0 or newer (this is 0.1.0)" },
      { "0.5.0", { network = "none" }, "network: --network none needs container 0.6.0 or newer (this is 0.5.0)" },
    }
    for _, case in ipairs(too_old) do
      it("refuses what " .. case[1] .. " lacks: " .. case[3]:match("^[^:]+"), function()
        assert.equal(case[3], raises(spec.run_argv, copy(base, case[2]), case[1]))
      end)
    end

    it("checks the version argument", function()
      assert.equal('cli_version: "1.2" is not a version like "1.2.2"', raises(spec.run_argv, base, "1.2"))
      assert.equal("cli_version: must be a version string like \"1.2.2\", not nil", raises(spec.run_argv, base))
    end)
  end)
end)
