-- `kina completion bash|zsh|fish`: the scripts come from the command table `kina help` prints
-- and each command's flag declaration, and each shell's completion function, run in that shell
-- against the simulator, offers verbs, nouns, flags, -o formats, cluster names for --name and
-- node names for --nodes. A shell that is not installed leaves its case pending.
local async = require "kina.async"
local cli = require "kina.cli"
local completion = require "kina.completion"
local uv = require "luv"
local World = dofile("spec/support/world.lua")

local TWO_NODES = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n"

local function installed(shell)
  local p = io.popen("command -v " .. shell .. " 2>/dev/null")
  local path = p:read("l")
  p:close()
  return path
end

-- `it` where the shell is installed, else a pending case that says so
local function for_shell(shell)
  if installed(shell) then return it end
  return function(name) pending(("%s (%s is not installed: make deps installs it)"):format(name, shell)) end
end

local function sorted(list)
  local out = { table.unpack(list) }
  table.sort(out)
  return out
end

-- from kina.cli's table: the verbs in help's order, and a verb's nouns
local function verbs()
  local out, seen = {}, {}
  for _, c in ipairs(cli.commands) do
    if not c.hidden and not seen[c.words[1]] then seen[c.words[1]] = true; out[#out + 1] = c.words[1] end
  end
  return out
end
local function nouns(verb)
  local out = {}
  for _, c in ipairs(cli.commands) do
    if c.words[1] == verb and c.words[2] then out[#out + 1] = c.words[2] end
  end
  return out
end

-- the long flags a command's --help lists
local function help_flags(words)
  local p = io.popen(World.KINA .. " " .. table.concat(words, " ") .. " --help")
  local text = p:read("a")
  p:close()
  local out = {}
  for flag in text:gmatch("\n  [%-%w, ]-(%-%-[%w%-]+)") do out[#out + 1] = flag end
  assert(#out > 0 and out[#out] == "--help", "no flags read from --help:\n" .. text)
  return out
end

describe("kina completion", function()
  it("prints a script for each shell; another shell is a usage error", function()
    for _, shell in ipairs(completion.SHELLS) do
      local p = io.popen(World.KINA .. " completion " .. shell)
      local text = p:read("a")
      local ok = p:close()
      assert.is_true(ok, shell)
      assert.truthy(text:find("kina completion for " .. shell, 1, true), shell)
    end
    local p = io.popen(World.KINA .. " completion tcsh 2>&1")
    local text = p:read("a")
    local _, _, code = p:close()
    assert.equal(2, code)
    assert.truthy(text:find('unknown shell "tcsh" (want bash, zsh, fish)', 1, true), text)
  end)

  it("takes every command and its flags from kina.cli's table and the scripts' declarations", function()
    -- the checkout's scripts (build/kina finds them beside itself; busted is not build/kina)
    local m = completion.model(setmetatable({ script_path = function(name) return "scripts/" .. name .. ".lua" end },
      { __index = cli }))
    local keys = {}
    for _, c in ipairs(m.commands) do keys[c.key] = c end
    for _, c in ipairs(cli.commands) do
      local key = table.concat(c.words, " ")
      if c.hidden or c.words[1] == "help" then
        assert.is_nil(keys[key], key)
      else
        assert.is_table(keys[key], key)
        if c.script then
          -- every flag the command's --help lists, and no other
          local longs = {}
          for _, f in ipairs(keys[key].flags) do longs[#longs + 1] = f.long end
          assert.same(sorted(help_flags(c.words)), sorted(longs), key)
        end
      end
    end
    local got = {}
    for i, v in ipairs(m.verbs) do got[i] = v.word end
    assert.same(verbs(), got)
  end)

  it("keeps the hidden helper out of kina help; it lists cluster and node names", function()
    local p = io.popen(World.KINA .. " help")
    local help = p:read("a")
    p:close()
    assert.is_nil(help:find("__complete", 1, true))
    assert.truthy(help:find("completion", 1, true))
    local res = async.run(function(sched)
      local w = World.new(sched, { prefix = "kina-compl", cluster = "dev", config = TWO_NODES })
      local ok, out = pcall(function()
        assert(w.kina{ "create", "cluster", "--name", "dev", "--config", w.config }.code == 0)
        return { clusters = w.kina{ "__complete", "clusters" }, nodes = w.kina{ "__complete", "nodes", "--name", "dev" },
          none = w.kina{ "__complete", "nodes", "--name", "nope" } }
      end)
      w.close()
      if not ok then error(out, 0) end
      return out
    end)
    assert.equal("dev\n", res.clusters.stdout)
    assert.equal("dev-control-plane\ndev-worker\n", res.nodes.stdout)
    assert.equal(0, res.none.code)
    assert.equal("", res.none.stdout)
  end)

  -- What each shell is asked: the line up to the cursor, and what it should offer (whole words;
  -- bash hands readline only what follows the last '=', which the bash case strips).
  local function cases(dir)
    return {
      { line = "kina ", want = verbs() },
      { line = "kina cre", want = { "create" } },
      { line = "kina get ", want = nouns("get") },
      { line = "kina -v get n", want = { "nodes" } },
      { line = "kina get nodes --", want = help_flags{ "get", "nodes" } },
      { line = "kina get nodes -o ", want = { "json" } },
      { line = "kina get nodes --name ", want = { "dev", "other" } },
      { line = "kina get nodes --name=", want = { "--name=dev", "--name=other" } },
      { line = "kina delete clusters o", want = { "other" } },
      { line = "kina load docker-image --name dev --nodes ", want = { "dev-control-plane", "dev-worker" } },
      { line = "kina load image-archive -n dev --nodes dev-worker,", want = { "dev-worker,dev-control-plane", "dev-worker,dev-worker" } },
      { line = "kina completion ", want = completion.SHELLS },
      { line = "kina completion bash ", want = {} },
      { line = "kina help load ", want = nouns("load") },
      { line = "kina create cluster --config " .. dir .. "/clus", want = { dir .. "/cluster.yaml" }, files = true },
    }
  end

  -- A world with clusters dev (two nodes) and other, `kina` first on PATH, and the script for
  -- `shell`; run(case) gives what the shell offered.
  local function with_shell(shell, ask)
    return async.run(function(sched)
      local w = World.new(sched, { prefix = "kina-compl", cluster = "dev", config = TWO_NODES })
      local ok, res = pcall(function()
        assert(w.kina{ "create", "cluster", "--name", "dev", "--config", w.config }.code == 0)
        assert(w.kina{ "create", "cluster", "--name", "other" }.code == 0)
        local bin = w.dir .. "/bin"
        assert(uv.fs_mkdir(bin, 448))
        assert(uv.fs_symlink(World.KINA, bin .. "/kina"))
        local script = w.dir .. "/kina." .. shell
        local gen = w.kina{ "completion", shell }
        assert(gen.code == 0, gen.stderr)
        World.write(script, gen.stdout)
        local env = { PATH = bin .. ":" .. os.getenv("PATH") }
        local results = {}
        for i, case in ipairs(cases(w.dir)) do
          local r = assert(sched:exec{ argv = ask(script, case), env = (function()
            local e = {}
            for k, v in pairs(w.env) do e[k] = v end
            for k, v in pairs(env) do e[k] = v end
            return e
          end)(), stdin = "", timeout = 60 })
          assert(r.code == 0, case.line .. ": " .. r.stderr)
          local got = {}
          for line in r.stdout:gmatch("[^\n]+") do got[#got + 1] = line:match("^[^\t]*") end
          results[i] = { case = case, got = got, stderr = r.stderr }
        end
        return results
      end)
      w.close()
      if not ok then error(res, 0) end
      return res
    end)
  end

  -- bash's own split: at whitespace, and at each '=' (in COMP_WORDBREAKS), which is a word
  local function bash_words(line)
    local words = {}
    for w in line:gmatch("%S+") do
      local rest = w
      while true do
        local a, b = rest:match("^([^=]*)=(.*)$")
        if not a then break end
        if a ~= "" then words[#words + 1] = a end
        words[#words + 1] = "="
        rest = b
      end
      if rest ~= "" then words[#words + 1] = rest end
    end
    if line:match("%s$") then words[#words + 1] = "" end
    return words
  end

  local function check(results, adjust)
    for _, r in ipairs(results) do
      local want = r.case.want
      if adjust then want = adjust(r.case) end
      assert.same(sorted(want), sorted(r.got), ("%q offered %s (stderr %s)"):format(r.case.line, table.concat(r.got, " "), r.stderr))
    end
  end

  local BASH_DRIVER = [[
    script=$1; shift
    source "$script"
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _kina
    [ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}"
  ]]
  for_shell("bash")("bash: _kina fills COMPREPLY", function()
    local results = with_shell("bash", function(script, case)
      return { "bash", "--norc", "--noprofile", "-c", BASH_DRIVER, "bash", script, table.unpack(bash_words(case.line)) }
    end)
    check(results, function(case)
      local out = {}
      for i, w in ipairs(case.want) do out[i] = w:gsub("^.*=", "") end
      return out
    end)
  end)

  -- zsh: _kina as compsys calls it, with compadd and _files recording what they are given
  -- (compadd is a builtin only completion widgets may run); and the script loads under compinit.
  local ZSH_DRIVER = [[
    script=$1; shift
    source "$script"
    compadd() { while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done; shift; print -rl -- "$@"; }
    _files() { local f; for f in ${words[CURRENT]}*(N); do print -r -- "$f"; done; }
    compset() { return 0; }
    words=("$@"); CURRENT=$#
    _kina
  ]]
  for_shell("zsh")("zsh: _kina's candidates, and compdef registers it after compinit", function()
    local results = with_shell("zsh", function(script, case)
      local words = {}
      for w in case.line:gmatch("%S+") do words[#words + 1] = w end
      if case.line:match("%s$") then words[#words + 1] = "" end
      return { "zsh", "-f", "-c", ZSH_DRIVER, "zsh", script, table.unpack(words) }
    end)
    check(results)
    local dir = assert(uv.fs_mkdtemp("/tmp/kina-compinit-XXXXXX"))
    finally(function() os.execute("rm -rf '" .. dir .. "'") end)
    local p = io.popen(("cd %s && HOME=%s zsh -f -c 'autoload -U compinit && compinit -u -d %s/zcompdump && source <(%s completion zsh) && print -r -- $_comps[kina]' 2>&1")
      :format(dir, dir, dir, World.KINA))
    local out = p:read("a")
    assert.is_true(p:close(), out)
    assert.equal("_kina\n", out)
  end)

  for_shell("fish")("fish: complete -C", function()
    local results = with_shell("fish", function(script, case)
      return { "fish", "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", script, case.line }
    end)
    check(results)
  end)
end)
