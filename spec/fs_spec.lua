local fs = require("kina.core.fs")
local uv = require("luv")

-- Runs Lua code in a separate lua5.4 process (fcntl locks only contend between processes).
local CPATH = package.cpath
local function child_cmd(code)
  local prelude = string.format("package.cpath=%q; local fs=require('kina.core.fs');", CPATH)
  return string.format("lua5.4 -e %q", prelude .. code)
end

local function child(code)
  local p = assert(io.popen(child_cmd(code)))
  local out = p:read("a")
  p:close()
  return out
end

local function try_in_child(path)
  return child(string.format(
    "local l, err, code = fs.lock(%q, {wait=false}); io.write(l and 'locked' or code)", path))
end

local function tmpdir()
  local d = assert(uv.fs_mkdtemp("/tmp/kina-fs-spec-XXXXXX"))
  return d
end

local function exists(p)
  return uv.fs_stat(p) ~= nil
end

describe("kina.core.fs.lock", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

  it("creates the lock file 0644 and excludes another process until unlocked", function()
    local path = dir .. "/state.lock"
    local lock = assert(fs.lock(path))
    local st = assert(uv.fs_stat(path))
    assert.are.equal(tonumber("644", 8), st.mode & tonumber("777", 8))
    assert.is_true(lock:held())
    assert.are.equal("EAGAIN", try_in_child(path))
    assert.is_true(lock:unlock())
    assert.is_false(lock:held())
    assert.is_true(lock:unlock()) -- idempotent
    assert.are.equal("locked", try_in_child(path))
  end)

  it("returns nil, 'EAGAIN: ...', 'EAGAIN' when held elsewhere with wait=false", function()
    local path = dir .. "/held.lock"
    -- The child holds the lock until the file `go` appears.
    local ready, go = dir .. "/ready", dir .. "/go"
    local p = io.popen(child_cmd(string.format([[
      local l = assert(fs.lock(%q)); io.open(%q, "w"):close()
      while not io.open(%q) do os.execute("sleep 0.05") end
      l:unlock()]], path, ready, go)))
    -- bounded, so a child that failed to start fails the test instead of hanging the suite
    for _ = 1, 1500 do
      if exists(ready) then break end
      uv.sleep(20)
    end
    assert.is_true(exists(ready), "the child never took the lock")
    local lock, err, code = fs.lock(path, { wait = false })
    assert.is_nil(lock)
    assert.are.equal("EAGAIN", code)
    assert.matches("^EAGAIN: ", err)
    io.open(go, "w"):close()
    p:close()
    assert.is_truthy(fs.lock(path, { wait = false }))
  end)

  it("blocks a waiting process until the holder releases", function()
    local path = dir .. "/wait.lock"
    local got = dir .. "/got"
    local lock = assert(fs.lock(path))
    local p = io.popen(child_cmd(string.format(
      "local l = assert(fs.lock(%q)); io.open(%q, 'w'):close(); l:unlock()", path, got)))
    -- The child is blocked for as long as we hold the lock, however long that is.
    uv.sleep(200)
    assert.is_false(exists(got))
    lock:unlock()
    p:close() -- waits for the child, which can now finish
    assert.is_true(exists(got))
  end)

  it("releases on __close and on garbage collection", function()
    local path = dir .. "/scoped.lock"
    do
      local l <close> = assert(fs.lock(path))
      assert.are.equal("EAGAIN", try_in_child(path))
    end
    assert.are.equal("locked", try_in_child(path))
    local l = assert(fs.lock(path))
    assert.are.equal("EAGAIN", try_in_child(path))
    l = nil -- luacheck: ignore
    collectgarbage(); collectgarbage()
    assert.are.equal("locked", try_in_child(path))
  end)

  it("reports open failures as nil, message, code", function()
    local lock, err, code = fs.lock(dir .. "/missing/dir/x.lock")
    assert.is_nil(lock)
    assert.are.equal("ENOENT", code)
    assert.matches("^ENOENT: ", err)
  end)

  it("raises on misuse, naming the field", function()
    assert.has_error(function() fs.lock(dir .. "/a", { wiat = true }) end, "lock options: unknown field 'wiat'")
    assert.has_error(function() fs.lock(dir .. "/a", { wait = "yes" }) end,
      "lock options: field 'wait' must be a boolean, not string")
    assert.has_error(function() fs.lock() end)
  end)
end)
