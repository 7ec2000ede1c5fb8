-- kina get kubeconfig — print the cluster's kubeconfig (server on the host's loopback, or the
-- control plane's own address with --internal).
local kina = require "kina"
local args = require "kina.args"

local command = {
  usage = "kina get kubeconfig [flags]",
  summary = "Prints the cluster's kubeconfig to stdout.",
  outputs = { "json" },
  flags = { args.NAME, { name = "internal", kind = "boolean", help = "use the control plane's address inside the node network" },
    args.OUTPUT,
    args.VERBOSE, args.QUIET },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local c <close> = kina.cluster{ name = args.cluster_name(opts), status = kina.status{ quiet = opts.quiet } }
if opts.output == "json" then
  local json = require "kina.json"
  local kubeconfig = require "kina.kubeconfig"
  -- the document's sequences and nulls, as JSON's
  local function convert(v)
    if v == kubeconfig.null then return json.null end
    if type(v) ~= "table" then return v end
    local out = {}
    for k, x in pairs(v) do out[k] = convert(x) end
    if getmetatable(v) == kubeconfig.seq_mt or v[1] ~= nil then return json.array(out) end
    return out
  end
  io.stdout:write(json.encode(convert(c:kubeconfig_doc{ internal = opts.internal }), { pretty = true }), "\n")
else
  io.stdout:write(c:kubeconfig{ internal = opts.internal }, "\n")
end
return 0
