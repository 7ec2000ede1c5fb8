--- kina.columns — rows of text as aligned columns, two spaces apart, the last column unpadded
-- (the layout of kubectl's and kind's tables).
--   columns.render({ {"NAME", "STATE"}, {"kina", "running"} }) -> "NAME  STATE\nkina  running\n"
local M = {}

local function width(s) return utf8.len(s) or #s end

function M.render(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 0, width(cell)) end
  end
  local out = {}
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = i < #row and cell .. (" "):rep(widths[i] - width(cell) + 2) or cell
    end
    out[#out + 1] = table.concat(cells) .. "\n"
  end
  return table.concat(out)
end

return M
