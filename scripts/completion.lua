-- kina completion — print a completion script for bash, zsh or fish, as `kind completion` does.
-- It is generated from the command table `kina help` prints and each command's own flag
-- declaration (kina.completion); cluster and node names are asked from kina at TAB.
--
--   bash:  source <(kina completion bash)            (or save it in a bash-completion dir)
--   zsh:   kina completion zsh > "${fpath[1]}/_kina"  (then compinit), or source <(kina completion zsh)
--   fish:  kina completion fish > ~/.config/fish/completions/kina.fish
local args = require "kina.args"
local completion = require "kina.completion"

local command = {
  usage = "kina completion (bash | zsh | fish)",
  summary = "Prints a shell completion script for kina: verbs, nouns, flags, cluster names for --name and node names for --nodes.",
  flags = { args.VERBOSE, args.QUIET },
  args = { min = 1, max = 1, complete = completion.SHELLS },
}
local opts = args.command(command, { ... })
if not opts then return 0 end
local shell = opts.args[1]
if not completion.generators[shell] then
  error(args.usage_error(("unknown shell %q (want %s)"):format(shell, table.concat(completion.SHELLS, ", ")), args.help(command)), 0)
end
io.stdout:write(completion.script(shell))
return 0
