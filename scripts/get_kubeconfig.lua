-- kina get kubeconfig — print the cluster's kubeconfig (server on the host's loopback, or the
-- control plane's own address with --internal).
local kina = require "kina"
local args = require "kina.args"

local command = {
  usage = "kina get kubeconfig [flags]",
  summary = "Prints the cluster's kubeconfig to stdout.",
  flags = { args.NAME, { name = "internal", kind = "boolean", help = "use the control plane's address inside the node network" },
    args.VERBOSE, args.QUIET },
}
local opts = args.parse(command, { ... })
if opts.help then
  io.stdout:write(args.help(command))
  return 0
end
local c <close> = kina.cluster{ name = args.cluster_name(opts), status = kina.status{ quiet = opts.quiet } }
io.stdout:write(c:kubeconfig{ internal = opts.internal }, "\n")
return 0
