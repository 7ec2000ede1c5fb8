-- kina: Kubernetes in Apple container. `luarocks --lua-version=5.4 make --deps-mode=none` from a
-- checkout builds the C core and installs the Lua modules, the workflow scripts and `kina`.
rockspec_format = "3.0"
package = "kina"
version = "scm-1"
source = {
  url = "git+https://github.com/kina-sh/kina.git",
}
description = {
  summary = "Local Kubernetes clusters on Apple's container runtime, the way kind does on Docker",
  detailed = [[
kina creates, loads and deletes local Kubernetes clusters (kindest/node images) on Apple's
`container` runtime. A C core (process runner, node spec builder, Apple CLI marshalling) under
Lua modules and workflow scripts that users can read, copy and change.
]],
  license = "Apache-2.0",
  labels = { "kubernetes", "kind", "macos", "containers" },
}
dependencies = {
  "lua >= 5.4, < 5.5",
  "luv",
  "lua-cjson",
  "lyaml",
}
test_dependencies = {
  "busted",
}
build = {
  type = "builtin",
  -- lua/ is copied into the module tree as a whole (kina/*.lua); C modules and scripts are listed.
  modules = {
    ["kina.core.runner"] = { sources = { "core/runner.c" } },
    ["kina.core.spec"] = { sources = { "core/spec.c" } },
    ["kina.core.apple"] = { sources = { "core/apple.c" } },
    ["kina.core.fs"] = { sources = { "core/fs.c" } },
    ["kina.core.digest"] = { sources = { "core/digest.c" } },
    ["kina.scripts.complete"] = "scripts/complete.lua",
    ["kina.scripts.completion"] = "scripts/completion.lua",
    ["kina.scripts.create"] = "scripts/create.lua",
    ["kina.scripts.delete"] = "scripts/delete.lua",
    ["kina.scripts.delete_clusters"] = "scripts/delete_clusters.lua",
    ["kina.scripts.doctor"] = "scripts/doctor.lua",
    ["kina.scripts.export_kubeconfig"] = "scripts/export_kubeconfig.lua",
    ["kina.scripts.export_logs"] = "scripts/export_logs.lua",
    ["kina.scripts.get_clusters"] = "scripts/get_clusters.lua",
    ["kina.scripts.get_kubeconfig"] = "scripts/get_kubeconfig.lua",
    ["kina.scripts.get_nodes"] = "scripts/get_nodes.lua",
    ["kina.scripts.load_archive"] = "scripts/load_archive.lua",
    ["kina.scripts.load_image"] = "scripts/load_image.lua",
    ["kina.scripts.start"] = "scripts/start.lua",
    ["kina.scripts.stop"] = "scripts/stop.lua",
    ["kina.scripts.version"] = "scripts/version.lua",
  },
  install = {
    bin = { kina = "scripts/kina" },
  },
}
test = {
  type = "busted",
}
