-- The baseline for pipe_throughput.lua: `sh -c 'cat FILE | cat > /dev/null'`. Prints seconds.
local uv = require "luv"
local file = arg[1]
local t0 = uv.hrtime()
assert(os.execute("cat '" .. file:gsub("'", "'\\''") .. "' | cat > /dev/null"))
io.write(("%.6f\n"):format((uv.hrtime() - t0) / 1e9))
