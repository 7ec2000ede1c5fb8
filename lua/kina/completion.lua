--- kina.completion — `kina completion bash|zsh|fish`: shell completion scripts generated from
-- the command table `kina help` prints (kina.cli.commands, kina.cli.global_flags) and from each
-- workflow script's own flag declaration, which kina.args hands over when the script is run with
-- args.DESCRIBE. So completion offers exactly the verbs, nouns and flags the parser takes.
--
-- Flag values and arguments are completed by what the declaration's `complete` field says:
-- "clusters" and "nodes" are asked from kina at TAB (`kina __complete clusters|nodes`, hidden,
-- run as the program the user typed, stderr thrown away), "files" and "dirs" are the shell's own,
-- "outputs" are the command's -o formats, a list is those words; anything else offers nothing.
-- A --nodes value is a comma-separated list: its last item is completed.
--
-- bash and zsh share one candidate function written in POSIX sh (zsh runs it under `emulate
-- -L sh`); fish has the same algorithm in its own language. Each answers the words before the
-- cursor and the word under it; specs run them in each shell (spec/completion_spec.lua).
local args = require "kina.args"

local M = {}

M.SHELLS = { "bash", "zsh", "fish" }

local VALUE_KINDS = { clusters = true, nodes = true, files = true, dirs = true, none = true }

--- A workflow script's command declaration: the script is run with args.DESCRIBE, which makes
-- its args.command call raise before anything is parsed or done.
function M.declaration(cli, script)
  local path, perr = cli.script_path(script)
  if not path then error(perr, 0) end
  local chunk, lerr = loadfile(path)
  if not chunk then error(lerr, 0) end
  local ok, err = pcall(chunk, args.DESCRIBE)
  local decl = not ok and args.described(err) or nil
  if not decl then
    error(("workflow script %s does not declare its command through kina.args.command%s"):format(path,
      ok and "" or (": " .. tostring(err))), 0)
  end
  return decl
end

-- What a flag value or an argument completes to: { kind = "clusters"|"nodes"|"files"|"dirs"|"none" }
-- or { kind = "words", words = {...} }.
local function value_of(complete, decl)
  if complete == nil then return { kind = "none" } end
  if complete == "outputs" then return { kind = "words", words = decl.outputs or {} } end
  if type(complete) == "table" then return { kind = "words", words = complete } end
  assert(VALUE_KINDS[complete], "unknown completion kind " .. tostring(complete))
  return { kind = complete }
end

