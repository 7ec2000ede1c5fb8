-- A real podman or Docker for the Linux provider's specs (spec/podman_provider_spec.lua).
--
-- No image can be pulled here, so the node image is made: a root file system of this host's
-- own programs (sh, cat, cp, ... and the libraries ldd names), imported with `import` and a
-- command that prints systemd's "Reached target Multi-User System." (the line kina waits for,
-- kind-and-peers §2.4) and then waits, leaving on SIGTERM as systemd would.
--
-- podman as root runs here with runc and cgroupfs given a containers.conf (issue 16): the spec
-- writes one into a temporary directory and points CONTAINERS_CONF at it for every call.
local uv = require "luv"

local R = {}

R.IMAGE = "localhost/kina-spec-node:1"

R.CONTAINERS_CONF = table.concat({
  "[containers]",
  "default_ulimits = []",
  "[engine]",
  'runtime = "runc"',
  'cgroup_manager = "cgroupfs"',
  'events_logger = "file"',
  "",
}, "\n")

-- The node's command: PID 1 is sh, which has no default SIGTERM action, hence the trap.
R.COMMAND = { "/bin/sh", "-c",
  "trap 'exit 0' TERM; echo 'Reached target Multi-User System.'; while :; do sleep 1 & wait $!; done" }

-- The programs the conformance suite and the podman spec run in a node.
R.PROGRAMS = { "sh", "cat", "cp", "mkdir", "chmod", "sleep", "ls", "rm", "true", "false", "env", "tar" }

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
R.quote = q

local function run(cmd)
  local p = io.popen(cmd .. " 2>&1", "r")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok == true, out, code
end
R.sh = run

local function which(binary)
  for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    local path = dir .. "/" .. binary
    if uv.fs_access(path, "X") then return path end
  end
  return nil
end
R.which = which

-- Copy `path` (a host program or library) into rootfs at the same path, resolving links.
local function copy_in(rootfs, path, as)
  local dest = rootfs .. (as or path)
  assert(run("mkdir -p " .. q(dest:match("^(.*)/")) .. " && cp -L " .. q(path) .. " " .. q(dest)))
end

--- Make the node image's root file system in `dir`; returns the tar's path.
function R.make_rootfs(dir)
  local rootfs = dir .. "/rootfs"
  assert(run("mkdir -p " .. q(rootfs) .. "/bin " .. q(rootfs) .. "/etc " .. q(rootfs) .. "/tmp " .. q(rootfs) .. "/proc "
    .. q(rootfs) .. "/sys " .. q(rootfs) .. "/dev " .. q(rootfs) .. "/run " .. q(rootfs) .. "/var"))
  local libs = {}
  for _, name in ipairs(R.PROGRAMS) do
    local path = assert(which(name), "no " .. name .. " on this host")
    copy_in(rootfs, path, "/bin/" .. name)
    local _, out = run("ldd " .. q(path))
    for lib in out:gmatch("(/[^%s]+)") do libs[lib] = true end
  end
  for lib in pairs(libs) do copy_in(rootfs, lib) end
  local tarball = dir .. "/rootfs.tar"
  assert(run("tar -C " .. q(rootfs) .. " -cf " .. q(tarball) .. " ."))
  return tarball
end

---------------------------------------------------------------------------------------------
-- The simulated kindest/node image: this simulator's node inside a real container

--- Its reference: "kindest/node" in it makes the simulator treat it as a kind node, and the
-- tag is the Kubernetes version it models (kina.sim.node.release).
R.NODE_IMAGE = "localhost/kindest/node:v1.35.5"

-- Where the image keeps kina's Lua modules and the C modules they load.
local SIM_LUA, SIM_LIB = "/opt/kina-sim/lua", "/opt/kina-sim/lib"
local LUA = "/usr/bin/lua5.4"
local PREAMBLE = table.concat({
  "#!" .. LUA,
  ("package.path = %q"):format(SIM_LUA .. "/?.lua;" .. SIM_LUA .. "/?/init.lua"),
  ("package.cpath = %q"):format(SIM_LIB .. "/?.so"),
  "",
}, "\n")
-- every program of the node is the simulator's (kina.sim.node.agent.tool), by its name
local TOOL = PREAMBLE .. 'os.exit(require("kina.sim.node.agent").tool(arg[0]:match("[^/]+$"), arg), true)\n'
local INIT = PREAMBLE .. 'require("kina.sim.node.agent").main()\n'

