--- kina.sim.versions — which `container` CLI release the simulator imitates.
--
-- KINA_SIM_VERSION selects it (default 1.2.2). Any x.y.z is accepted; behaviour follows the
-- release thresholds of the reference (§1): a flag, JSON shape or error text applies from the
-- release that introduced it. Known tags carry their real commit; other versions print
-- `commit: unspeci` as builds without a commit do.
local M = {}

M.DEFAULT = "1.2.2"

-- Tag → commit of apple/container (git rev-parse <tag>^{commit}).
local COMMITS = {
  ["0.1.0"] = "0fd869231e330aad3278b40f397530d9aaa0440f",
  ["0.2.0"] = "3b5c2530596db56648116ba0c8d74e3ec42581d1",
  ["0.3.0"] = "3fcf647c7baf7462cc0b3ccf34ae2bcc413064b3",
  ["0.4.0"] = "a8c779fd65ee844fc196cc85c62448c9ab1309d8",
  ["0.4.1"] = "4ac18b54f376b03ce24448abdd86a4a3371bad43",
  ["0.5.0"] = "48230f380499efecd663fdc6749a2cbaf2f8ed76",
  ["0.6.0"] = "a23bcf0061090c43f3835505f49f490a251818a1",
  ["0.7.0"] = "1e19a4d6e32f567ce939e799c69f5a635299d65d",
  ["0.7.1"] = "420be748f18afc685d11987ac5118c928e174c19",
  ["0.8.0"] = "a18df81eb0a7fa5e77c76e38fb3b3424846e3690",
  ["0.9.0"] = "3e49dcef4e48121fb26a7e41f8730d7a81f5c3be",
  ["0.10.0"] = "6bdb647b69671c037e2188558ed2e5ba49af2e1a",
  ["0.11.0"] = "d9b8a8d197c076a373ece871f3953de0d2a385a8",
  ["0.12.0"] = "651811cc090937457956643dd2c454df77eb141b",
  ["0.12.1"] = "e9891b3cfe1f8c9d227859aa95375d99b32e11ac",
  ["0.12.2"] = "e9891b3cfe1f8c9d227859aa95375d99b32e11ac",
  ["0.12.3"] = "f9899013fd43dd058fdf89709eed0b0861bfd931",
  ["1.0.0"] = "ee848e3ebfd7c73b04dd419683be54fb450b8779",
  ["1.1.0"] = "5973b9cc626a3e7a499bb316a958237ebe14e2ed",
  ["1.2.0"] = "6e65319fe476ffe8db8ddaf828a537ed36fe2859",
  ["1.2.1"] = "0d111be4c6322c3266601247473abd8e60c8f7d7",
  ["1.2.2"] = "0190097d06df0b9065f4c2d2c7873c649d81d493",
}

-- Releases after the mirror (reference updates-2026-12 §1): their full commits are not known.
-- 1.5.0's short commit is the one a third-party capture of `container --version` printed
-- ("container CLI version 1.5.0 (build: release, commit: d265d66)"); 1.3.0, 1.3.1 and 1.4.1
-- print `unspeci` as other versions without a known commit do (see README "Still unconfirmed").
-- 1.4.0 was never released (Apple discarded the tag): it is just another x.y.z here.
local SHORT_COMMITS = {
  ["1.5.0"] = "d265d66",
}

--- Parse "x.y.z" into a comparable number, or nil.
function M.parse(s)
  if type(s) ~= "string" then return nil end
  local a, b, c = s:match("^(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  return tonumber(a) * 1000000 + tonumber(b) * 1000 + tonumber(c)
end

local Version = {}
Version.__index = Version

--- True when this version is at least `v` ("x.y.z").
function Version:ge(v)
  return self.number >= assert(M.parse(v), "bad version literal " .. tostring(v))
end

function Version:lt(v)
  return not self:ge(v)
end

--- `since` ≤ self < `till` (either may be nil).
function Version:within(since, till)
  return (since == nil or self:ge(since)) and (till == nil or self:lt(till))
end

--- Build the version object for `s`, or nil, message.
function M.new(s)
  s = s or M.DEFAULT
  local n = M.parse(s)
  if not n then
    return nil, string.format("KINA_SIM_VERSION must be x.y.z, got %q", s)
  end
  local v = setmetatable({ string = s, number = n, commit = COMMITS[s] }, Version)
  v.short_commit = v.commit and v.commit:sub(1, 7) or SHORT_COMMITS[s] or ("unspecified"):sub(1, 7)
  -- Behaviour switches, named after what they change (reference §1, §3, §4).
  v.json_v1 = v:ge("1.0.0")                  -- {id, configuration, status:{…}}, ISO dates
  v.ipv4_address = v:ge("0.8.0")             -- attachment ipv4Address/ipv4Gateway, not address
  v.started_date = v:ge("0.8.0")             -- startedDate in list/inspect
  v.list_json_honours_all = v:ge("0.10.0")   -- ≤0.9 `list --format json` shows all
  v.inspect_missing_errors = v:ge("1.0.0")   -- before: `[]`, exit 0
  v.coded_errors = v:lt("0.10.0")            -- `Error: <code>: "<message>"`
  v.stop_delete_missing_errors = v:ge("0.11.0")
  v.capabilities_default = v:ge("0.12.0")    -- OCI default set instead of all caps
  v.default_readonly_paths = v:ge("1.2.0")   -- /proc/sys read-only unless NONE (1.2.1+)
  v.escape_slash = v:lt("1.4.1")             -- JSONEncoder escapes `/` up to 1.3.1 (PR 2205 in 1.4.1)
  v.scheme_auto = v:lt("1.3.0")              -- --scheme auto (the default) until 1.3.0 (PR 2100)
  v.status_nested = v:ge("1.4.1")            -- system status JSON {status, client, server, …} (PR 1769)
  v.attachment_mtu = v:ge("0.11.0")
  v.attachment_mac = v:ge("0.7.0")
  v.attachment_variant = v:ge("1.1.0")       -- Attachment.variant (issue 10, from Apple's 1.2.2 source)
  v.table_ip_column = v:ge("1.0.0")          -- ADDR renamed IP
  v.table_started_column = v:ge("0.8.0")
  v.yaml_toml = v:ge("0.12.0")
  v.save_stdout_lists_refs = v:ge("1.1.0")
  return v
end

return M
