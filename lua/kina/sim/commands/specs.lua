--- kina.sim.commands.specs — the option tables of every simulated command, per release
-- (reference §2; `since`/`till` are the releases that have the option).
local M = {}

local function opt(names, value, extra)
  local o = extra or {}
  o.names = names
  o.value = value
  return o
end

local FORMATS = { "json", "table" }
local FORMATS_12 = { "json", "table", "yaml", "toml" }

local function format_opts()
  return {
    opt({ "--format" }, "format", { choices = FORMATS, till = "0.12.0", help = "Format of the output" }),
    opt({ "--format" }, "format", { choices = FORMATS_12, since = "0.12.0", help = "Format of the output" }),
  }
end

local function append(list, more)
  for _, o in ipairs(more) do list[#list + 1] = o end
  return list
end

M.process_options = {
  opt({ "-e", "--env" }, "env", { rep = true, help = "Set environment variables (format: key=value)" }),
  opt({ "--env-file" }, "env-file", { rep = true, help = "Read in a file of environment variables (key=value format, ignores # comments and blank lines)" }),
  opt({ "--gid" }, "gid", { kind = "uint", help = "Set the group ID for the process" }),
  opt({ "-i", "--interactive" }, nil, { help = "Keep the standard input open even if not attached" }),
  opt({ "-t", "--tty" }, nil, { help = "Open a TTY with the process" }),
  opt({ "-u", "--user" }, "user", { help = "Set the user for the process (format: name|uid[:gid])" }),
  opt({ "--uid" }, "uid", { kind = "uint", help = "Set the user ID for the process" }),
  opt({ "-w", "--workdir", "--cwd" }, "dir", { key = "workdir", help = "Set the initial working directory inside the container" }),
  opt({ "--ulimit" }, "ulimit", { rep = true, since = "0.9.0", help = "Set resource limits (format: <type>=<soft>[:<hard>])" }),
}

local function run_create_options(is_run)
  local o = {}
  append(o, M.process_options)
  append(o, {
    opt({ "-c", "--cpus" }, "cpus", { kind = "int", help = "Number of CPUs to allocate to the container" }),
    opt({ "-m", "--memory" }, "memory", { help = "Amount of memory (1MiByte granularity), with optional K, M, G, T, or P suffix" }),
    opt({ "-a", "--arch" }, "arch", { help = "Set arch if image can target multiple architectures" }),
    opt({ "--cap-add" }, "cap", { rep = true, since = "0.12.0", key = "cap_add", help = "Add a Linux capability (e.g. CAP_NET_RAW, or ALL)" }),
    opt({ "--cap-drop" }, "cap", { rep = true, since = "0.12.0", key = "cap_drop", help = "Drop a Linux capability (e.g. CAP_NET_RAW, or ALL)" }),
    opt({ "--cidfile" }, "cidfile", { help = "Write the container ID to the path provided" }),
    opt({ "-d", "--detach" }, nil, { help = "Run the container and detach from the process" }),
    opt({ "--dns" }, "ip", { rep = true, help = "DNS nameserver IP address" }),
    opt({ "--dns-domain" }, "domain", { help = "Default DNS domain" }),
    opt({ "--dns-option" }, "option", { rep = true, help = "DNS options" }),
    opt({ "--dns-search" }, "domain", { rep = true, help = "DNS search domains" }),
    opt({ "--entrypoint" }, "cmd", { help = "Override the entrypoint of the image" }),
    opt({ "--init" }, nil, { since = "0.10.0", help = "Run an init process inside the container" }),
    opt({ "--init-image" }, "image", { since = "0.10.0", help = "Use a custom init image" }),
    opt({ "-k", "--kernel" }, "path", { help = "Set a custom kernel path" }),
    opt({ "--kernel-arg" }, "arg", { rep = true, since = "1.2.0", help = "Append a kernel command line argument" }),
    opt({ "-l", "--label" }, "label", { rep = true, help = "Add a key=value label to the container" }),
    opt({ "--masked-path" }, "path", { rep = true, since = "1.2.1", key = "masked_path", help = "Mask a path in the container (EXPERIMENTAL; NONE clears the defaults)" }),
    opt({ "--mount" }, "mount", { rep = true, help = "Add a mount to the container (format: type=<>,source=<>,target=<>,readonly)" }),
    opt({ "--name" }, "name", { help = "Use the specified name as the container ID" }),
    opt({ "--network" }, "network", { rep = true, since = "0.2.0", help = "Attach the container to a network (format: <name>[,mac=XX:XX:XX:XX:XX:XX][,mtu=VALUE])" }),
    opt({ "--no-dns" }, nil, { help = "Do not configure DNS in the container" }),
    opt({ "--os" }, "os", { help = "Set OS if image can target multiple operating systems" }),
    opt({ "-p", "--publish" }, "spec", { rep = true, since = "0.3.0", help = "Publish a port from container to host (format: [host-ip:]host-port:container-port[/protocol])" }),
    opt({ "--platform" }, "platform", { since = "0.4.0", help = "Platform for the image if it's multi-platform. This takes precedence over --os and --arch" }),
    opt({ "--publish-socket" }, "spec", { rep = true, since = "0.2.0", help = "Publish a socket from container to host (format: host_path:container_path)" }),
    opt({ "--read-only" }, nil, { since = "0.8.0", help = "Mount the container's root filesystem as read-only" }),
    opt({ "--read-only-path" }, "path", { rep = true, since = "1.2.1", key = "read_only_path", help = "Make a path read-only in the container (EXPERIMENTAL; NONE clears the defaults)" }),
    opt({ "--rm", "--remove" }, nil, { key = "remove", help = "Remove the container after it stops" }),
    opt({ "--rosetta" }, nil, { since = "0.7.0", help = "Enable Rosetta in the container" }),
    opt({ "--runtime" }, "runtime", { since = "0.10.0", help = "Set the runtime handler for the container (default: container-runtime-linux)" }),
    opt({ "--shm-size" }, "size", { since = "1.0.0", help = "Size of /dev/shm (format: <number>[<unit>])" }),
    opt({ "--ssh" }, nil, { since = "0.4.0", help = "Forward SSH agent socket to container" }),
    opt({ "--tmpfs" }, "tmpfs", { rep = true, help = "Add a tmpfs mount to the container at the given path" }),
    opt({ "-v", "--volume" }, "volume", { rep = true, help = "Bind mount a volume into the container" }),
    opt({ "--virtualization" }, nil, { since = "0.3.0", help = "Expose virtualization capabilities to the container" }),
    opt({ "--scheme" }, "scheme", { till = "1.3.0", choices = { "http", "https", "auto" }, help = "Scheme to use when connecting to the container registry. One of (http, https, auto)" }),
    -- 1.3.0: auto removed, the value checked when used (`unsupported scheme X`, PR 2100)
    opt({ "--scheme" }, "scheme", { since = "1.3.0", help = "Scheme to use when connecting to the container registry. One of (http, https)" }),
    opt({ "--disable-progress-updates" }, nil, { till = "0.7.0", help = "Disable progress bar updates" }),
    opt({ "--max-concurrent-downloads" }, "count", { kind = "int", since = "0.7.1", help = "Maximum number of concurrent downloads (default: 3)" }),
  })
  if is_run then
    o[#o + 1] = opt({ "--progress" }, "type", { since = "0.7.0", choices = { "auto", "none", "ansi", "plain", "color" }, help = "Progress type (format: none|ansi)" })
  end
  table.sort(o, function(a, b) return a.names[#a.names] < b.names[#b.names] end)
  return o
end

M.run = {
  path = "run", abstract = "Run a container",
  usage = "[<options>] <image> [<arguments> ...]",
  options = run_create_options(true),
  args = { { name = "image", help = "Image name" },
    { name = "arguments", passthrough = true, optional = true, help = "Container init process arguments" } },
}

M.create = {
  path = "create", abstract = "Create a new container",
  usage = "[<options>] <image> [<arguments> ...]",
  options = run_create_options(false),
  args = { { name = "image", help = "Image name" },
    { name = "arguments", passthrough = true, optional = true, help = "Container init process arguments" } },
}

M.start = {
  path = "start", abstract = "Start a container", usage = "[--attach] [--interactive] [--debug] <container-id>",
  options = { opt({ "-a", "--attach" }, nil, { help = "Attach stdout/stderr" }),
    opt({ "-i", "--interactive" }, nil, { help = "Attach stdin" }) },
  args = { { name = "container-id", help = "Container ID" } },
}

M.stop = {
  path = "stop", abstract = "Stop one or more running containers",
  usage = "[--all] [--signal <signal>] [--time <time>] [--debug] [<container-ids> ...]",
  options = { opt({ "-a", "--all" }, nil, { help = "Stop all running containers" }),
    opt({ "-s", "--signal" }, "signal", { help = "Signal to send to the containers" }),
    opt({ "-t", "--time" }, "time", { kind = "int", help = "Seconds to wait before killing the containers" }) },
  args = { { name = "container-ids", variadic = true, optional = true, help = "Container IDs" } },
}

M.kill = {
  path = "kill", abstract = "Kill or signal one or more running containers",
  usage = "[--all] [--signal <signal>] [--debug] [<container-ids> ...]",
  options = { opt({ "-a", "--all" }, nil, { help = "Kill or signal all running containers" }),
    opt({ "-s", "--signal" }, "signal", { help = "Signal to send to the containers" }) },
  args = { { name = "container-ids", variadic = true, optional = true, help = "Container IDs" } },
}

M.delete = {
  path = "delete", abstract = "Delete one or more containers",
  usage = "[--all] [--force] [--debug] [<container-ids> ...]",
  options = { opt({ "-a", "--all" }, nil, { help = "Delete all containers" }),
    opt({ "-f", "--force" }, nil, { help = "Delete containers even if they are running" }) },
  args = { { name = "container-ids", variadic = true, optional = true, help = "Container IDs" } },
}

M.list = {
  path = "list", abstract = "List containers", usage = "[--all] [--format <format>] [--quiet] [--debug]",
  options = append({ opt({ "-a", "--all" }, nil, { help = "Include containers that are not running" }),
    opt({ "-q", "--quiet" }, nil, { help = "Only output the container ID" }) }, format_opts()),
  args = {},
}

M.inspect = {
  path = "inspect", abstract = "Display information about one or more containers",
  usage = "[--debug] <container-ids> ...",
  options = {},
  args = { { name = "container-ids", variadic = true, help = "Container IDs" } },
}

M.exec = {
  path = "exec", abstract = "Run a new command in a running container",
  usage = "[<options>] <container-id> <arguments> ...",
  options = append({ opt({ "-d", "--detach" }, nil, { since = "0.7.0", help = "Run the process and detach from it" }) },
    M.process_options),
  args = { { name = "container-id", help = "Container ID" },
    { name = "arguments", passthrough = true, help = "New process arguments" } },
}

M.logs = {
  path = "logs", abstract = "Fetch container logs", usage = "[--boot] [--follow] [-n <n>] [--debug] <container-id>",
  options = { opt({ "--boot" }, nil, { help = "Display the boot log for the container instead of stdio" }),
    opt({ "-f", "--follow" }, nil, { help = "Follow log output" }),
    opt({ "-n" }, "n", { kind = "int", key = "n", help = "Number of lines to show from the end of the logs. If not provided this will print all of the logs" }) },
  args = { { name = "container-id", help = "Container ID" } },
}

M.copy = {
  path = "copy", abstract = "Copy files between a container and the local filesystem",
  usage = "[--debug] <source> <destination>", since = "1.0.0",
  options = {},
  args = { { name = "source", help = "Source path (container-id:/path or local path)" },
    { name = "destination", help = "Destination path (container-id:/path or local path)" } },
}

M.prune = {
  path = "prune", abstract = "Remove all stopped containers", usage = "[--debug]", since = "0.9.0",
  options = {}, args = {},
}

-- image ------------------------------------------------------------------------------------

local platform_opts = {
  opt({ "-a", "--arch" }, "arch", { help = "Limit to the specified architecture" }),
  opt({ "--os" }, "os", { help = "Limit to the specified OS" }),
  opt({ "--platform" }, "platform", { since = "0.4.0", help = "Limit to the specified platform (format: os/arch[/variant])" }),
}

M.image_list = {
  path = "image list", abstract = "List images", usage = "[--format <format>] [--quiet] [--verbose] [--debug]",
  options = append({ opt({ "-q", "--quiet" }, nil, { help = "Only output the image name" }),
    opt({ "-v", "--verbose" }, nil, { help = "Verbose output" }) }, format_opts()),
  args = {},
}

M.image_pull = {
  path = "image pull", abstract = "Pull an image", usage = "[<options>] <reference>",
  options = append({
    opt({ "--scheme" }, "scheme", { till = "1.3.0", choices = { "http", "https", "auto" }, help = "Scheme to use when connecting to the container registry" }),
    opt({ "--scheme" }, "scheme", { since = "1.3.0", help = "Scheme to use when connecting to the container registry" }),
    opt({ "--progress" }, "type", { since = "0.7.0", choices = { "auto", "none", "ansi", "plain", "color" }, help = "Progress type" }),
    opt({ "--disable-progress-updates" }, nil, { till = "0.7.0", help = "Disable progress bar updates" }),
    opt({ "--max-concurrent-downloads" }, "count", { kind = "int", since = "0.7.1", help = "Maximum number of concurrent downloads" }),
  }, platform_opts),
  args = { { name = "reference", help = "Image reference" } },
}

M.image_save = {
  path = "image save", abstract = "Save an image as an OCI compatible tar archive",
  usage = "[--arch <arch>] [--os <os>] [--platform <platform>] [--output <output>] [--debug] <references> ...",
  options = append({ opt({ "-o", "--output" }, "output", { help = "Pathname for the saved image" }) }, platform_opts),
  args = { { name = "references", variadic = true, help = "Image references" } },
}

M.image_load = {
  path = "image load", abstract = "Load images from an OCI compatible tar archive",
  usage = "[--input <input>] [--force] [--debug]",
  options = { opt({ "-i", "--input" }, "input", { help = "Path to the image tar archive" }),
    opt({ "-f", "--force" }, nil, { since = "0.8.0", help = "Load even if the archive contains invalid member files" }) },
  args = {},
}

M.image_tag = {
  path = "image tag", abstract = "Create a new reference for an existing image", usage = "[--debug] <source> <target>",
  options = {},
  args = { { name = "source" }, { name = "target" } },
}

M.image_delete = {
  path = "image delete", abstract = "Delete one or more images", usage = "[--all] [--force] [--debug] [<images> ...]",
  options = { opt({ "-a", "--all" }, nil, { help = "Delete all images" }),
    opt({ "-f", "--force" }, nil, { help = "Ignore errors for images that are not found" }) },
  args = { { name = "images", variadic = true, optional = true } },
}

M.image_inspect = {
  path = "image inspect", abstract = "Display information about one or more images", usage = "[--debug] <images> ...",
  options = {}, args = { { name = "images", variadic = true } },
}

-- network ----------------------------------------------------------------------------------

M.network_create = {
  path = "network create", abstract = "Create a new network", usage = "[<options>] <name>",
  options = {
    opt({ "--internal" }, nil, { since = "0.9.0", help = "Restrict to host-only network" }),
    opt({ "--label" }, "label", { rep = true, since = "0.5.0", help = "Set metadata for a network" }),
    opt({ "--option" }, "option", { rep = true, since = "1.0.0", help = "Set plugin options for a network" }),
    opt({ "--plugin" }, "plugin", { since = "0.10.0", help = "Network plugin (default: container-network-vmnet)" }),
    opt({ "--subnet" }, "subnet", { since = "0.6.0", help = "Set the IPv4 subnet for a network (CIDR)" }),
    opt({ "--subnet-v6" }, "subnet-v6", { since = "0.8.0", help = "Set the IPv6 subnet for a network (CIDR)" }),
  },
  args = { { name = "name", help = "Network name" } },
}

M.network_delete = {
  path = "network delete", abstract = "Delete one or more networks", usage = "[--all] [--debug] [<network-names> ...]",
  options = { opt({ "-a", "--all" }, nil, { help = "Delete all networks" }) },
  args = { { name = "network-names", variadic = true, optional = true } },
}

M.network_list = {
  path = "network list", abstract = "List networks", usage = "[--format <format>] [--quiet] [--debug]",
  options = append({ opt({ "-q", "--quiet" }, nil, { help = "Only output the network name" }) }, format_opts()),
  args = {},
}

M.network_inspect = {
  path = "network inspect", abstract = "Display information about one or more networks", usage = "[--debug] <networks> ...",
  options = {}, args = { { name = "networks", variadic = true } },
}

-- system -----------------------------------------------------------------------------------

M.system_status = {
  path = "system status", abstract = "Show the status of `container` services",
  usage = "[--prefix <prefix>] [--format <format>] [--debug]",
  options = append({ opt({ "-p", "--prefix" }, "prefix", { help = "Launchd prefix for services" }) },
    (function()
      local f = format_opts()
      for _, o in ipairs(f) do if o.till == "0.12.0" then o.since = "0.10.0" end end
      return f
    end)()),
  args = {},
}

M.system_version = {
  path = "system version", abstract = "Show version information", usage = "[--format <format>] [--debug]",
  since = "0.8.0", options = format_opts(), args = {},
}

-- SystemStop.swift (1.2.2): `-p/--prefix` and the logging flags
M.system_stop = {
  path = "system stop", abstract = "Stop all `container` services", usage = "[--prefix <prefix>] [--debug]",
  options = { opt({ "-p", "--prefix" }, "prefix", { help = "Launchd prefix for services" }) },
  args = {},
}

M.system_start = {
  path = "system start", abstract = "Start `container` services", usage = "[<options>]",
  options = {
    opt({ "-a", "--app-root" }, "app-root", { help = "Path to the root directory for application data" }),
    opt({ "--install-root" }, "install-root", { help = "Path to the root directory for application executables and plugins" }),
    opt({ "--log-root" }, "log-root", { since = "0.10.0", help = "Path to the root directory for log files" }),
    opt({ "--enable-kernel-install" }, nil, { help = "Specify whether the default kernel should be installed or not" }),
    opt({ "--disable-kernel-install" }, nil, { help = "Specify whether the default kernel should be installed or not" }),
    opt({ "--timeout" }, "timeout", { kind = "int", help = "Number of seconds to wait for API service to become responsive" }),
  },
  args = {},
}

M.system_kernel_set = {
  path = "system kernel set", abstract = "Set the default kernel", usage = "[<options>]",
  options = {
    opt({ "--arch" }, "arch", { help = "The architecture of the kernel binary (values: amd64, arm64)" }),
    opt({ "--binary" }, "binary", { help = "Path to the kernel file (or archive member, if used with --tar)" }),
    opt({ "--force" }, nil, { help = "Overwrites an existing kernel with the same name" }),
    opt({ "--recommended" }, nil, { help = "Download and install the recommended kernel as the default" }),
    opt({ "--tar" }, "tar", { help = "Filesystem path or remote URL to a tar archive containing a kernel file" }),
    opt({ "--digest" }, "digest", { since = "1.2.0", help = "SHA-256 digest of the kernel archive (required for remote URLs)" }),
  },
  args = {},
}

return M
