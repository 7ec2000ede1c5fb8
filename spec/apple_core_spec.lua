-- kina.core.apple: versions, argvs, JSON records and error causes of Apple's `container` CLI.
local apple = require("kina.core.apple")
local cjson = require("cjson").new()

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

-- Unix time of an ISO-8601 UTC date, computed independently of the module (os.time is local).
local function utc(y, mo, d, h, mi, s)
  local days = 0
  for year = 1970, y - 1 do days = days + ((year % 4 == 0 and year % 100 ~= 0 or year % 400 == 0) and 366 or 365) end
  local month_days = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  if y % 4 == 0 and y % 100 ~= 0 or y % 400 == 0 then month_days[2] = 29 end
  for m = 1, mo - 1 do days = days + month_days[m] end
  return ((days + d - 1) * 24 + h) * 3600 + mi * 60 + s
end

-- §3.4: `container list --all --format json` on 1.2.2 (one line, sorted keys, escaped '/').
local LIST_1_2_2 = [=[[{"configuration":{"capAdd":["ALL"],"capDrop":[],"creationDate":"2026-08-08T17:02:11Z","dns":{"nameservers":[],"options":[],"searchDomains":[]},"id":"kind-control-plane","image":{"descriptor":{"digest":"sha256:ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95","mediaType":"application\/vnd.oci.image.index.v1+json","size":2347},"reference":"docker.io\/kindest\/node:v1.35.5"},"initProcess":{"arguments":["\/sbin\/init"],"environment":["container=docker"],"executable":"\/usr\/local\/bin\/entrypoint","rlimits":[],"supplementalGroups":[],"terminal":false,"user":{"id":{"gid":0,"uid":0}},"workingDirectory":"\/"},"labels":{"io.x-k8s.kind.cluster":"kind","io.x-k8s.kind.role":"control-plane"},"maskedPaths":[],"mounts":[{"destination":"\/tmp","options":[],"source":"tmpfs","type":{"tmpfs":{}}}],"networks":[{"network":"default","options":{"hostname":"kind-control-plane","mtu":1280}}],"platform":{"architecture":"arm64","os":"linux"},"publishedPorts":[{"containerPort":6443,"count":1,"hostAddress":"127.0.0.1","hostPort":6443,"proto":"tcp"}],"publishedSockets":[],"readOnly":false,"readonlyPaths":[],"resources":{"cpuOverhead":1,"cpus":4,"memoryInBytes":4294967296},"rosetta":false,"runtimeHandler":"container-runtime-linux","ssh":false,"stopSignal":"SIGRTMIN+3","sysctls":{},"useInit":false,"virtualization":false},"id":"kind-control-plane","status":{"networks":[{"hostname":"kind-control-plane","ipv4Address":"192.168.64.3\/24","ipv4Gateway":"192.168.64.1","ipv6Address":"fd5e:2a1c:9b0d:1:f41a:2bff:fe3c:4d5e\/64","macAddress":"f6:1a:2b:3c:4d:5e","mtu":1280,"network":"default","variant":"reserved"}],"startedDate":"2026-08-08T17:02:14Z","state":"running"}},{"configuration":{"capAdd":["ALL"],"capDrop":[],"creationDate":"2026-08-08T17:02:12Z","id":"kind-worker","image":{"descriptor":{"digest":"sha256:ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95","mediaType":"application\/vnd.oci.image.index.v1+json","size":2347},"reference":"docker.io\/kindest\/node:v1.35.5"},"labels":{"io.x-k8s.kind.cluster":"kind","io.x-k8s.kind.role":"worker"},"mounts":[],"networks":[{"network":"default","options":{"hostname":"kind-worker"}}],"platform":{"architecture":"arm64","os":"linux","variant":"v8"},"publishedPorts":[],"resources":{"cpuOverhead":1,"cpus":2,"memoryInBytes":2147483648}},"id":"kind-worker","status":{"networks":[],"state":"stopped"}}]]=]

-- `container inspect` on 1.2.2: the same object, pretty-printed ("key" : value).
local INSPECT_1_2_2 = [=[[
  {
    "configuration" : {
      "creationDate" : "2026-08-08T17:02:11Z",
      "id" : "kind-control-plane",
      "image" : {
        "descriptor" : {
          "digest" : "sha256:ce977ae6",
          "mediaType" : "application\/vnd.oci.image.index.v1+json",
          "size" : 2347
        },
        "reference" : "docker.io\/kindest\/node:v1.35.5"
      },
      "labels" : {
        "io.kina.cluster" : "kind"
      },
      "networks" : [ { "network" : "kind", "options" : { "hostname" : "kind-control-plane" } } ],
      "platform" : { "architecture" : "arm64", "os" : "linux" },
      "publishedPorts" : [ ],
      "resources" : { "cpuOverhead" : 1, "cpus" : 4, "memoryInBytes" : 4294967296 }
    },
    "id" : "kind-control-plane",
    "status" : {
      "networks" : [ { "hostname" : "kind-control-plane", "ipv4Address" : "10.89.0.2\/24", "ipv4Gateway" : "10.89.0.1", "network" : "kind" } ],
      "startedDate" : "2026-08-08T19:02:14+02:00",
      "state" : "running"
    }
  }
]]=]

