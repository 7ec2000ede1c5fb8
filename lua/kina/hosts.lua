--- kina.hosts — the block of node names kina keeps in every node's /etc/hosts.
--
-- Why a hosts block: kina's clusters name their API server by the control plane's name
-- (`controlPlaneEndpoint: <cluster>-control-plane:6443`, as kind does), so that nothing inside
-- a cluster names an address that changes. Apple's runtime gives every container a new IP at
-- every start and has no DNS for bare container names (apple-container.md §5.5; a DNS domain
-- needs `sudo container system dns create`), but the node's resolvers read /etc/hosts first
-- (glibc and Go with Debian's `hosts: files dns`). Apple's runtime writes /etc/hosts itself at
-- every start — `127.0.0.1 localhost` and `<IP> <hostname>` (RuntimeService.swift) — so kina
-- appends its block after those lines, and writes it again after every start.
--
--   hosts.merge(text, entries) -> text   -- text without any old block, then the new one
--   hosts.parse(text) -> {name = ip}     -- kina's block only
--   hosts.entries(nodes) -> entries      -- {{name, ip}} from provider nodes, by name
local M = {}

M.BEGIN = "# BEGIN kina: cluster nodes (written by kina after each start; Apple's runtime writes the lines above)"
M.END = "# END kina"

--- `text` with kina's block (if any) cut out.
function M.strip(text)
  local out, inside = {}, false
  for line in (text or ""):gmatch("[^\n]*\n?") do
    if line == "" then break end
    local bare = line:gsub("\n$", "")
    if bare == M.BEGIN then inside = true
    elseif inside and bare == M.END then inside = false
    elseif not inside then out[#out + 1] = line end
  end
  local s = table.concat(out)
  if s ~= "" and s:sub(-1) ~= "\n" then s = s .. "\n" end
  return s
end

local function check_entry(e, i)
  if type(e) ~= "table" or type(e[1]) ~= "string" or type(e[2]) ~= "string" then
    error(("hosts entry %d must be {name, ip}"):format(i), 3)
  end
  if not e[1]:match("^[%w][%w%-]*$") then error(("hosts entry %d: %q is not a host name"):format(i, e[1]), 3) end
  if not e[2]:match("^%d+%.%d+%.%d+%.%d+$") then error(("hosts entry %d: %q is not an IPv4 address"):format(i, e[2]), 3) end
end

--- The file: `text` without kina's old block, then a block with `entries` ({{name, ip}}).
function M.merge(text, entries)
  local lines = { M.strip(text), M.BEGIN, "\n" }
  for i, e in ipairs(entries) do
    check_entry(e, i)
    lines[#lines + 1] = e[2] .. " " .. e[1] .. "\n"
  end
  lines[#lines + 1] = M.END .. "\n"
  return table.concat(lines)
end

--- kina's block of `text` as {name = ip} (empty when there is none).
function M.parse(text)
  local out, inside = {}, false
  for line in (text or ""):gmatch("[^\n]+") do
    if line == M.BEGIN then inside = true
    elseif line == M.END then inside = false
    elseif inside then
      local ip, name = line:match("^(%S+)%s+(%S+)")
      if ip then out[name] = ip end
    end
  end
  return out
end

--- Entries for provider nodes ({name, ip = "a.b.c.d[/n]"}), sorted by name; nodes without an
-- IP (stopped) are left out.
function M.entries(nodes)
  local out = {}
  for _, n in ipairs(nodes) do
    if n.ip then out[#out + 1] = { n.name, (n.ip:gsub("/%d+$", "")) } end
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

return M
