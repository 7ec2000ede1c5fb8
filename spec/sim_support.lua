-- Helpers for the simulator specs: run the `container` simulator as a real subprocess.
local uv = require("luv")
local json = require("kina.json")

local S = {}

S.BIN = os.getenv("KINA_SIM_BIN") or "./build/sim/container"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
S.quote = q

function S.new_state()
  return assert(uv.fs_mkdtemp("/tmp/kina-sim-spec-XXXXXX"))
end

--- Run the simulator: env (table), argv (array), stdin text (optional).
-- Returns {code=, out=, err=}.
function S.run(env, argv, stdin)
  local parts = { "env" }
  for k, v in pairs(env) do parts[#parts + 1] = q(k .. "=" .. v) end
  parts[#parts + 1] = q(S.BIN)
  for _, a in ipairs(argv) do parts[#parts + 1] = q(a) end
  local errfile = os.tmpname()
  local cmd = table.concat(parts, " ") .. " 2>" .. q(errfile)
  if stdin then
    local infile = os.tmpname()
    local f = io.open(infile, "wb"); f:write(stdin); f:close()
    cmd = cmd .. " <" .. q(infile)
  else
    cmd = cmd .. " </dev/null"
  end
  local p = io.popen(cmd, "r")
  local out = p:read("a")
  local _, _, code = p:close()
  local f = io.open(errfile, "rb"); local err = f:read("a"); f:close(); os.remove(errfile)
  return { code = code, out = out, err = err }
end

--- A runner bound to a fresh state dir and extra env.
function S.sim(extra)
  local dir = S.new_state()
  local env = { KINA_SIM_STATE = dir }
  for k, v in pairs(extra or {}) do env[k] = v end
  local r = { dir = dir, env = env }
  function r.run(...) return S.run(env, { ... }) end
  function r.run_in(stdin, ...) return S.run(env, { ... }, stdin) end
  function r.with(more)
    local e = {}
    for k, v in pairs(env) do e[k] = v end
    for k, v in pairs(more) do e[k] = v end
    return function(...) return S.run(e, { ... }) end
  end
  function r.cleanup() os.execute("rm -rf " .. q(dir)) end
  return r
end

S.json = json
return S
