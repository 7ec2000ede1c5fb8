-- The baseline for load_archive.lua: read FILE N times with cat, one after another. Prints seconds.
local uv = require "luv"
local file, n = arg[1], tonumber(arg[2])
local t0 = uv.hrtime()
for _ = 1, n do assert(os.execute("cat '" .. file:gsub("'", "'\\''") .. "' > /dev/null")) end
io.write(("%.6f\n"):format((uv.hrtime() - t0) / 1e9))
