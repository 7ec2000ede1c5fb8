-- Load an image archive into every node of cluster NAME (as `kina load image-archive` does).
-- Prints seconds and the peak RSS of this process in KiB.
--   build/kina run bench/load_archive.lua NAME ARCHIVE
local kina = require "kina"
local uv = require "luv"
local cl <close> = kina.cluster{ name = arg[1], status = kina.status{ quiet = true } }
local t0 = kina.async.now()
cl:load_archives({ arg[2] })
io.write(("%.6f %d\n"):format(kina.async.now() - t0, uv.getrusage().maxrss))
