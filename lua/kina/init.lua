--- kina — Kubernetes in Apple container: the Lua API.
--
--   local kina = require "kina"
--   kina.run(function(k)                     -- k: a scheduler (kina.async)
--     local a = k:spawn{ argv = { "container", "list", "--all", "--format", "json" } }
--     local r = k:await(a)
--   end)
--
-- Requiring kina creates no globals and keeps no shared mutable state: every scheduler, provider
-- and cluster is an object of its own, so several can live in one program.

local async = require "kina.async"

local kina = {
  _VERSION = "0.1.0",
  async = async,
}

--- A new scheduler (see kina.async.new).
function kina.scheduler(opts)
  return async.new(opts)
end

--- Run `fn(scheduler, ...)` on a fresh scheduler, drive it to the end and close it.
function kina.run(fn, opts, ...)
  return async.run(fn, opts, ...)
end

--- A cluster handle (see kina.cluster): kina.cluster{ name = "dev", config = "dev.yaml" }.
function kina.cluster(opts)
  return require("kina.cluster").new(opts)
end

--- The runtime that runs the nodes (see kina.provider: KINA_PROVIDER, else detected; opts.name
-- chooses "apple", "podman" or "docker"); needs a scheduler.
function kina.provider(opts)
  return require("kina.provider").new(opts)
end

--- A kind-style status writer (see kina.status).
function kina.status(opts)
  return require("kina.status").new(opts)
end

--- Load a cluster configuration: a Lua file returning a table, or kind's YAML (see kina.config).
function kina.config(path, opts)
  return require("kina.config").load(path, opts)
end

return kina
