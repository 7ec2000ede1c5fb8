-- kina version — print kina's version, the Lua it runs on, and the platform.
local args = require "kina.args"
local kina = require "kina"
local uv = require "luv"

local command = {
  usage = "kina version [flags]",
  summary = "Prints kina's version, the Lua version and the platform, like `kind version`.",
  flags = {
    args.OUTPUT, args.VERBOSE, args.QUIET,
  },
  outputs = { "json" },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local uname = uv.os_uname()
local machine = ({ x86_64 = "amd64", aarch64 = "arm64", arm64 = "arm64" })[uname.machine] or uname.machine
if opts.output == "json" then
  require("kina.output").write{ version = kina._VERSION, lua = _VERSION, os = uname.sysname:lower(), arch = machine }
else
  io.stdout:write(("kina v%s %s %s/%s\n"):format(kina._VERSION, _VERSION, uname.sysname:lower(), machine))
end
return 0
