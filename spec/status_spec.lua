-- kina.status: progress lines, -v debug lines, what a Ctrl-C leaves on a terminal, and the
-- runtime calls a status reports (each with its duration under -v; a hung one while no step is
-- on screen named without -v).
local async = require "kina.async"
local status_lib = require "kina.status"

-- An `out` file that keeps what is written; `on_write(text)` (optional) sees each piece.
local function buffer(on_write)
  local b = { parts = {} }
  function b:write(...)
    for _, s in ipairs{ ... } do
      self.parts[#self.parts + 1] = s
      if on_write then on_write(s) end
    end
  end
  function b:flush() end
  function b:text() return table.concat(self.parts) end
  return b
end

describe("kina.status", function()
  describe("interrupted (Ctrl-C on a terminal echoes ^C where the cursor is)", function()
    it("ends the ^C's line when no spinner will redraw it, so ERROR: starts its own line", function()
      local out = buffer()
      local s = status_lib.new{ out = out, smart = true, tty = true }
      s:interrupted()
      assert.equal("\n", out:text())
      out = buffer()
      s = status_lib.new{ out = out, smart = false, tty = true }
      s:start("Starting control-plane")
      s:interrupted()
      assert.equal(" • Starting control-plane  ...\n\n", out:text())
    end)

    it("writes nothing where the spinner redraws the line, or where no terminal echoes ^C", function()
      local out = buffer()
      local s = status_lib.new{ out = out, smart = true, tty = true }
      s.current = "Starting control-plane" -- a step on screen (start() would draw the spinner)
      s:interrupted()
      assert.equal("", out:text())
      out = buffer()
      s = status_lib.new{ out = out, smart = false, tty = false }
      s:interrupted()
      assert.equal("", out:text())
    end)

    it("ends the line even with --quiet: the terminal echoed ^C all the same", function()
      local out = buffer()
      status_lib.new{ out = out, smart = false, tty = true, quiet = true }:interrupted()
      assert.equal("\n", out:text())
    end)
  end)

  it("prints debug lines under kind's DEBUG: header, and only with -v", function()
    local out = buffer()
    status_lib.new{ out = out, smart = false, verbose = true }:debug("pulling x")
    assert.equal("DEBUG: pulling x\n", out:text())
    out = buffer()
    status_lib.new{ out = out, smart = false }:debug("pulling x")
    assert.equal("", out:text())
  end)

  describe("runtime_calls", function()
    it("reports each call under -v: its command line, how it ended and how long it took", function()
      local out = buffer()
      local s = status_lib.new{ out = out, smart = false, verbose = true }
      local r = async.run(function(k)
        return s:runtime_calls(k):exec{ argv = { "sh", "-c", "exit 3" } }
      end)
      assert.equal(3, r.code)
      assert.matches("^DEBUG: sh %-c 'exit 3': exit 3 in %d+%.%d%ds\n$", out:text())
    end)

    it("passes a call that cannot start through as the scheduler returns it, and says so under -v", function()
      local out = buffer()
      local s = status_lib.new{ out = out, smart = false, verbose = true }
      local r, err, code = async.run(function(k)
        return s:runtime_calls(k):exec{ argv = { "/nonexistent/kina-no-such-program" } }
      end)
      assert.is_nil(r)
      assert.equal("ENOENT", code)
      assert.matches("^DEBUG: /nonexistent/kina%-no%-such%-program: ", out:text())
      assert.truthy(out:text():find(err, 1, true))
    end)

    it("prints nothing about calls without -v when they answer", function()
      local out = buffer()
      local s = status_lib.new{ out = out, smart = false }
      async.run(function(k) return s:runtime_calls(k):exec{ argv = { "true" } } end)
      assert.equal("", out:text())
    end)

    it("names a call that has not answered while no step is on screen (a cleanup), even without -v", function()
      local sched
      -- the call only ends when the notice is written: no race with the clock
      local out = buffer(function(text) if text:find("waiting for", 1, true) then sched:cancel_all() end end)
      local s = status_lib.new{ out = out, smart = false, wait_notice = 0.05 }
      local r = async.run(function(k)
        sched = k
        return s:runtime_calls(k):exec{ argv = { "sleep", "60" } }
      end)
      assert.is_true(r.cancelled)
      assert.equal("waiting for `sleep 60` (no answer after 0.05s) ...\n", out:text())
    end)

    it("says nothing about a slow call while a step is on screen: the step says what runs", function()
      local out = buffer()
      local s = status_lib.new{ out = out, smart = false, wait_notice = 0.05 }
      s:start("Starting control-plane")
      local r = async.run(function(k)
        return s:runtime_calls(k):exec{ argv = { "sleep", "60" }, timeout = 0.5 }
      end)
      assert.is_true(r.timed_out)
      assert.equal(" • Starting control-plane  ...\n", out:text())
    end)

    it("is the scheduler for everything else (sleep, spawn, await)", function()
      local out = buffer()
      local s = status_lib.new{ out = out, smart = false, verbose = true }
      local r = async.run(function(k)
        local view = s:runtime_calls(k)
        view:sleep(0)
        return view:await(view:spawn{ argv = { "sh", "-c", "echo hi" } })
      end)
      assert.equal("hi\n", r.stdout)
      assert.equal("DEBUG: started sh -c 'echo hi'\n", out:text())
    end)
  end)
end)
