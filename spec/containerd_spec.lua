-- kina.containerd: a node's containerd config merged as kind merges it, the snapshotter read
-- back, and the import command per containerd version.
local containerd = require "kina.containerd"
local toml = require "kina.toml"

local KIND_CONFIG = assert(dofile("spec/support/world.lua").read("spec/fixtures/containerd/kind-config.toml"))
-- kind's local-registry guide (site/content/docs/user/local-registry.md)
local LOCAL_REGISTRY_PATCH = '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n'

local function cri(doc) return doc.plugins["io.containerd.grpc.v1.cri"] end

describe("kina.containerd", function()
  describe("patch_config", function()
    it("sets the snapshotter in config.toml itself and keeps every other setting", function()
      local text, warnings = containerd.patch_config(KIND_CONFIG, { snapshotter = "native" })
      assert.are.same({}, warnings)
      local doc = assert(toml.parse(text))
      assert.are.equal(2, doc.version)
      assert.is_nil(doc.imports)
      assert.are.equal("native", cri(doc).containerd.snapshotter)
      local before = assert(toml.parse(KIND_CONFIG))
      cri(before).containerd.snapshotter = "native"
      assert.are.same(before, doc)
    end)

    it("merges kind's local-registry patch: tables merged, keys replaced", function()
      local text = containerd.patch_config(KIND_CONFIG, { snapshotter = "native", patches = { LOCAL_REGISTRY_PATCH,
        '[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.10.1"\n' } })
      local doc = assert(toml.parse(text))
      assert.are.equal("/etc/containerd/certs.d", cri(doc).registry.config_path)
      assert.are.equal("registry.k8s.io/pause:3.10.1", cri(doc).sandbox_image)
      assert.is_true(cri(doc).tolerate_missing_hugepages_controller)
      assert.are.equal("native", cri(doc).containerd.snapshotter)
      assert.is_true(cri(doc).containerd.runtimes.runc.options.SystemdCgroup)
    end)

    it("lets a patch choose another snapshotter than kina's", function()
      local text = containerd.patch_config(KIND_CONFIG, { snapshotter = "native",
        patches = { '[plugins."io.containerd.grpc.v1.cri".containerd]\nsnapshotter = "overlayfs"\n' } })
      assert.are.equal("overlayfs", cri(assert(toml.parse(text))).containerd.snapshotter)
    end)

    it("sets the snapshotter where version 3 and 4 configs keep it", function()
      for _, v in ipairs{ 3, 4 } do
        local text = containerd.patch_config(("version = %d\n[plugins.'io.containerd.cri.v1.images']\nsnapshotter = 'overlayfs'\n"):format(v),
          { snapshotter = "native" })
        assert.are.equal("native", assert(toml.parse(text)).plugins["io.containerd.cri.v1.images"].snapshotter)
      end
    end)

    it("skips a patch written for another config version and says so, as kind skips it", function()
      local text, warnings = containerd.patch_config(KIND_CONFIG, { patches = {
        "version = 3\n[plugins.'io.containerd.cri.v1.images'.registry]\nconfig_path = '/x'\n", LOCAL_REGISTRY_PATCH } })
      local doc = assert(toml.parse(text))
      assert.is_nil(doc.plugins["io.containerd.cri.v1.images"])
      assert.are.equal("/etc/containerd/certs.d", cri(doc).registry.config_path)
      assert.are.same({ "containerdConfigPatches[1] sets version = 3 but the node's containerd config is version 2: skipped, as kind does" }, warnings)
    end)

    it("applies JSON 6902 patches after the merge patches", function()
      local text = containerd.patch_config(KIND_CONFIG, { patches = { LOCAL_REGISTRY_PATCH }, patches_json6902 = {
        '- op: replace\n  path: /plugins/io.containerd.grpc.v1.cri/registry/config_path\n  value: /etc/registry.d\n',
        '[{"op": "add", "path": "/plugins/io.containerd.grpc.v1.cri/containerd/runtimes/runc/options/BinaryName", "value": "runc"}]',
      } })
      local doc = assert(toml.parse(text))
      assert.are.equal("/etc/registry.d", cri(doc).registry.config_path)
      assert.are.equal("runc", cri(doc).containerd.runtimes.runc.options.BinaryName)
    end)

    it("names the patch that is not TOML, and the node's file when it is not", function()
      assert.has_error(function() containerd.patch_config(KIND_CONFIG, { patches = { "ok = 1\n", "[broken\n" } }) end,
        "containerdConfigPatches[2]: not valid TOML (line 1: expected ] after a table header)")
      assert.has_error(function() containerd.patch_config("version = \n", { snapshotter = "native" }) end,
        "the node's /etc/containerd/config.toml is not valid TOML (line 1: expected a value, found the end of the line)")
      assert.has_error(function() containerd.patch_config("[plugins]\n", { snapshotter = "native" }) end,
        "the node's /etc/containerd/config.toml has no `version = N` line, so kina cannot tell where its settings live")
      assert.has_error(function() containerd.patch_config("version = 9\n", { snapshotter = "native" }) end,
        "the node's /etc/containerd/config.toml is containerd config version 9; kina knows where the snapshotter is set in versions 2, 3 and 4 only")
    end)
  end)

  describe("snapshotter", function()
    it("reads the CRI snapshotter from a version 2 dump (containerd 1.x)", function()
      assert.are.equal("native", containerd.snapshotter('version = 2\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    [plugins."io.containerd.grpc.v1.cri".containerd]\n      snapshotter = "native"\n'))
    end)

    it("reads it from a version 3 dump as containerd 2.x prints it (single quotes)", function()
      assert.are.equal("native", containerd.snapshotter("version = 3\n[plugins]\n  [plugins.'io.containerd.cri.v1.images']\n    snapshotter = 'native'\n"))
    end)

    it("says why when it cannot", function()
      local snap, err = containerd.snapshotter("version = 3\n")
      assert.is_nil(snap)
      assert.are.equal("containerd config dump names no CRI snapshotter (plugins.io.containerd.cri.v1.images.snapshotter)", err)
      snap, err = containerd.snapshotter("not toml")
      assert.is_nil(snap)
      assert.matches("^containerd config dump is not TOML: line 1", err)
    end)
  end)

  describe("parse_version", function()
    it("reads upstream and Debian builds", function()
      assert.are.equal("2.2.0", containerd.parse_version("containerd github.com/containerd/containerd/v2 v2.2.0 1c4457e00facac03ce1d75f7b6777a7a851e5c41\n"))
      assert.are.equal("1.7.24", containerd.parse_version("containerd github.com/containerd/containerd v1.7.24 88bf19b2105c8b17560993bee28a01ddc2f97182\n"))
      assert.are.equal("1.6.20", containerd.parse_version("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n"))
      assert.is_nil(containerd.parse_version("bash: containerd: command not found"))
    end)
  end)

  describe("import_argv", function()
    it("imports locally on containerd 2.x and for the node's platform only", function()
      assert.are.same({ "ctr", "--namespace=k8s.io", "images", "import", "--digests", "--platform=linux/arm64",
        "--snapshotter=native", "--local", "-" }, containerd.import_argv{ version = "2.2.0", snapshotter = "native", platform = "linux/arm64" })
    end)

    it("leaves --local out where ctr has no such flag", function()
      local argv = containerd.import_argv{ version = "1.6.20", snapshotter = "overlayfs", platform = "linux/arm64" }
      for _, a in ipairs(argv) do assert.are_not.equal("--local", a) end
      assert.are.equal("--snapshotter=overlayfs", argv[#argv - 1])
    end)

    it("raises on misuse", function()
      assert.has_error(function() containerd.import_argv{ version = "2.2.0" } end,
        "containerd.import_argv: opts.snapshotter must be a snapshotter name")
    end)
  end)
end)
