-- kina.columns: aligned text tables, two spaces apart, the last column unpadded.
local columns = require "kina.columns"

describe("kina.columns", function()
  it("pads every column but the last to its widest cell, counting UTF-8 characters", function()
    assert.equal("NAME  STATE\nkina  running\nü     x\n",
      columns.render({ { "NAME", "STATE" }, { "kina", "running" }, { "ü", "x" } }))
  end)

  it("renders nothing for no rows", function()
    assert.equal("", columns.render({}))
  end)
end)