--- The completion model of `cli` (default kina.cli):
--   { globals = { {long, short?, help} },
--     verbs = { {word, summary, nouns = { {word, summary} }} },          -- kina help's order
--     commands = { {key = "get nodes", summary, flags = { {long, short?, help, value?} },
--                   args = {max?, value}} } }                           -- value nil: a boolean
function M.model(cli)
  cli = cli or require "kina.cli"
  local m = { globals = {}, verbs = {}, commands = {} }
  for _, f in ipairs(cli.global_flags) do
    m.globals[#m.globals + 1] = { long = "--" .. f.name, short = f.short and ("-" .. f.short), help = f.help }
  end
  local by_verb = {}
  for _, c in ipairs(cli.commands) do
    if not c.hidden then
      local word = c.words[1]
      local verb = by_verb[word]
      if not verb then
        verb = { word = word, summary = c.summary, nouns = {} }
        by_verb[word] = verb
        m.verbs[#m.verbs + 1] = verb
      end
      if c.words[2] then verb.nouns[#verb.nouns + 1] = { word = c.words[2], summary = c.summary } end
      local decl = c.script and M.declaration(cli, c.script) or c.command
      if decl then
        local cmd = { key = table.concat(c.words, " "), summary = c.summary, flags = {} }
        for _, f in ipairs(decl.flags or {}) do
          cmd.flags[#cmd.flags + 1] = { long = "--" .. f.name, short = f.short and ("-" .. f.short), help = f.help,
            value = f.kind ~= "boolean" and value_of(f.complete, decl) or nil }
        end
        cmd.flags[#cmd.flags + 1] = { long = "--help", short = "-h", help = "show this help" }
        local a = decl.args or { min = 0, max = 0 } -- kina.args.parse's default: no arguments
        cmd.args = { max = a.max, value = value_of(a.complete, decl) }
        m.commands[#m.commands + 1] = cmd
      end
    end
  end
  for _, verb in ipairs(m.verbs) do
    if #verb.nouns > 1 then
      local words = {}
      for i, n in ipairs(verb.nouns) do words[i] = n.word end
      verb.summary = table.concat(words, ", ")
    end
  end
  return m
end

-- Every word that goes into a script unquoted: flags, verbs, nouns, formats.
local function word(w)
  assert(w:match("^[%w_][%w%-%._]*$") or w:match("^%-%-?[%w][%w%-]*$"), "not a plain word: " .. w)
  return w
end

local function words_of(list, field)
  local out = {}
  for _, x in ipairs(list) do
    if type(x) == "string" then out[#out + 1] = word(x)
    else
      out[#out + 1] = word(x[field or "long"])
      if x.short and not field then out[#out + 1] = word(x.short) end
    end
  end
  return table.concat(out, " ")
end

-- A value as the scripts encode it: "clusters", "files", ..., or "words json".
local function encode_value(v)
  if v.kind == "words" then
    local ws = { "words" }
    for _, w in ipairs(v.words) do ws[#ws + 1] = word(w) end
    return table.concat(ws, " ")
  end
  return v.kind
end

local function args_spec(cmd)
  return (cmd.args.max and tostring(cmd.args.max) or "any") .. " " .. encode_value(cmd.args.value)
end

---------------------------------------------------------------------------------------------
-- bash and zsh: the model as POSIX sh functions, and one candidate function

local function sh_data(m)
  local out = {
    "# the command table (kina.cli) and each command's flags (its script's declaration)",
    ("__kina_globals() { echo %s; }"):format(words_of(m.globals)),
    ("__kina_verbs() { echo %s; }"):format(words_of(m.verbs, "word")),
    "__kina_nouns() {",
    '  case "$1" in',
  }
  for _, v in ipairs(m.verbs) do
    if #v.nouns > 0 then out[#out + 1] = ("    %s) echo %s ;;"):format(word(v.word), words_of(v.nouns, "word")) end
  end
  out[#out + 1] = "  esac"
  out[#out + 1] = "}"
  out[#out + 1] = "__kina_flags() {"
  out[#out + 1] = '  case "$1" in'
  for _, c in ipairs(m.commands) do out[#out + 1] = ('    "%s") echo %s ;;'):format(c.key, words_of(c.flags)) end
  out[#out + 1] = "    *) return 1 ;;"
  out[#out + 1] = "  esac"
  out[#out + 1] = "}"
  out[#out + 1] = "# a flag's value: nothing for a boolean flag"
  out[#out + 1] = "__kina_value() {"
  out[#out + 1] = '  case "$1|$2" in'
  for _, c in ipairs(m.commands) do
    for _, f in ipairs(c.flags) do
      if f.value then
        local pat = ('"%s|%s"'):format(c.key, f.long)
        if f.short then pat = pat .. ('|"%s|%s"'):format(c.key, f.short) end
        out[#out + 1] = ("    %s) echo %s ;;"):format(pat, encode_value(f.value))
      end
    end
  end
  out[#out + 1] = "  esac"
  out[#out + 1] = "}"
  out[#out + 1] = "# the arguments: how many (or any) and what they are"
  out[#out + 1] = "__kina_args() {"
  out[#out + 1] = '  case "$1" in'
  for _, c in ipairs(m.commands) do out[#out + 1] = ('    "%s") echo %s ;;'):format(c.key, args_spec(c)) end
  out[#out + 1] = "  esac"
  out[#out + 1] = "}"
  return table.concat(out, "\n") .. "\n"
end

-- The candidate function bash and zsh share (POSIX sh; zsh runs it under emulate -L sh).
local SH_CANDIDATES = [=[
# __kina_emit KIND PREFIX CUR WORD...: the answer (see __kina_candidates), WORDs matched to CUR
__kina_emit() {
  local kind="$1" prefix="$2" cur="$3" w
  shift 3
  printf '%s\n%s\n' "$kind" "$prefix"
  for w in "$@"; do
    case "$w" in "$cur"*) printf '%s\n' "$prefix$w" ;; esac
  done
}

# __kina_value PROG NAME PREFIX CUR KIND...: the values of one kind for CUR
__kina_value_candidates() {
  local prog="$1" name="$2" prefix="$3" cur="$4" list=""
  shift 4
  case "$1" in
    words) shift; __kina_emit words "$prefix" "$cur" "$@" ;;
    clusters) __kina_emit words "$prefix" "$cur" $("$prog" __complete clusters 2>/dev/null) ;;
    nodes)
      # a comma-separated list: complete its last item
      case "$cur" in *,*) list="${cur%,*},"; cur="${cur##*,}" ;; esac
      if [ -n "$name" ]; then
        __kina_emit words "$prefix$list" "$cur" $("$prog" __complete nodes --name "$name" 2>/dev/null)
      else
        __kina_emit words "$prefix$list" "$cur" $("$prog" __complete nodes 2>/dev/null)
      fi ;;
    files|dirs) printf '%s\n%s\n' "$1" "$prefix" ;;
    *) printf 'none\n\n' ;;
  esac
}

# __kina_candidates PROG CUR WORD...: what to offer for CUR, the word under the cursor, after
# the WORDs before it (without the program; PROG is the program as typed, asked for cluster and
# node names). Prints the kind of answer on the first line (words, files, dirs or none), on the
# second the part of CUR before the value ("--config=", or "a,b," in a list of nodes), then for
# words the candidates that start with CUR, one a line.
__kina_candidates() {
  if [ -n "${ZSH_VERSION-}" ]; then emulate -L sh; fi
  local prog="$1" cur="$2" verb key w value name="" npos=0 ended=""
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in -v|--verbose|-q|--quiet) shift ;; *) break ;; esac
  done
  if [ $# -eq 0 ]; then
    case "$cur" in
      -*) __kina_emit words "" "$cur" $(__kina_globals) ;;
      *) __kina_emit words "" "$cur" $(__kina_verbs) ;;
    esac
    return 0
  fi
  verb="$1"
  shift
  if [ "$verb" = help ]; then # kina help [VERB [NOUN]]
    case $# in
      0) __kina_emit words "" "$cur" $(__kina_verbs) ;;
      1) __kina_emit words "" "$cur" $(__kina_nouns "$1") ;;
      *) printf 'none\n\n' ;;
    esac
    return 0
  fi
  key="$verb"
  if [ -n "$(__kina_nouns "$verb")" ]; then
    if [ $# -eq 0 ]; then
      __kina_emit words "" "$cur" $(__kina_nouns "$verb")
      return 0
    fi
    key="$verb $1"
    shift
  fi
  if ! __kina_flags "$key" >/dev/null; then
    printf 'none\n\n'
    return 0
  fi
  # the words after the command: flags, their values (--name's is kept), arguments
  while [ $# -gt 0 ]; do
    w="$1"
    shift
    if [ -n "$ended" ]; then
      npos=$((npos + 1))
      continue
    fi
    case "$w" in
      --) ended=1 ;;
      --name=*) name="${w#--name=}" ;;
      -*=*) ;;
      -*)
        value="$(__kina_value "$key" "$w")"
        if [ -n "$value" ]; then
          if [ $# -eq 0 ]; then # CUR is this flag's value
            __kina_value_candidates "$prog" "$name" "" "$cur" $value
            return 0
          fi
          case "$w" in --name|-n) name="$1" ;; esac
          shift
        fi ;;
      *) npos=$((npos + 1)) ;;
    esac
  done
  if [ -z "$ended" ]; then
    case "$cur" in
      -*=*)
        value="$(__kina_value "$key" "${cur%%=*}")"
        if [ -n "$value" ]; then
          __kina_value_candidates "$prog" "$name" "${cur%%=*}=" "${cur#*=}" $value
        else
          printf 'none\n\n'
        fi
        return 0 ;;
      -*)
        __kina_emit words "" "$cur" $(__kina_flags "$key")
        return 0 ;;
    esac
  fi
  set -- $(__kina_args "$key")
  if [ "$1" != any ] && [ "$npos" -ge "$1" ]; then
    printf 'none\n\n'
    return 0
  fi
  shift
  __kina_value_candidates "$prog" "$name" "" "$cur" "$@"
}
]=]

local BASH_FUNCTION = [=[
# bash: COMP_WORDS is split at COMP_WORDBREAKS too ("--name=dev" is three words there): join the
# words around '=' back into kina's, and hand readline only the part after the last '=' it replaces.
_kina() {
  local i=1 w cur kind="" prefix="" line n=0 strip=0 tail opt
  local -a joined
  joined=()
  while [ "$i" -le "$COMP_CWORD" ]; do
    w="${COMP_WORDS[i]}"
    if [ "${#joined[@]}" -gt 0 ] && { [ "$w" = "=" ] || [ "${COMP_WORDS[i-1]}" = "=" ]; }; then
      joined[${#joined[@]}-1]="${joined[${#joined[@]}-1]}$w"
    else
      joined+=("$w")
    fi
    i=$((i + 1))
  done
  cur="${joined[${#joined[@]}-1]}"
  tail="$cur"
  case "$COMP_WORDBREAKS" in *=*) tail="${cur##*=}" ;; esac
  strip=$((${#cur} - ${#tail}))
  COMPREPLY=()
  while IFS= read -r line; do
    n=$((n + 1))
    case $n in
      1) kind="$line" ;;
      2) prefix="$line" ;;
      *) COMPREPLY+=("${line:$strip}") ;;
    esac
  done <<__KINA_EOF__
$(__kina_candidates "${COMP_WORDS[0]}" "$cur" "${joined[@]:0:${#joined[@]}-1}")
__KINA_EOF__
  case "$kind" in
    files|dirs)
      opt=-f
      [ "$kind" = dirs ] && opt=-d
      local IFS=$'\n'
      COMPREPLY=($(compgen $opt -- "${cur#"$prefix"}"))
      # slashes after directories, names with spaces quoted (bash 4+; bash 3.2 has no compopt)
      compopt -o filenames 2>/dev/null
      ;;
  esac
  return 0
}
complete -F _kina kina
]=]

local ZSH_FUNCTION = [=[
_kina() {
  local out
  local -a lines
  out="$(__kina_candidates "${words[1]}" "${words[CURRENT]}" "${(@)words[2,CURRENT-1]}")"
  lines=("${(@f)out}")
  case "${lines[1]}" in
    words) (( ${#lines} > 2 )) && compadd -- "${(@)lines[3,-1]}" ;;
    files) [ -n "${lines[2]}" ] && compset -P '*='; _files ;;
    dirs) [ -n "${lines[2]}" ] && compset -P '*='; _files -/ ;;
  esac
  return 0
}

# autoloaded from $fpath this file is _kina's body: run it; sourced, register it
if [ "${funcstack[1]-}" = _kina ]; then
  _kina "$@"
elif (( $+functions[compdef] )); then
  compdef _kina kina
fi
]=]

local function header(shell, how)
  return ("# kina completion for %s, generated by `kina completion %s` from kina's command table.\n# %s\n")
    :format(shell, shell, how)
end

function M.bash(m)
  return header("bash", "Load it with: source <(kina completion bash)  (bash 3.2 and later)")
    .. sh_data(m) .. "\n" .. SH_CANDIDATES .. "\n" .. BASH_FUNCTION
end

function M.zsh(m)
  return "#compdef kina\n" .. header("zsh",
    'Save it as _kina in a directory of $fpath (before compinit), or: source <(kina completion zsh) after compinit')
    .. sh_data(m) .. "\n" .. SH_CANDIDATES .. "\n" .. ZSH_FUNCTION
end

---------------------------------------------------------------------------------------------
-- fish

-- a fish single-quoted string
local function fq(s) return "'" .. s:gsub("[\\']", "\\%0") .. "'" end

local function fish_described(list, field)
  local parts = {}
  for _, x in ipairs(list) do
    local help = (x.summary or x.help or ""):gsub("[\t\n]", " ")
    parts[#parts + 1] = ("%s %s"):format(word(x[field]), fq(help))
    if x.short then parts[#parts + 1] = ("%s %s"):format(word(x.short), fq(help)) end
  end
  return "printf '%s\\t%s\\n' " .. table.concat(parts, " ")
end

local function fish_data(m)
  local out = {
    "# the command table (kina.cli) and each command's flags (its script's declaration), described",
    "function __kina_globals; " .. fish_described(m.globals, "long") .. "; end",
    "function __kina_verbs; " .. fish_described(m.verbs, "word") .. "; end",
    "function __kina_nouns",
    "    switch $argv[1]",
  }
  for _, v in ipairs(m.verbs) do
    if #v.nouns > 0 then out[#out + 1] = ("        case %s; %s"):format(word(v.word), fish_described(v.nouns, "word")) end
  end
  out[#out + 1] = "        case '*'; return 1"
  out[#out + 1] = "    end"
  out[#out + 1] = "end"
  out[#out + 1] = "function __kina_flags"
  out[#out + 1] = "    switch $argv[1]"
  for _, c in ipairs(m.commands) do out[#out + 1] = ("        case %s; %s"):format(fq(c.key), fish_described(c.flags, "long")) end
  out[#out + 1] = "        case '*'; return 1"
  out[#out + 1] = "    end"
  out[#out + 1] = "end"
  out[#out + 1] = "# a flag's value: nothing for a boolean flag"
  out[#out + 1] = "function __kina_value"
  out[#out + 1] = '    switch "$argv[1]|$argv[2]"'
  for _, c in ipairs(m.commands) do
    for _, f in ipairs(c.flags) do
      if f.value then
        local pats = fq(c.key .. "|" .. f.long)
        if f.short then pats = pats .. " " .. fq(c.key .. "|" .. f.short) end
        out[#out + 1] = ("        case %s; echo %s"):format(pats, encode_value(f.value))
      end
    end
  end
  out[#out + 1] = "    end"
  out[#out + 1] = "end"
  out[#out + 1] = "# the arguments: how many (or any) and what they are"
  out[#out + 1] = "function __kina_args"
  out[#out + 1] = "    switch $argv[1]"
  for _, c in ipairs(m.commands) do out[#out + 1] = ("        case %s; echo %s"):format(fq(c.key), args_spec(c)) end
  out[#out + 1] = "    end"
  out[#out + 1] = "end"
  return table.concat(out, "\n") .. "\n"
end

-- The same algorithm as SH_CANDIDATES; fish matches the candidates to the token itself.
local FISH_FUNCTIONS = [=[
# __kina_value_candidates PROG NAME PREFIX CUR KIND...: the values of one kind for CUR
function __kina_value_candidates
    set -l prog $argv[1]
    set -l name $argv[2]
    set -l prefix $argv[3]
    set -l cur $argv[4]
    set -l kind $argv
    set -e kind[1..4]
    switch "$kind[1]"
        case words
            set -e kind[1]
            for w in $kind
                printf '%s\n' "$prefix$w"
            end
        case clusters
            for c in ($prog __complete clusters 2>/dev/null)
                printf '%s\n' "$prefix$c"
            end
        case nodes
            # a comma-separated list: complete its last item
            set -l list (string match -r -- '^.*,' $cur)
            set -l names
            if test -n "$name"
                set names ($prog __complete nodes --name $name 2>/dev/null)
            else
                set names ($prog __complete nodes 2>/dev/null)
            end
            for n in $names
                printf '%s\n' "$prefix$list$n"
            end
        case files
            for p in (__fish_complete_path $cur)
                printf '%s\n' "$prefix$p"
            end
        case dirs
            for p in (__fish_complete_directories $cur)
                printf '%s\n' "$prefix$p"
            end
    end
end

# __kina_candidates: what to offer for the token under the cursor, after the tokens before it
function __kina_candidates
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l prog $words[1]
    set -e words[1]
    while set -q words[1]; and contains -- $words[1] -v --verbose -q --quiet
        set -e words[1]
    end
    if not set -q words[1]
        if string match -q -- '-*' "$cur"
            __kina_globals
        else
            __kina_verbs
        end
        return 0
    end
    set -l verb $words[1]
    set -e words[1]
    if test "$verb" = help # kina help [VERB [NOUN]]
        switch (count $words)
            case 0
                __kina_verbs
            case 1
                __kina_nouns $words[1]
        end
        return 0
    end
    set -l key $verb
    if __kina_nouns $verb >/dev/null
        if not set -q words[1]
            __kina_nouns $verb
            return 0
        end
        set key "$verb $words[1]"
        set -e words[1]
    end
    __kina_flags $key >/dev/null; or return 0
    # the tokens after the command: flags, their values (--name's is kept), arguments
    set -l name ''
    set -l npos 0
    set -l ended 0
    while set -q words[1]
        set -l w $words[1]
        set -e words[1]
        if test $ended = 1
            set npos (math $npos + 1)
            continue
        end
        switch $w
            case '--'
                set ended 1
            case '--name=*'
                set name (string replace -- '--name=' '' $w)
            case '-*=*'
            case '-*'
                set -l value (__kina_value $key $w)
                if test -n "$value"
                    if not set -q words[1] # the token under the cursor is this flag's value
                        __kina_value_candidates $prog "$name" '' "$cur" (string split ' ' -- $value)
                        return 0
                    end
                    if contains -- $w --name -n
                        set name $words[1]
                    end
                    set -e words[1]
                end
            case '*'
                set npos (math $npos + 1)
        end
    end
    if test $ended = 0
        switch "$cur"
            case '-*=*'
                set -l flag (string split -m 1 '=' -- $cur)[1]
                set -l value (__kina_value $key $flag)
                if test -n "$value"
                    __kina_value_candidates $prog "$name" "$flag=" (string sub -s (math (string length -- $flag) + 2) -- $cur) (string split ' ' -- $value)
                end
                return 0
            case '-*'
                __kina_flags $key
                return 0
        end
    end
    set -l spec (string split ' ' -- (__kina_args $key))
    if test "$spec[1]" != any; and test $npos -ge $spec[1]
        return 0
    end
    set -e spec[1]
    __kina_value_candidates $prog "$name" '' "$cur" $spec
end

complete -c kina -e
complete -c kina -f -a '(__kina_candidates)'
]=]

function M.fish(m)
  return header("fish", "Save it as ~/.config/fish/completions/kina.fish, or: kina completion fish | source")
    .. fish_data(m) .. "\n" .. FISH_FUNCTIONS
end

M.generators = { bash = M.bash, zsh = M.zsh, fish = M.fish }

--- The completion script for `shell` (one of M.SHELLS), from kina.cli's table (or `cli`'s).
function M.script(shell, cli)
  local gen = assert(M.generators[shell], "unknown shell")
  return gen(M.model(cli))
end

return M
