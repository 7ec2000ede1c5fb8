-- luv across busted's insulation: a spec file that loads luv must not take luv's loop with it
-- when it ends. luv 1.44 keeps its uv_loop_t inside the module table (its `_loop` field) and
-- only a raw pointer to it elsewhere, so once that table is collected the next user of luv
-- builds handles on freed memory (the segfault in uv_tcp_init_ex after containerd_spec, an
-- async job and a new_tcp; see spec/support/luv_pin.lua, which .busted loads first).
-- The `insulate` block below is what busted does to every spec file; then a full collection
-- runs and the loop is used, as the next file would.
local async = require "kina.async"

describe("luv's loop after a spec file that loaded luv has ended", function()
  -- weak: this table alone must not keep the module alive
  local seen = setmetatable({}, { __mode = "v" })

  insulate("a spec file that uses luv", function()
    it("requires luv and runs a process through kina.async", function()
      local uv = require "luv"
      seen.luv = uv
      local timer = uv.new_timer()
      timer:start(0, 0, function() timer:close() end)
      uv.run()
      local sched <close> = async.new{}
      local r = assert(sched:exec{ argv = { "true" } })
      assert.are.equal(0, r.code)
    end)
  end)

  it("is the same live loop in the next file, so new handles work", function()
    collectgarbage("collect")
    collectgarbage("collect")
    -- Before the fix the module (and with it the loop) was dropped and collected here, and the
    -- new_tcp below wrote into freed memory.
    assert.is_not_nil(seen.luv, "luv's module table, which owns its loop, was collected")
    local uv = require "luv"
    assert.are.equal(seen.luv, uv)
    -- churn the allocator so freed memory would be reused, as the crashing run did
    local sched <close> = async.new{}
    assert(sched:exec{ argv = { "true" } })
    local tcp = uv.new_tcp()
    local fired = false
    local timer = uv.new_timer()
    timer:start(0, 0, function()
      fired = true
      timer:close()
    end)
    tcp:close()
    uv.run()
    assert.is_true(fired)
  end)
end)
