--- kina.sim.node.shell — the `sh -c` / `bash -c` of a simulated node.
--
-- A deliberately small, strict POSIX-shell subset: simple commands with single/double quotes
-- and backslashes, $VAR ${VAR} $? expansion, the positional parameters of `sh -c SCRIPT NAME
-- ARG…` ($0 is NAME, $1…$9, ${10}…, $#: POSIX "Special Parameters"), NAME=value assignments, `!`, `&&`, `||`, `;`,
-- newlines, `#` comments and the redirects `>` `>>` `<` `2>` `2>>` `2>&1` `>&2`.  Anything
-- else (pipes, `&`, subshells, command substitution, globs, here-documents, compound
-- commands) is refused with a shell-style syntax error and exit 2, never run half-right.
local rootfs = require("kina.sim.node.rootfs")

local M = {}

local UNSUPPORTED_WORDS = {
  ["if"] = true, ["then"] = true, ["else"] = true, ["elif"] = true, ["fi"] = true,
  ["for"] = true, ["while"] = true, ["until"] = true, ["do"] = true, ["done"] = true,
  ["case"] = true, ["esac"] = true, ["{"] = true, ["}"] = true, ["function"] = true,
}

local SyntaxError = {}
SyntaxError.__index = SyntaxError
local function syntax(msg, kind) error(setmetatable({ msg = msg, kind = kind or "unexpected" }, SyntaxError), 0) end

-- Tokens: {t="word", parts={{text, quoted}}} | {t="op", v="&&"} …
-- Words keep their pieces unexpanded (expansion happens at run time, after $? is known).
local function tokenize(src)
  local toks, i, n = {}, 1, #src
  local function op(v) toks[#toks + 1] = { t = "op", v = v } end
  while i <= n do
    local c = src:sub(i, i)
    if c == " " or c == "\t" then
      i = i + 1
    elseif c == "\n" then
      op(";"); i = i + 1
    elseif c == "#" then
      local j = src:find("\n", i, true)
      i = j or n + 1
    elseif src:sub(i, i + 1) == "&&" or src:sub(i, i + 1) == "||" then
      op(src:sub(i, i + 1)); i = i + 2
    elseif c == ";" then
      if src:sub(i + 1, i + 1) == ";" then syntax('";;"') end
      op(";"); i = i + 1
    elseif c == "|" or c == "&" or c == "(" or c == ")" or c == "`" then
      syntax('"' .. c .. '"', "unsupported")
    elseif src:sub(i, i + 3) == "2>&1" then
      op("2>&1"); i = i + 4
    elseif src:sub(i, i + 2) == ">&2" or src:sub(i, i + 3) == "1>&2" then
      local len = src:sub(i, i) == "1" and 4 or 3
      op(">&2"); i = i + len
    elseif src:sub(i, i + 2) == "2>>" then
      op("2>>"); i = i + 3
    elseif src:sub(i, i + 1) == "2>" then
      op("2>"); i = i + 2
    elseif src:sub(i, i + 1) == "<<" then
      syntax('"<<"', "unsupported")
    elseif src:sub(i, i + 1) == ">>" then
      op(">>"); i = i + 2
    elseif c == ">" or c == "<" then
      if src:sub(i + 1, i + 1) == "&" or src:sub(i + 1, i + 1) == "|" then syntax('"' .. src:sub(i, i + 1) .. '"', "unsupported") end
      op(c); i = i + 1
    else
      -- a word: runs until an unquoted blank or operator character
      local parts, buf = {}, {}
      local function flush(quoted)
        if #buf > 0 or quoted then parts[#parts + 1] = { text = table.concat(buf), quoted = quoted } end
        buf = {}
      end
      while i <= n do
        c = src:sub(i, i)
        if c:match("[ \t\n;&|()<>`]") then break end
        if c == "'" then
          flush(false)
          local j = src:find("'", i + 1, true)
          if not j then syntax("Unterminated quoted string", "eof") end
          parts[#parts + 1] = { text = src:sub(i + 1, j - 1), quoted = "single" }
          i = j + 1
        elseif c == '"' then
          flush(false)
          local j, dbuf = i + 1, {}
          while true do
            if j > n then syntax("Unterminated quoted string", "eof") end
            local d = src:sub(j, j)
            if d == '"' then break end
            if d == "\\" and src:sub(j + 1, j + 1):match('[$`"\\\n]') then
              dbuf[#dbuf + 1] = "\\" .. src:sub(j + 1, j + 1) -- kept escaped for expansion
              j = j + 2
            elseif d == "`" or src:sub(j, j + 1) == "$(" then
              syntax('"' .. (d == "`" and "`" or "$(") .. '"', "unsupported")
            else
              dbuf[#dbuf + 1] = d == "\\" and "\\\\" or d -- a backslash that escapes nothing stays
              j = j + 1
            end
          end
          parts[#parts + 1] = { text = table.concat(dbuf), quoted = "double" }
          i = j + 1
        elseif c == "\\" then
          flush(false)
          if i + 1 <= n then
            if src:sub(i + 1, i + 1) ~= "\n" then parts[#parts + 1] = { text = src:sub(i + 1, i + 1), quoted = "single" } end
            i = i + 2
          else
            i = i + 1
          end
        else
          if src:sub(i, i + 1) == "$(" then syntax('"$("', "unsupported") end
          if c == "*" or c == "?" and src:sub(i - 1, i - 1) ~= "$" then
            syntax('"' .. c .. '" (globbing)', "unsupported")
          end
          buf[#buf + 1] = c
          i = i + 1
        end
      end
      flush(false)
      toks[#toks + 1] = { t = "word", parts = parts }
    end
  end
  return toks
end

local function word_raw(w)
  local s = {}
  for _, p in ipairs(w.parts) do s[#s + 1] = p.text end
  return table.concat(s)
end

local function word_unquoted(w)
  for _, p in ipairs(w.parts) do if p.quoted then return false end end
  return true
end

-- Parse into a list of {op = ";"|"&&"|"||" (joining to the previous), neg, assigns, words, redirects}.
local function parse(toks)
  local list, i = {}, 1
  local pending_join = nil
  local function peek() return toks[i] end
  while i <= #toks do
    local tok = peek()
    if tok.t == "op" and tok.v == ";" then
      if pending_join ~= nil or #list == 0 then syntax('";"') end
      i = i + 1
      pending_join = ";"
      goto continue
    end
    do
      local cmd = { join = pending_join or ";", neg = false, assigns = {}, words = {}, redirects = {} }
      if #list > 0 and pending_join == nil then syntax('"' .. (tok.v or word_raw(tok)) .. '"') end
      if tok.t == "word" and word_unquoted(tok) and word_raw(tok) == "!" then
        cmd.neg = true
        i = i + 1
      end
      while i <= #toks do
        tok = peek()
        if tok.t == "op" then
          if tok.v == ";" or tok.v == "&&" or tok.v == "||" then break end
          local target = toks[i + 1]
          if tok.v == "2>&1" or tok.v == ">&2" then
            cmd.redirects[#cmd.redirects + 1] = { op = tok.v }
            i = i + 1
          else
            if not target or target.t ~= "word" then syntax("redirection unexpected", "unexpected") end
            cmd.redirects[#cmd.redirects + 1] = { op = tok.v, word = target }
            i = i + 2
          end
        else
          local raw = word_raw(tok)
          if #cmd.words == 0 and word_unquoted(tok) and UNSUPPORTED_WORDS[raw] then
            syntax('"' .. raw .. '"', "unsupported")
          end
          local name = #cmd.words == 0 and tok.parts[1] and not tok.parts[1].quoted and tok.parts[1].text:match("^([%a_][%w_]*)=")
          if name then
            cmd.assigns[#cmd.assigns + 1] = tok
          else
            if raw:find("[", 1, true) and raw ~= "[" and word_unquoted(tok) then
              syntax('"[" (globbing)', "unsupported")
            end
            cmd.words[#cmd.words + 1] = tok
          end
          i = i + 1
        end
      end
      if #cmd.words == 0 and #cmd.assigns == 0 and #cmd.redirects == 0 then
        syntax('"' .. (tok and (tok.v or word_raw(tok)) or "end of file") .. '"')
      end
      list[#list + 1] = cmd
      pending_join = nil
      if i <= #toks and (toks[i].v == "&&" or toks[i].v == "||") then
        pending_join = toks[i].v
        i = i + 1
        if i > #toks then syntax("end of file", "eof") end
      end
    end
    ::continue::
  end
  return list
end

-- Expand $VAR ${VAR} $? in an unquoted/double-quoted piece ("\\$" stays a literal "$").
local function expand_text(text, vars, dq)
  local out, i, n = {}, 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if c == "\\" and i < n then
      out[#out + 1] = text:sub(i + 1, i + 1)
      i = i + 2
    elseif c == "$" then
      local brace = text:match("^%b{}", i + 1)
      local name = text:match("^[%a_][%w_]*", i + 1)
      local digit = text:match("^%d", i + 1) -- $1 is one digit; ${10} needs the braces
      if brace then
        out[#out + 1] = vars(brace:sub(2, -2)); i = i + 1 + #brace
      elseif name then
        out[#out + 1] = vars(name); i = i + 1 + #name
      elseif digit then
        out[#out + 1] = vars(digit); i = i + 2
      elseif text:sub(i + 1, i + 1) == "?" or text:sub(i + 1, i + 1) == "#" then
        out[#out + 1] = vars(text:sub(i + 1, i + 1)); i = i + 2
      else
        out[#out + 1] = "$"; i = i + 1
      end
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  local s = table.concat(out)
  if not dq then s = s:gsub("^~(/?)", function(slash) return "/root" .. slash end) end
  return s
end

local function expand_word(w, vars)
  local s = {}
  for _, p in ipairs(w.parts) do
    if p.quoted == "single" then s[#s + 1] = p.text
    else s[#s + 1] = expand_text(p.text, vars, p.quoted == "double") end
  end
  return table.concat(s)
end

--- Run script `src` as `shell` ("sh" = dash wording, "bash").
-- @tparam table env exported variables {K=V} (modified by assignments/export)
-- @tparam function run_simple(argv, cio, env, cwd) → exit code, or nil when no such command
-- @tparam table cio {stdin, stdout, stderr} streams (stdin may be nil)
-- @tparam string root rootfs of the node (for redirects)
-- @treturn integer exit status
-- @tparam table args the positional parameters: args[0] ($0), args[1] ($1) … (may be nil)
function M.run(src, shell, env, run_simple, cio, root, cwd, args)
  args = args or {}
  local dash = shell ~= "bash"
  local function err_prefix()
    return dash and (shell .. ": 1: ") or (shell .. ": line 1: ")
  end
  local ok, parsed = pcall(function() return parse(tokenize(src)) end)
  if not ok then
    local e = parsed
    if getmetatable(e) ~= SyntaxError then error(e, 0) end
    if dash then
      cio.stderr:write(err_prefix() .. "Syntax error: " .. e.msg ..
        (e.kind == "unsupported" and " is not supported by the kina simulator" or (e.kind == "eof" and "" or " unexpected")) .. "\n")
    else
      if e.kind == "eof" then
        cio.stderr:write(shell .. ": -c: line 1: unexpected EOF while looking for matching quote\n")
      else
        cio.stderr:write(shell .. ": -c: line 1: syntax error near unexpected token " .. e.msg ..
          (e.kind == "unsupported" and " (not supported by the kina simulator)" or "") .. "\n")
      end
    end
    return 2
  end

  local status = 0
  local cwd_now = cwd or "/"
  local function vars(name)
    if name == "?" then return tostring(status) end
    if name == "#" then return tostring(#args) end
    if name:match("^%d+$") then return args[tonumber(name)] or (name == "0" and shell) or "" end
    return env[name] or ""
  end
  local exited = nil
  local builtins = {}
  function builtins.exit(argv)
    exited = tonumber(argv[2] or status) or 2
    return exited
  end
  function builtins.cd(argv, c)
    local dir = rootfs.normalize(argv[2] or "/root", cwd_now)
    if not rootfs.is_dir(root, dir) then
      c.stderr:write(err_prefix() .. "cd: can't cd to " .. (argv[2] or "/root") .. "\n")
      return 2
    end
    cwd_now = dir
    return 0
  end
  function builtins.export(argv)
    for k = 2, #argv do
      local name, value = argv[k]:match("^([%a_][%w_]*)=(.*)$")
      if name then env[name] = value end
    end
    return 0
  end
  builtins[":"] = function() return 0 end

  for _, cmd in ipairs(parsed) do
    if exited then break end
    if (cmd.join == "&&" and status ~= 0) or (cmd.join == "||" and status == 0) then
      goto next
    end
    do
      local argv = {}
      for k, w in ipairs(cmd.words) do argv[k] = expand_word(w, vars) end
      local cmd_env = env
      if #cmd.assigns > 0 then
        if #argv > 0 then
          cmd_env = {}
          for k, v in pairs(env) do cmd_env[k] = v end
        end
        for _, a in ipairs(cmd.assigns) do
          local text = expand_word(a, vars)
          local name, value = text:match("^([%a_][%w_]*)=(.*)$")
          cmd_env[name] = value
        end
      end
      -- redirects, applied in order
      local c = { stdin = cio.stdin, stdout = cio.stdout, stderr = cio.stderr }
      local opened, failed = {}, nil
      for _, r in ipairs(cmd.redirects) do
        if r.op == "2>&1" then c.stderr = c.stdout
        elseif r.op == ">&2" then c.stdout = c.stderr
        else
          local target = expand_word(r.word, vars)
          local fh
          if target == "/dev/null" then
            fh = r.op == "<" and io.open("/dev/null", "rb") or { write = function() return true end, close = function() end }
          elseif target == "/dev/stdout" then fh = cio.stdout
          elseif target == "/dev/stderr" then fh = cio.stderr
          else
            local path = rootfs.normalize(target, cwd_now)
            local mode = (r.op == ">>" or r.op == "2>>") and "ab" or (r.op == "<" and "rb" or "wb")
            local parent = path:match("^(.*)/[^/]*$")
            if r.op ~= "<" and parent ~= "" and not rootfs.is_dir(root, parent) then
              failed = dash and ("cannot create " .. target .. ": Directory nonexistent") or (target .. ": No such file or directory")
              break
            end
            if rootfs.is_dir(root, path) then
              failed = dash and ("cannot create " .. target .. ": Is a directory") or (target .. ": Is a directory")
              break
            end
            if path:match("^/proc/sys/") and r.op ~= "<" then
              fh = cmd_env.__proc_sys_writer and cmd_env.__proc_sys_writer(path)
            else
              fh = io.open(rootfs.host(root, path), mode)
            end
            if not fh then
              failed = dash and ((r.op == "<" and "cannot open " or "cannot create ") .. target .. ": No such file")
                or (target .. ": No such file or directory")
              break
            end
            opened[#opened + 1] = fh
          end
          if r.op == "<" then c.stdin = fh
          elseif r.op == ">" or r.op == ">>" then c.stdout = fh
          else c.stderr = fh end
        end
      end
      if failed then
        c.stderr:write(err_prefix() .. failed .. "\n")
        status = dash and 2 or 1
      elseif #argv == 0 then
        status = 0
      elseif builtins[argv[1]] then
        status = builtins[argv[1]](argv, c)
      else
        local code = run_simple(argv, c, cmd_env, cwd_now)
        if code == nil then
          if argv[1]:find("/", 1, true) then
            c.stderr:write(err_prefix() .. argv[1] .. (dash and ": not found\n" or ": No such file or directory\n"))
          else
            c.stderr:write(err_prefix() .. argv[1] .. (dash and ": not found\n" or ": command not found\n"))
          end
          code = 127
        end
        status = code
      end
      for _, fh in ipairs(opened) do
        if fh.close and fh ~= io.stdout and fh ~= io.stderr then fh:close() end
      end
      if cmd.neg then status = (status == 0) and 1 or 0 end
    end
    ::next::
  end
  return exited or status
end

return M
