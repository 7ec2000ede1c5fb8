-- N runs of /bin/true, C at a time, with luv's uv.spawn (the baseline). Prints seconds.
-- stdio ignored (nil): the children's output goes to /dev/null.
local uv = require "luv"
local n, c = tonumber(arg[1] or 2000), tonumber(arg[2] or 8)
local started, finished = 0, 0
local function start_one()
  started = started + 1
  local handle
  handle = uv.spawn("/bin/true", { args = {}, stdio = { nil, nil, nil } }, function(code)
    assert(code == 0)
    handle:close()
    finished = finished + 1
    if started < n then start_one() end
  end)
end
local t0 = uv.hrtime()
for _ = 1, math.min(c, n) do start_one() end
uv.run()
assert(finished == n)
io.write(("%.6f\n"):format((uv.hrtime() - t0) / 1e9))