-- 0.8.0–0.12.x: status is a string, networks top-level with ipv4Address, startedDate is a
-- Double of seconds since 2001-01-01 (§3.3); null fields as another decoder may give them.
local LIST_0_12 = [=[[{"status":"running","startedDate":791460000.75,"networks":[{"network":"default","hostname":"kind-control-plane","ipv4Address":"192.168.64.5\/24","ipv4Gateway":"192.168.64.1","macAddress":"fa:1a:2b:3c:4d:5e","mtu":1280}],"configuration":{"id":"kind-control-plane","labels":{"io.kina.cluster":"kind","io.kina.role":"control-plane","n":1},"image":{"reference":"docker.io\/kindest\/node:v1.35.5","descriptor":{"digest":"sha256:abc","mediaType":"x","size":1}},"publishedPorts":[{"hostAddress":"0.0.0.0","hostPort":8000,"containerPort":80,"proto":"udp","count":3}],"platform":{"os":"linux","architecture":"arm64"},"resources":{"cpus":4.0,"memoryInBytes":4294967296.0},"networks":[{"network":"default","options":{"hostname":"kind-control-plane"}}]}},{"status":"stopped","startedDate":null,"networks":[],"configuration":{"id":"buildkit","labels":null,"image":{"reference":"ghcr.io\/apple\/container-builder-shim\/builder:0.6.1","descriptor":{"digest":"sha256:def"}},"publishedPorts":[],"platform":{"os":"linux","architecture":"arm64"},"resources":{"cpus":2,"memoryInBytes":2147483648},"networks":[{"network":"default","options":{"hostname":"buildkit"}}]}}]]=]

-- 0.1.0–0.7.x: address/gateway attachments, no dates; configuration.networks was [String]
-- before 0.4.0; publishedPorts had no count before 0.7.
local LIST_0_7 = [=[[{"status":"running","networks":[{"network":"default","hostname":"dev-worker","address":"192.168.64.7\/24","gateway":"192.168.64.1"}],"configuration":{"id":"dev-worker","labels":{"io.kina.cluster":"dev","io.kina.role":"worker"},"image":{"reference":"docker.io\/kindest\/node:v1.34.0","descriptor":{"digest":"sha256:123"}},"publishedPorts":[{"hostAddress":"127.0.0.1","hostPort":6443,"containerPort":6443,"proto":"tcp"}],"platform":{"os":"linux","architecture":"arm64"},"resources":{"cpus":2,"memoryInBytes":1073741824},"networks":[{"network":"default","options":{"hostname":"dev-worker"}}]}},{"status":"stopped","networks":[],"configuration":{"id":"old","image":{"reference":"alpine","descriptor":{"digest":"sha256:456"}},"networks":["default"],"platform":{"os":"linux","architecture":"arm64"},"resources":{"cpus":1,"memoryInBytes":1073741824}}}]]=]

-- §3.5 network list, 1.0.0+.
local NETWORKS_1_0 = [=[[{"configuration":{"creationDate":"2026-08-01T09:00:00Z","labels":{"com.apple.container.resource.role":"builtin"},"mode":"nat","name":"default","options":{},"plugin":"container-network-vmnet"},"id":"default","status":{"ipv4Gateway":"192.168.64.1","ipv4Subnet":"192.168.64.0\/24","ipv6Subnet":"fd5e:2a1c:9b0d:1::\/64"}},{"configuration":{"creationDate":"2026-08-08T16:55:00Z","ipv4Subnet":"10.89.0.0\/24","labels":{"io.x-k8s.kind.network":"kind"},"mode":"nat","name":"kind","options":{},"plugin":"container-network-vmnet"},"id":"kind","status":{"ipv4Gateway":"10.89.0.1","ipv4Subnet":"10.89.0.0\/24"}}]]=]
-- 0.8–0.12: {id, state, config, status}.
local NETWORKS_0_12 = [=[[{"id":"kind","state":"running","config":{"id":"kind","creationDate":776000000,"mode":"nat","ipv4Subnet":"10.89.0.0\/24","labels":{"io.kina.cluster":"kind"}},"status":{"ipv4Subnet":"10.89.0.0\/24","ipv4Gateway":"10.89.0.1"}},{"id":"spare","state":"created","config":{"id":"spare","mode":"hostOnly","labels":{}}}]]=]
-- The real 0.4-era paste from socktainer#43.
local NETWORKS_0_4 = [=[[{"id":"default","state":"running","config":{"id":"default","mode":"nat"},"status":{"gateway":"192.168.64.1","address":"192.168.64.0/24"}}]]=]

