-- kina.provider: KINA_PROVIDER chooses, else detection as kind's (kind-and-peers §1.2).
local provider = require "kina.provider"
local common = require "kina.provider.common"
local async = require "kina.async"

local function world(env, system, binaries, files)
  return {
    getenv = function(k) return env[k] end,
    system = system,
    find = function(b) return binaries[b] and ("/usr/bin/" .. b) or nil end,
    exists = function(path) return files and files[path] or false end,
  }
end

describe("kina.provider.choose", function()
  it("takes KINA_PROVIDER's value, and refuses an unknown one naming the variable", function()
    assert.equal("podman", (provider.choose(world({ KINA_PROVIDER = "podman" }, "Linux", {}))))
    assert.equal("docker", (provider.choose(world({ KINA_PROVIDER = "docker" }, "Darwin", {}))))
    assert.equal("apple", (provider.choose(world({ KINA_PROVIDER = "apple" }, "Linux", {}))))
    local ok, err = pcall(provider.choose, world({ KINA_PROVIDER = "nerdctl" }, "Linux", { podman = true }))
    assert.is_false(ok)
    assert.is_true(common.is_error(err))
    assert.matches('KINA_PROVIDER="nerdctl" is not a provider kina knows', tostring(err), 1, true)
    assert.matches("apple, podman, docker", tostring(err), 1, true)
  end)

  it("detects Apple's CLI on macOS, then Docker with an engine, then podman", function()
    assert.equal("apple", (provider.choose(world({}, "Darwin", { container = true, docker = true }))))
    assert.equal("docker", (provider.choose(world({}, "Darwin", { docker = true }, { ["/var/run/docker.sock"] = true }))))
    assert.equal("docker", (provider.choose(world({ DOCKER_HOST = "tcp://h:2375" }, "Linux", { docker = true, podman = true }))))
    -- Docker's CLI without an engine (this machine): podman
    assert.equal("podman", (provider.choose(world({}, "Linux", { docker = true, podman = true }))))
    assert.equal("apple", (provider.choose(world({}, "Darwin", {}))))
    local ok, err = pcall(provider.choose, world({}, "Linux", { docker = true }))
    assert.is_false(ok)
    assert.matches("no container runtime found", tostring(err))
  end)

  it("takes KINA_CONTAINER to mean Apple's CLI (or its simulator), and a `container` on Linux's PATH only after podman", function()
    assert.equal("apple", (provider.choose(world({ KINA_CONTAINER = "/opt/sim/container" }, "Linux", { podman = true }))))
    assert.equal("podman", (provider.choose(world({ KINA_CONTAINER = "/x", KINA_PROVIDER = "podman" }, "Linux", {}))))
    assert.equal("podman", (provider.choose(world({}, "Linux", { container = true, podman = true }))))
    local name, why = provider.choose(world({}, "Linux", { container = true }))
    assert.equal("apple", name)
    assert.matches("simulator", why)
  end)

  it("makes the chosen provider", function()
    local sched <close> = async.new()
    assert.equal("podman", provider.new{ name = "podman", scheduler = sched }.runtime)
    assert.equal("docker", provider.new{ name = "docker", scheduler = sched }.binary)
    assert.equal("apple", provider.new{ name = "apple", scheduler = sched }.name)
    assert.has_error(function() provider.new{ name = "lxc", scheduler = sched } end)
  end)
end)
