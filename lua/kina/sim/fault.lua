--- kina.sim.fault — injected failures and hangs.
--
-- Grammar of KINA_SIM_FAIL and KINA_SIM_HANG (same for both):
--
--   spec    := pattern { "," pattern }
--   pattern := op [ ":" target ]
--   op      := an operation name: run create start stop kill delete list inspect exec logs
--              copy prune, "image save" "image load" "image pull" "image tag" "image delete"
--              "image inspect" "image list", "image save copy" (`image save` to stdout, after
--              the archive is complete in its temporary file and before the copy to stdout),
--              "network create" "network delete" "network list"
--              "network inspect", "system status" "system version" "system start"
--              "system kernel set" (aliases such as rm/ls/cp/i/n are accepted and mean the
--              canonical name). Every one is honoured: commands without a fault point of
--              their own get kina.sim.main's generic one.
--   target  := glob; `*` matches any run of characters, everything else is literal.
--
-- A pattern without target matches every target of that operation. The target is the
-- container ID (run create start stop kill delete logs inspect exec copy), the image
-- reference as typed and normalised (image …), or the network name (network …). For `exec`
-- the target is matched against the start of the command line (argv joined with single
-- spaces), so `exec:kubeadm init` fails `kubeadm init --config …` but not `kubeadm join`.
-- Whitespace around patterns is ignored; a comma cannot appear inside a target.
--
-- KINA_SIM_FAIL makes the operation fail with the runtime's error for it; KINA_SIM_HANG makes
-- it sleep until the process is killed. `should_fail` is also handed to the node simulation
-- as ctx.should_fail(op, target).
local M = {}

local OP_ALIASES = {
  rm = "delete", ls = "list", cp = "copy",
  ["i"] = "image", ["images"] = "image", ["n"] = "network", ["s"] = "system",
}

--- Canonical operation name: "i rm" → "image delete".
function M.canonical_op(op)
  local words = {}
  for w in op:gmatch("%S+") do words[#words + 1] = OP_ALIASES[w] or w end
  return table.concat(words, " ")
end

local function glob_to_pattern(glob)
  return (glob:gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"):gsub("%*", ".*"))
end

--- Parse a spec string into a list of `{op =, target = glob|nil, pattern = lua pattern}`.
function M.parse(spec)
  local list = {}
  if not spec or spec == "" then return list end
  for item in spec:gmatch("[^,]+") do
    item = item:match("^%s*(.-)%s*$")
    if item ~= "" then
      local op, target = item:match("^([^:]+):(.*)$")
      op = op or item
      op = M.canonical_op(op:match("^%s*(.-)%s*$"))
      list[#list + 1] = {
        op = op, target = target, text = item,
        pattern = target and ("^" .. glob_to_pattern(target)) or nil,
      }
    end
  end
  return list
end

local function matches(p, op, target)
  if p.op ~= op then return false end
  if not p.pattern then return true end
  if target == nil then return false end
  -- a command line's words are compared, whatever blanks separate them (a script's newlines)
  if op == "exec" then target = target:gsub("%s+", " ") end
  local s, e = target:find(p.pattern)
  if not s then return false end
  if op == "exec" then
    -- prefix of the command line, ending at a word boundary
    return e == #target or target:sub(e + 1, e + 1) == " " or p.target:sub(-1) == "*"
  end
  return e == #target
end

--- A checker over the given FAIL and HANG specs.
-- @treturn table with `should_fail(op, target) → bool, pattern_text` and `should_hang(op, target)`.
function M.new(fail_spec, hang_spec)
  local fails, hangs = M.parse(fail_spec), M.parse(hang_spec)
  local self = {}
  function self.should_fail(op, target)
    op = M.canonical_op(op)
    for _, p in ipairs(fails) do
      if matches(p, op, target) then return true, p.text end
    end
    return false
  end
  function self.should_hang(op, target)
    op = M.canonical_op(op)
    for _, p in ipairs(hangs) do
      if matches(p, op, target) then return true, p.text end
    end
    return false
  end
  return self
end

--- Sleep until killed.
function M.hang()
  local uv = require("luv")
  while true do uv.sleep(3600 * 1000) end
end

return M
