-- Stream FILE into `cat > /dev/null` through kina's runner: mode "stdin" (the runner hands the
-- file to the child as its stdin) or "pipe" (`cat FILE` piped child-to-child into `cat`).
-- Prints seconds and the peak RSS of this process in KiB.
local kina = require "kina"
local uv = require "luv"
local mode, file = arg[1], arg[2]
local t0 = kina.async.now()
kina.run(function(k)
  if mode == "stdin" then
    local r = k:exec{ argv = { "cat" }, stdin_file = file, stdout = "discard" }
    assert(r.code == 0, r.stderr)
  else
    local producer = k:spawn{ argv = { "cat", file }, stdout = "pipe" }
    local consumer = k:spawn{ argv = { "cat" }, stdin_from = producer, stdout = "discard" }
    local all = k:await_all{ producer, consumer }
    assert(all[1].code == 0 and all[2].code == 0)
  end
end)
io.write(("%.6f %d\n"):format(kina.async.now() - t0, uv.getrusage().maxrss))