-- §3.6 images: 1.0+ ImageResource; 0.9–0.12 list; before 1.0 `image inspect` (ImageDetail).
local IMAGES_1_0 = [=[[{"configuration":{"creationDate":"2026-07-01T00:00:00Z","descriptor":{"digest":"sha256:ce977ae6","mediaType":"application\/vnd.oci.image.index.v1+json","size":2347},"name":"docker.io\/kindest\/node:v1.35.5"},"id":"ce977ae6","variants":[]}]]=]
local IMAGES_0_9 = [=[[{"reference":"docker.io\/kindest\/node:v1.35.5","fullSize":"512.3 MB","descriptor":{"digest":"sha256:ce977ae6","mediaType":"x","size":2347}}]]=]
local IMAGE_INSPECT_0_9 = [=[[{"name":"docker.io\/kindest\/node:v1.35.5","index":{"digest":"sha256:ce977ae6","mediaType":"x","size":2347},"variants":[]}]]=]

describe("kina.core.apple", function()
  describe("versions", function()
    it("finds the version in `container --version` output", function()
      assert.equal("1.2.2", apple.parse_version("container CLI version 1.2.2 (build: release, commit: 0190097)\n"))
      assert.equal("0.7.1", apple.parse_version("container CLI version 0.7.1 (build: release, commit: unspeci)"))
      assert.equal("10.20.30", apple.parse_version("v10.20.30.4"))
    end)

    it("returns nil and a message when there is none", function()
      local v, err = apple.parse_version("container: command not found\n")
      assert.is_nil(v)
      assert.equal("could not find a version in: container: command not found", err)
      assert.is_nil((apple.parse_version("version 1.2")))
    end)

    it("compares versions numerically", function()
      assert.equal(-1, apple.compare_versions("0.9.0", "0.10.0"))
      assert.equal(0, apple.compare_versions("1.2.2", "1.2.2"))
      assert.equal(1, apple.compare_versions("1.2.10", "1.2.9"))
      assert.equal('a: "1.x" is not a version like "1.2.2"', raises(apple.compare_versions, "1.x", "1.0.0"))
    end)

    local expected = {
      ["0.7.1"] = { cap_add = false, masked_paths = false, publish = true, port_ranges = true, copy = false,
        status_format = false, system_version = false, list_honours_all = false, inspect_missing_is_error = false,
        stop_missing_is_error = false, json_shape = "0.1", kernel_default = "6.12.28", nodes_boot = true },
      ["0.8.0"] = { cap_add = false, masked_paths = false, publish = true, port_ranges = true, copy = false,
        status_format = false, system_version = true, list_honours_all = false, inspect_missing_is_error = false,
        stop_missing_is_error = false, json_shape = "0.8", kernel_default = "6.12.28", nodes_boot = true },
      ["0.9.0"] = { json_shape = "0.8", kernel_default = "6.18.5", status_format = false },
      ["0.11.0"] = { stop_missing_is_error = true, kernel_default = "6.18.5", cap_add = false },
      ["0.12.0"] = { cap_add = true, masked_paths = false, status_format = true, list_honours_all = true,
        stop_missing_is_error = true, copy = false, json_shape = "0.8", kernel_default = "6.18.15" },
      ["1.1.0"] = { cap_add = true, masked_paths = false, copy = true, inspect_missing_is_error = true,
        json_shape = "1.0", nodes_boot = true },
      ["1.2.0"] = { masked_paths = false, nodes_boot = false },
      ["1.2.1"] = { masked_paths = true, nodes_boot = true },
      ["1.2.2"] = { cap_add = true, masked_paths = true, publish = true, port_ranges = true, copy = true,
        status_format = true, system_version = true, list_honours_all = true, inspect_missing_is_error = true,
        stop_missing_is_error = true, json_shape = "1.0", kernel_default = "6.18.15", nodes_boot = true,
        scheme_no_auto = false, status_nested = false },
      -- after the mirror (updates-2026-12 §1): 1.3.0 drops --scheme auto and moves the kernel
      -- to 6.18.35; 1.4.1 nests system status; 1.4.0 was never released
      ["1.3.0"] = { masked_paths = true, json_shape = "1.0", kernel_default = "6.18.35", nodes_boot = true,
        scheme_no_auto = true, status_nested = false },
      ["1.3.1"] = { masked_paths = true, json_shape = "1.0", kernel_default = "6.18.35", scheme_no_auto = true,
        status_nested = false },
      ["1.4.1"] = { masked_paths = true, json_shape = "1.0", kernel_default = "6.18.35", scheme_no_auto = true,
        status_nested = true },
      ["1.5.0"] = { cap_add = true, masked_paths = true, publish = true, port_ranges = true, copy = true,
        status_format = true, system_version = true, list_honours_all = true, inspect_missing_is_error = true,
        stop_missing_is_error = true, json_shape = "1.0", kernel_default = "6.18.35", nodes_boot = true,
        scheme_no_auto = true, status_nested = true },
      ["0.2.0"] = { publish = false, network = true, port_ranges = false },
    }
    for version, want in pairs(expected) do
      it("derives the features of " .. version, function()
        local f = apple.features(version)
        assert.equal(version, f.version)
        for k, v in pairs(want) do assert.equal(v, f[k], k) end
      end)
    end
  end)

  describe("argv builders", function()
    it("builds the lifecycle commands", function()
      assert.same({ "--version" }, apple.argv_version())
      assert.same(words("list --all --format json"), apple.argv_list())
      assert.same(words("start kind-worker"), apple.argv_start("kind-worker"))
      assert.same(words("stop --time 30 kind-worker kind-worker2"), apple.argv_stop({ "kind-worker", "kind-worker2" }, { time = 30 }))
      assert.same(words("stop kind-worker"), apple.argv_stop("kind-worker"))
      assert.same(words("kill --signal TERM kind-worker"), apple.argv_kill("kind-worker", "TERM"))
      assert.same(words("kill --signal 9 kind-worker"), apple.argv_kill("kind-worker", 9))
      assert.same(words("kill kind-worker"), apple.argv_kill("kind-worker"))
      assert.same(words("delete --force a1 b2"), apple.argv_delete({ "a1", "b2" }, { force = true }))
      assert.same(words("delete a1"), apple.argv_delete("a1", { force = false }))
      assert.same(words("inspect kind-control-plane"), apple.argv_inspect("kind-control-plane"))
      assert.same(words("logs --boot --follow -n 50 kind-worker"), apple.argv_logs("kind-worker", { follow = true, tail = 50, boot = true }))
      assert.same(words("logs kind-worker"), apple.argv_logs("kind-worker"))
    end)

    it("builds exec with options before the name and sorted env", function()
      assert.same(words("exec -i --user 1000:1000 --workdir /kind -e A=1 -e B=x=y kind-worker cp /dev/stdin /kind/x"),
        apple.argv_exec("kind-worker", { "cp", "/dev/stdin", "/kind/x" },
          { interactive = true, user = "1000:1000", workdir = "/kind", env = { B = "x=y", A = "1" } }))
      assert.same({ "exec", "kind-worker", "sh", "-c", "echo a b" }, apple.argv_exec("kind-worker", { "sh", "-c", "echo a b" }))
    end)

    it("adds --format json to system status only from 0.10.0", function()
      assert.same(words("system status"), apple.argv_system_status("0.9.0"))
      assert.same(words("system status --format json"), apple.argv_system_status("0.10.0"))
      assert.same(words("system status --format json"), apple.argv_system_status("1.2.2"))
      assert.equal("version: is required (system status --format needs 0.10.0)", raises(apple.argv_system_status))
    end)

    it("builds network commands and checks them against the version", function()
      assert.same(words("network create --label io.kina.cluster=kind --label io.kina.network=kind --subnet 10.89.0.0/24 kind"),
        apple.argv_network_create("kind", { subnet = "10.89.0.0/24", labels = { ["io.kina.network"] = "kind", ["io.kina.cluster"] = "kind" } }, "1.2.2"))
      assert.same(words("network create kind"), apple.argv_network_create("kind", nil, "0.2.0"))
      assert.same(words("network delete kind"), apple.argv_network_delete("kind"))
      assert.same(words("network list --format json"), apple.argv_network_list("0.7.1"))
      assert.same(words("network inspect kind other"), apple.argv_network_inspect({ "kind", "other" }))
      assert.equal("network options: subnet: network create --subnet needs container 0.6.0 or newer (this is 0.5.0)",
        raises(apple.argv_network_create, "kind", { subnet = "10.89.0.0/24" }, "0.5.0"))
      assert.equal("network options: labels: network create --label needs container 0.5.0 or newer (this is 0.4.1)",
        raises(apple.argv_network_create, "kind", { labels = { a = "b" } }, "0.4.1"))
      assert.equal("argv_network_list: --network needs container 0.2.0 or newer (this is 0.1.0)",
        raises(apple.argv_network_list, "0.1.0"))
      assert.equal('network options: subnet "10.89.0.0" is not an IPv4 CIDR like 10.89.0.0/24',
        raises(apple.argv_network_create, "kind", { subnet = "10.89.0.0" }))
      assert.equal('network options: label key "Team" must be lower-case letters, digits, \'-\', \'.\' or \'/\' (at most 128)',
        raises(apple.argv_network_create, "kind", { labels = { Team = "a" } }))
      assert.equal('name: "Kind" is not a network name (lower-case letters, digits, \'.\', \'_\' and \'-\'; up to 63)',
        raises(apple.argv_network_create, "Kind"))
    end)

    it("builds image commands", function()
      assert.same(words("image inspect docker.io/kindest/node:v1.35.5"), apple.argv_image_inspect("docker.io/kindest/node:v1.35.5"))
      assert.same(words("image pull --platform linux/arm64 kindest/node:v1.35.5"),
        apple.argv_image_pull("kindest/node:v1.35.5", { platform = "linux/arm64" }))
      assert.same(words("image save --platform linux/arm64 --output /tmp/x.tar a:1 b:2"),
        apple.argv_image_save({ "a:1", "b:2" }, { platform = "linux/arm64", output = "/tmp/x.tar" }, "1.2.2"))
      assert.same(words("image save a:1"), apple.argv_image_save("a:1", nil, "0.7.1"))
      assert.same(words("image load --input /tmp/x.tar"), apple.argv_image_load("/tmp/x.tar", "0.1.0"))
      assert.same(words("image load"), apple.argv_image_load(nil, "1.2.2"))
      assert.equal("save options: output: image save/load through a pipe needs container 0.7.0 or newer (this is 0.6.0)",
        raises(apple.argv_image_save, "a:1", {}, "0.6.0"))
      assert.equal("refs: saving several images at once needs container 0.5.0 or newer (this is 0.4.1)",
        raises(apple.argv_image_save, { "a", "b" }, { output = "/x.tar" }, "0.4.1"))
      assert.equal("path: image save/load through a pipe needs container 0.7.0 or newer (this is 0.6.0)",
        raises(apple.argv_image_load, nil, "0.6.0"))
    end)

    it("pulls from a registry `--scheme auto` reached over http with --scheme http, from 1.3.0 only", function()
      -- before 1.3.0 the default, auto, picks http for these itself
      assert.same(words("image pull localhost:5001/kindest/node:v1.35.5"),
        apple.argv_image_pull("localhost:5001/kindest/node:v1.35.5", nil, "1.2.2"))
      for _, version in ipairs{ "1.3.0", "1.3.1", "1.4.1", "1.5.0" } do
        for _, ref in ipairs{ "localhost:5001/kindest/node:v1.35.5", "localhost/app:1", "127.0.0.1:5000/app:1",
          "10.1.2.3/app:1", "192.168.64.1:5000/a/b:1", "172.16.0.9:5000/app:1", "172.31.255.255/app:1" } do
          assert.same(words("image pull --scheme http " .. ref), apple.argv_image_pull(ref, nil, version), ref)
        end
        -- public registries, docker.io names and hosts outside the ranges keep the https default
        for _, ref in ipairs{ "kindest/node:v1.35.5", "docker.io/kindest/node:v1.35.5", "localhost.example.com/app:1",
          "ghcr.io/a/b:1", "172.32.0.1/app:1", "192.169.0.1/app:1", "10.0.0.1.example.com/app:1", "256.1.1.1/app:1",
          "10.1.2/app:1", "library/localhost:1", "[::1]:5000/app:1" } do
          assert.same(words("image pull " .. ref), apple.argv_image_pull(ref, nil, version), ref)
        end
      end
      -- an explicit scheme is passed as given, on every release; the platform follows it
      assert.same(words("image pull --scheme https --platform linux/arm64 localhost:5001/app:1"),
        apple.argv_image_pull("localhost:5001/app:1", { scheme = "https", platform = "linux/arm64" }, "1.5.0"))
      assert.same(words("image pull --scheme http registry.lan:5000/app:1"),
        apple.argv_image_pull("registry.lan:5000/app:1", { scheme = "http" }, "1.2.2"))
      assert.equal('pull options: scheme "auto" is not "http" or "https"',
        raises(apple.argv_image_pull, "localhost:5001/app:1", { scheme = "auto" }, "1.2.2"))
    end)

    it("refuses bad names and options", function()
      assert.equal('name: "-rf" is not a container name (2 to 63 letters, digits, \'_\', \'.\' or \'-\', starting with a letter or digit)',
        raises(apple.argv_start, "-rf"))
      assert.equal('names[2]: "x" is not a container name (2 to 63 letters, digits, \'_\', \'.\' or \'-\', starting with a letter or digit)',
        raises(apple.argv_delete, { "ok", "x" }))
      assert.equal("names: must name at least one", raises(apple.argv_inspect, {}))
      assert.equal("stop options: unknown field 'timeout'", raises(apple.argv_stop, "ab", { timeout = 3 }))
      assert.equal("stop options: time must be 0 or more seconds", raises(apple.argv_stop, "ab", { time = -1 }))
      assert.equal("delete options: field 'force' must be a boolean, not string", raises(apple.argv_delete, "ab", { force = "yes" }))
      assert.equal('signal: "TERM;x" is not a signal like "TERM" or "SIGRTMIN+3"', raises(apple.argv_kill, "ab", "TERM;x"))
      assert.equal("cmd_argv: must hold the command to run", raises(apple.argv_exec, "ab", {}))
      assert.equal('exec options: workdir "kind" must be an absolute path', raises(apple.argv_exec, "ab", { "ls" }, { workdir = "kind" }))
      assert.equal('exec options: env name "A=B" must be non-empty without \'=\'', raises(apple.argv_exec, "ab", { "ls" }, { env = { ["A=B"] = "1" } }))
      assert.equal("cmd_argv[2]: must be a string, not number", raises(apple.argv_exec, "ab", { "ls", 1 }))
      assert.equal('ref: "-x" is not an image reference', raises(apple.argv_image_pull, "-x"))
      assert.equal('version: "latest" is not a version like "1.2.2"', raises(apple.argv_list, "latest"))
    end)
  end)

  describe("parse_containers", function()
    it("reads the 1.2.2 list shape", function()
      local recs = assert(apple.parse_containers(cjson.decode(LIST_1_2_2)))
      assert.equal(2, #recs)
      assert.same({
        name = "kind-control-plane", state = "running", ip = "192.168.64.3", ipv6 = "fd5e:2a1c:9b0d:1:f41a:2bff:fe3c:4d5e",
        labels = { ["io.x-k8s.kind.cluster"] = "kind", ["io.x-k8s.kind.role"] = "control-plane" },
        image = "docker.io/kindest/node:v1.35.5",
        image_digest = "sha256:ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95",
        created = utc(2026, 8, 8, 17, 2, 11), started = utc(2026, 8, 8, 17, 2, 14),
        ports = { { host_address = "127.0.0.1", host_port = 6443, container_port = 6443, protocol = "tcp", count = 1 } },
        network = "default", cpus = 4, memory_bytes = 4294967296, platform = "linux/arm64",
      }, recs[1])
      assert.same({
        name = "kind-worker", state = "stopped", labels = { ["io.x-k8s.kind.cluster"] = "kind", ["io.x-k8s.kind.role"] = "worker" },
        image = "docker.io/kindest/node:v1.35.5",
        image_digest = "sha256:ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95",
        created = utc(2026, 8, 8, 17, 2, 12), ports = {}, network = "default", cpus = 2, memory_bytes = 2147483648,
        platform = "linux/arm64/v8",
      }, recs[2])
      assert.is_true(math.type(recs[1].memory_bytes) == "integer")
    end)

    it("reads the pretty inspect shape with a UTC offset", function()
      local recs = assert(apple.parse_containers(cjson.decode(INSPECT_1_2_2)))
      assert.equal("10.89.0.2", recs[1].ip)
      assert.equal("kind", recs[1].network)
      assert.equal(utc(2026, 8, 8, 17, 2, 14), recs[1].started)
      assert.same({ ["io.kina.cluster"] = "kind" }, recs[1].labels)
    end)

    it("reads the 0.8–0.12 shape: status string, top-level networks, dates since 2001", function()
      local recs = assert(apple.parse_containers(cjson.decode(LIST_0_12)))
      local cp, builder = recs[1], recs[2]
      assert.equal("kind-control-plane", cp.name)
      assert.equal("running", cp.state)
      assert.equal("192.168.64.5", cp.ip)
      assert.is_nil(cp.ipv6)
      assert.equal(791460000 + 978307200, cp.started)
      assert.equal(utc(2026, 1, 30, 10, 0, 0), cp.started)
      assert.is_nil(cp.created)
      assert.same({ ["io.kina.cluster"] = "kind", ["io.kina.role"] = "control-plane" }, cp.labels)
      assert.same({ { host_address = "0.0.0.0", host_port = 8000, container_port = 80, protocol = "udp", count = 3 } }, cp.ports)
      assert.equal("integer", math.type(cp.ports[1].host_port))
      assert.equal("integer", math.type(cp.cpus))
      assert.equal(4294967296, cp.memory_bytes)
      -- JSON nulls are absent, not lightuserdata.
      assert.equal("buildkit", builder.name)
      assert.equal("stopped", builder.state)
      assert.is_nil(builder.started)
      assert.is_nil(builder.ip)
      assert.same({}, builder.labels)
      assert.equal("default", builder.network)
    end)

    it("reads the 0.1–0.7 shape: address attachments, [String] networks, no count", function()
      local recs = assert(apple.parse_containers(cjson.decode(LIST_0_7)))
      assert.equal("192.168.64.7", recs[1].ip)
      assert.equal("default", recs[1].network)
      assert.same({ { host_address = "127.0.0.1", host_port = 6443, container_port = 6443, protocol = "tcp", count = 1 } }, recs[1].ports)
      assert.equal("old", recs[2].name)
      assert.equal("default", recs[2].network)
      assert.same({}, recs[2].labels)
      assert.same({}, recs[2].ports)
      assert.is_nil(recs[2].started)
    end)

    it("reads an empty list and an empty inspect", function()
      assert.same({}, apple.parse_containers(cjson.decode("[]")))
    end)

    it("returns nil and a message for output it cannot read", function()
      local r, err = apple.parse_containers(cjson.decode('{"error":"x"}'))
      assert.is_nil(r)
      assert.equal("expected a JSON array of containers, got an object", err)
      r, err = apple.parse_containers(cjson.decode('["x"]'))
      assert.is_nil(r)
      assert.equal("container 1 is not a JSON object", err)
      r, err = apple.parse_containers(cjson.decode("null"))
      assert.is_nil(r)
      assert.equal("expected a JSON array of containers, got userdata", err)
      r, err = apple.parse_containers(cjson.decode('[{"status":"running"}]'))
      assert.is_nil(r)
      assert.equal("container 1 has no id", err)
    end)
  end)

  describe("keys added by later releases", function()
    -- 1.3.1–1.5.0 only added keys to list/inspect/network JSON (updates-2026-12 §1), and 1.4.1
    -- stopped escaping '/'. Put an unknown key into every object of the 1.2.2 samples and print
    -- them unescaped: the records must not change.
    local function with_unknown_keys(value, depth)
      if type(value) ~= "table" then return value end
      local out = {}
      for k, v in pairs(value) do out[k] = with_unknown_keys(v, depth + 1) end
      if #value == 0 and next(value) ~= nil then
        out["kinaFuture" .. depth] = { count = depth, mtu = 9000, ipv6Subnet = "fd00::/64", nested = { "x" } }
      end
      return out
    end
    -- lua-cjson escapes '/' itself; 1.4.1+ prints it bare
    local function unescaped(text) return (text:gsub("\\/", "/")) end

    it("reads 1.5.0-style containers exactly as 1.2.2's", function()
      local later = unescaped(cjson.encode(with_unknown_keys(cjson.decode(LIST_1_2_2), 0)))
      assert.truthy(later:find('"kinaFuture', 1, true))
      assert.is_nil(later:find("\\/"))
      assert.same(apple.parse_containers(cjson.decode(LIST_1_2_2)), apple.parse_containers(cjson.decode(later)))
      later = unescaped(cjson.encode(with_unknown_keys(cjson.decode(INSPECT_1_2_2), 0)))
      assert.same(apple.parse_containers(cjson.decode(INSPECT_1_2_2)), apple.parse_containers(cjson.decode(later)))
    end)

    it("reads 1.5.0-style networks and images exactly as 1.2.2's", function()
      local later = unescaped(cjson.encode(with_unknown_keys(cjson.decode(NETWORKS_1_0), 0)))
      assert.same(apple.parse_networks(cjson.decode(NETWORKS_1_0)), apple.parse_networks(cjson.decode(later)))
      later = unescaped(cjson.encode(with_unknown_keys(cjson.decode(IMAGES_1_0), 0)))
      assert.same(apple.parse_images(cjson.decode(IMAGES_1_0)), apple.parse_images(cjson.decode(later)))
    end)
  end)

  describe("parse_system_status", function()
    -- §3.7 (0.10.0 – 1.3.1) and 1.4.1's nested shape (updates-2026-12 §1)
    local FLAT = [=[{"apiServerAppName":"container-apiserver","apiServerBuild":"release","apiServerCommit":"0190097d06df0b9065f4c2d2c7873c649d81d493","apiServerVersion":"container-apiserver version 1.2.2 (build: release, commit: 0190097)","appRoot":"\/Users\/me\/Library\/Application Support\/com.apple.container\/","installRoot":"\/usr\/local\/","status":"running"}]=]
    local NESTED = [=[{"client":{"appName":"container","build":"release","commit":"abc","version":"1.5.0"},"host":{"architecture":"arm64","cpus":10,"operatingSystem":"macOS 26.1"},"paths":{"appRoot":"/Users/me/Library/Application Support/com.apple.container/","installRoot":"/usr/local/","logRoot":"/Users/me/Library/Logs/container/"},"resources":{"containersRunning":2,"containersTotal":3,"images":4},"server":{"appName":"container-apiserver","build":"release","commit":"abc","version":"1.4.1"},"status":"running"}]=]

    it("reads the flat shape, taking the server's version out of its text", function()
      assert.same({ status = "running", server_version = "1.2.2",
        app_root = "/Users/me/Library/Application Support/com.apple.container/", install_root = "/usr/local/" },
        apple.parse_system_status(cjson.decode(FLAT)))
      assert.same({ status = "unregistered" }, apple.parse_system_status(cjson.decode(
        [[{"apiServerAppName":"","apiServerBuild":"","apiServerCommit":"","apiServerVersion":"","appRoot":"","installRoot":"","status":"unregistered"}]])))
    end)

    it("reads 1.4.1's nested shape: client and server versions, paths, resources", function()
      assert.same({ status = "running", server_version = "1.4.1", client_version = "1.5.0",
        app_root = "/Users/me/Library/Application Support/com.apple.container/", install_root = "/usr/local/",
        log_root = "/Users/me/Library/Logs/container/", containers_running = 2, containers_total = 3, images = 4 },
        apple.parse_system_status(cjson.decode(NESTED)))
      -- only `status` when the services are down
      assert.same({ status = "not running" }, apple.parse_system_status(cjson.decode([[{"status":"not running"}]])))
    end)

    it("returns nil and a message for output it cannot read", function()
      local r, err = apple.parse_system_status(cjson.decode("[]"))
      assert.is_nil(r)
      assert.equal('system status: no "status" in the CLI\'s JSON', err)
      r, err = apple.parse_system_status("running")
      assert.is_nil(r)
      assert.equal("system status: expected a JSON object, got string", err)
    end)
  end)

  describe("parse_networks", function()
    it("reads the 1.0 shape", function()
      assert.same({
        { name = "default", subnet = "192.168.64.0/24", gateway = "192.168.64.1", subnet_v6 = "fd5e:2a1c:9b0d:1::/64",
          mode = "nat", labels = { ["com.apple.container.resource.role"] = "builtin" }, created = utc(2026, 8, 1, 9, 0, 0) },
        { name = "kind", subnet = "10.89.0.0/24", gateway = "10.89.0.1", mode = "nat",
          labels = { ["io.x-k8s.kind.network"] = "kind" }, created = utc(2026, 8, 8, 16, 55, 0) },
      }, apple.parse_networks(cjson.decode(NETWORKS_1_0)))
    end)

    it("reads the 0.8–0.12 shape with state", function()
      assert.same({
        { name = "kind", state = "running", subnet = "10.89.0.0/24", gateway = "10.89.0.1", mode = "nat",
          labels = { ["io.kina.cluster"] = "kind" }, created = 776000000 + 978307200 },
        { name = "spare", state = "created", mode = "hostOnly", labels = {} },
      }, apple.parse_networks(cjson.decode(NETWORKS_0_12)))
    end)

    it("reads the 0.4-era shape with address/gateway", function()
      assert.same({ { name = "default", state = "running", subnet = "192.168.64.0/24", gateway = "192.168.64.1",
        mode = "nat", labels = {} } }, apple.parse_networks(cjson.decode(NETWORKS_0_4)))
    end)
  end)

  describe("parse_images", function()
    it("reads every shape", function()
      local want = { { reference = "docker.io/kindest/node:v1.35.5", digest = "sha256:ce977ae6" } }
      assert.same(want, apple.parse_images(cjson.decode(IMAGES_1_0)))
      assert.same(want, apple.parse_images(cjson.decode(IMAGES_0_9)))
      assert.same(want, apple.parse_images(cjson.decode(IMAGE_INSPECT_0_9)))
    end)
  end)

  describe("error_cause", function()
    local cases = {
      { 'Error: internalError: "failed to list containers" (cause: "interrupted: "XPC connection error: Connection invalid"")\nEnsure container system service has been started with `container system start`.', 1, "service_not_running" },
      { "apiserver is not running and not registered with launchd", 1, "service_not_running" },
      -- XPCClient.send's deadline (network list: 1 s), unwrapped
      { "Error: XPC timeout for request to com.apple.container.apiserver/networkList", 1, "timeout" },
      { "Error: container with id kind-worker already exists", 1, "name_taken" },
      { "Error: container already exists: kind-worker", 1, "name_taken" },
      { 'Error: exists: "container with id kind-worker already exists"', 1, "name_taken" },
      { "Error: hostname(s) already exist: [\"kind-worker\"]", 1, "name_taken" },
      { "Error: container ID -x is not a valid container ID", 1, "invalid_name" },
      { "Error: container not found: kind-worker", 1, "not_found" },
      { "Error: get failed: container kind-worker not found", 1, "not_found" },
      { 'Error: internalError: "failed to stop container" (cause: "notFound: "container with ID kind-worker not found"")', 1, "not_found" },
      { 'Error: failed to delete one or more containers: ["kind-worker"]', 1, "not_found" },
      { "Error: container kind-worker is not running", 1, "not_running" },
      { 'Error: internalError: "failed to kill container" (cause: "invalidState: "no runtime client exists: container is stopped"")', 1, "not_running" },
      { "Error: minimum memory amount allowed is 200 MiB (got 4096 bytes)", 1, "memory_too_low" },
      { "Error: non-default network configuration requires macOS 26 or newer", 1, "network_needs_macos26" },
      { "Error: Plugin 'container-network' not found.", 64, "network_needs_macos26" },
      { "Error: Plugin 'container-k8s' not found.", 64, "unknown_command" },
      { "Error: Unknown option '--privileged'\nUsage: container run [<options>] <image> [<arguments> ...]", 64, "unknown_option" },
      { "Error: kernel file not found at path /opt/vmlinux", 1, "kernel_missing" },
      { "Error: default kernel not configured for architecture arm64, please use the `container system kernel set` command to configure it", 1, "kernel_missing" },
      { "Permission denied while binding to host port 80. Binding to ports below 1024 requires root privileges.", 1, "port_permission" },
      { "Error: image not found: kindest/node:v9", 1, "image_not_found" },
      { "Error: HTTP request to https://registry-1.docker.io/v2/kindest/node/manifests/v9 failed with response: 404 Not Found.", 1, "image_not_found" },
      { "Error: HTTP request to https://ghcr.io/token?scope=x failed with response: 403 Forbidden. Reason: {}", 1, "registry" },
      { "iptables v1.8.11 (nf_tables): Could not fetch rule set generation id: Invalid argument", 1, "nf_tables" },
      { 'sysctl: permission denied on key "net.ipv4.ip_forward"', 255, "readonly_sysctl" },
      { 'sysctl: setting key "net.ipv4.ip_forward": Read-only file system', 255, "readonly_sysctl" },
      { 'Error: failed to start process (cause: "internalError: "failed to find target executable kubeadm"")', 1, "exec_not_found" },
      { "sh: 1: kubeadm: not found", 127, "exec_not_found" },
      { "", 127, "exec_not_found" },
    }
    for _, case in ipairs(cases) do
      it("classifies " .. case[3] .. ": " .. case[1]:sub(1, 40), function()
        assert.equal(case[3], apple.error_cause(case[1], case[2]))
      end)
    end

    it("returns nil for what it does not know", function()
      assert.is_nil(apple.error_cause("Error: something else broke", 1))
      assert.is_nil(apple.error_cause(nil, 1))
      assert.is_nil(apple.error_cause("touch: /x: Read-only file system", 1))
    end)
  end)
end)