local function lua_module_file(name, path)
  local found = package.searchpath(name, path)
  return assert(found, "no " .. name .. " for this Lua (" .. path .. ")")
end

--- Make the simulated node image's root file system in `dir`: Lua 5.4 and the libraries it and
-- its modules (luv, cjson, lyaml, kina's C core) link, kina's Lua modules, the files of a kind
-- node as the simulator makes them (kina.sim.node.init_rootfs), and every program the simulated
-- node knows as a script running it. Returns the tar's path.
function R.make_node_rootfs(dir, root_dir, build_lib)
  local rootfs = dir .. "/node-rootfs"
  local node = require "kina.sim.node"
  assert(node.init_rootfs(rootfs, { id = "node", hostname = "node", image = R.NODE_IMAGE }))
  local libs = {}
  local function with_libs(path)
    local _, out = run("ldd " .. q(path))
    for lib in out:gmatch("(/[^%s]+)") do libs[lib] = true end
  end
  copy_in(rootfs, LUA)
  with_libs(LUA)
  local cmods = { luv = "luv", cjson = "cjson", yaml = "yaml" }
  for name, file in pairs(cmods) do
    local path = lua_module_file(name, package.cpath)
    copy_in(rootfs, path, SIM_LIB .. "/" .. file .. ".so")
    with_libs(path)
  end
  local core = build_lib .. "/kina/core"
  local _, names = run("ls " .. q(core))
  for so in names:gmatch("%S+%.so") do
    copy_in(rootfs, core .. "/" .. so, SIM_LIB .. "/kina/core/" .. so)
    with_libs(core .. "/" .. so)
  end
  for lib in pairs(libs) do copy_in(rootfs, lib) end
  -- lyaml's Lua side, and kina's own modules
  local lyaml_file = lua_module_file("lyaml", package.path)
  local lyaml_dir = lyaml_file:match("^(.*)/lyaml/init%.lua$") or lyaml_file:match("^(.*)/lyaml%.lua$")
  assert(run("mkdir -p " .. q(rootfs .. SIM_LUA) .. " && cp -rL " .. q(lyaml_dir .. "/lyaml") .. " " .. q(rootfs .. SIM_LUA .. "/")))
  assert(run("cp -rL " .. q(root_dir .. "/lua/kina") .. " " .. q(rootfs .. SIM_LUA .. "/")))
  -- the programs: kind's node tools, the basic commands, and whatever else the simulator runs
  local paths = {}
  for name, path in pairs(node.NODE_TOOLS) do paths[path] = name end
  for name in pairs(node.commands) do
    if not name:match("^__") then paths["/usr/bin/" .. name] = name end
  end
  for _, name in ipairs({ "sh", "cat", "cp", "mkdir", "echo", "true", "false", "uname", "hostname", "rm", "mv", "sleep",
      "chmod", "ls", "dash", "tar", "test", "printf", "env", "id", "whoami", "touch" }) do
    paths["/bin/" .. name] = name
  end
  paths["/usr/sbin/sysctl"] = "sysctl"
  local function write_program(path, text)
    local f = assert(io.open(rootfs .. path, "w"))
    f:write(text)
    f:close()
    assert(run("chmod 755 " .. q(rootfs .. path)))
  end
  for path in pairs(paths) do write_program(path, TOOL) end
  write_program("/usr/local/bin/kina-sim-init", INIT)
  local tarball = dir .. "/node-rootfs.tar"
  assert(run("tar -C " .. q(rootfs) .. " -cf " .. q(tarball) .. " ."))
  return tarball
end

--- Why `binary` cannot run containers here, or nil when it can. env: extra environment.
function R.unusable(binary, env_prefix)
  if uv.os_uname().sysname ~= "Linux" then return "podman and Docker nodes are tested on Linux only" end
  if not which(binary) then return binary .. " is not installed (on Debian `make deps` installs podman and runc)" end
  if binary == "podman" and uv.getuid() ~= 0 then
    return "podman runs here as root only (rootful, runc, cgroupfs); this spec runs as uid " .. uv.getuid()
  end
  local ok, out = run(env_prefix .. q(binary) .. " info")
  if not ok then
    return ("`%s info` fails, so %s cannot run containers here: %s"):format(binary, binary, (out:gsub("%s+$", ""):gsub("\n", " ")))
  end
  return nil
end

--- Set up `binary` for the specs: the containers.conf (podman) and the node image. Returns
-- {binary, env (for the provider), prefix (for shell commands), dir, close}, or nil and why.
function R.open(binary)
  local dir = assert(uv.fs_mkdtemp("/tmp/kina-linux-runtime-XXXXXX"))
  local env, prefix = {}, ""
  if binary == "podman" then
    local conf = dir .. "/containers.conf"
    local f = assert(io.open(conf, "w"))
    f:write(R.CONTAINERS_CONF)
    f:close()
    env.CONTAINERS_CONF = conf
    prefix = "CONTAINERS_CONF=" .. q(conf) .. " "
  end
  local why = R.unusable(binary, prefix)
  if why then
    run("rm -rf " .. q(dir))
    return nil, why
  end
  local tarball = R.make_rootfs(dir)
  local cmd_json = {}
  for i, a in ipairs(R.COMMAND) do cmd_json[i] = require("kina.json").encode(a) end
  local change = "CMD [" .. table.concat(cmd_json, ",") .. "]"
  local ok, out = run(prefix .. q(binary) .. " import --change " .. q(change) .. " " .. q(tarball) .. " " .. q(R.IMAGE))
  assert(ok, "import of the node image failed: " .. out)
  local rt = { binary = binary, env = env, prefix = prefix, dir = dir }
  function rt.sh(cmd) return run(prefix .. q(binary) .. " " .. cmd) end
  -- the provider's default network is shared by clusters and outlives them; the spec removes
  -- it at the end only when it made it
  local had_default_network = rt.sh("network inspect kina")
  --- Remove every container, volume and network of `cluster` (by label and name).
  function rt.remove_cluster(cluster)
    local _, names = rt.sh("ps -a --format '{{.Names}}' --filter label=io.kina.cluster=" .. q(cluster))
    for name in names:gmatch("%S+") do rt.sh("rm -f -v " .. q(name)) end
    local _, vols = rt.sh("volume ls --format '{{.Name}}' --filter label=io.kina.cluster=" .. q(cluster))
    for vol in vols:gmatch("%S+") do rt.sh("volume rm -f " .. q(vol)) end
    local _, nets = rt.sh("network ls --format '{{.Name}}'")
    for net in nets:gmatch("%S+") do
      if net:sub(1, #cluster + 1) == cluster .. "-" then rt.sh("network rm " .. q(net)) end
    end
  end
  --- What of `cluster` is left: container, volume and network names.
  function rt.leftovers(cluster)
    local left = {}
    local _, names = rt.sh("ps -a --format '{{.Names}}' --filter label=io.kina.cluster=" .. q(cluster))
    for n in names:gmatch("%S+") do left[#left + 1] = "container " .. n end
    local _, vols = rt.sh("volume ls --format '{{.Name}}' --filter label=io.kina.cluster=" .. q(cluster))
    for v in vols:gmatch("%S+") do left[#left + 1] = "volume " .. v end
    local _, nets = rt.sh("network ls --format '{{.Name}}'")
    for net in nets:gmatch("%S+") do
      if net:sub(1, #cluster + 1) == cluster .. "-" then left[#left + 1] = "network " .. net end
    end
    return left
  end
  --- Import the simulated kindest/node (R.NODE_IMAGE) once; `root_dir` is the repository,
  -- `build_lib` the built C modules (build/lib).
  function rt.node_image(root_dir, build_lib)
    if rt.has_node_image then return R.NODE_IMAGE end
    local tar = R.make_node_rootfs(dir, root_dir, build_lib)
    local changes = {
      'CMD ["/usr/local/bin/kina-sim-init"]',
      "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "ENV KINA_SIM_IMAGE=" .. R.NODE_IMAGE,
    }
    local cmd = prefix .. q(binary) .. " import"
    for _, c in ipairs(changes) do cmd = cmd .. " --change " .. q(c) end
    local ok, out = run(cmd .. " " .. q(tar) .. " " .. q(R.NODE_IMAGE))
    assert(ok, "import of the simulated node image failed: " .. out)
    rt.has_node_image = true
    return R.NODE_IMAGE
  end
  function rt.close()
    rt.sh("rmi -f " .. q(R.IMAGE))
    if rt.has_node_image then rt.sh("rmi -f " .. q(R.NODE_IMAGE)) end
    if not had_default_network then rt.sh("network rm kina") end
    run("rm -rf " .. q(dir))
  end
  return rt
end

return R
