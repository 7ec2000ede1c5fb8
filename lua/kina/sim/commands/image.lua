--- kina.sim.commands.image — image list pull save load tag delete inspect.
local json = require("kina.json")
local errors = require("kina.sim.errors")
local images = require("kina.sim.images")
local render = require("kina.sim.render")
local container = require("kina.sim.commands.container")

local M = {}
local A = json.array

local function sim_cause(pattern)
  return string.format('internalError: "simulated failure (KINA_SIM_FAIL=%s)"', pattern)
end

local function normalize_or_throw(ref)
  local n, parts = images.normalize(ref)
  if not n then errors.throw("invalidArgument", parts) end
  return n, parts
end

local function sorted_images(data)
  local list = {}
  for _, img in pairs(data.images) do list[#list + 1] = img end
  table.sort(list, function(a, b) return a.reference < b.reference end)
  return list
end

function M.list(S, p)
  local data = S.store:load()
  local list = sorted_images(data)
  local fmt = p.opts.format or "table"
  if p.opts.quiet and p.opts.verbose then
    errors.throw("invalidArgument", "cannot use flag --quiet and --verbose together")
  end
  if fmt == "json" then
    local out = A()
    for i, img in ipairs(list) do out[i] = render.image(img, S.v) end
    S.out(render.encode(out, S.v, false) .. "\n")
  elseif p.opts.quiet then
    for _, img in ipairs(list) do S.out(img.reference .. "\n") end
  else
    S.out(render.image_table(list) .. "\n")
  end
  return 0
end

function M.pull(S, p)
  local ref, parts = normalize_or_throw(p.args.reference)
  container.fault_point(S, "image pull", ref, function(pattern)
    return errors.new("internalError", "failed to pull image " .. ref, sim_cause(pattern))
  end)
  local scheme = images.resolve_scheme(S.v, p.opts.scheme, parts.domain)
  S.latency()
  local plat = require("kina.sim.validate").platform(p.opts)
  S.store:update(function(data)
    container.ensure_image(S, data, ref, parts, { os = plat.os, architecture = plat.architecture }, scheme)
  end)
  return 0
end

function M.inspect(S, p)
  local data = S.store:load()
  local out, missing, seen = A(), {}, {}
  for _, r in ipairs(p.args.images) do
    container.fault_point(S, "image inspect", images.normalize(r) or r, function(pattern)
      return errors.new("internalError", "failed to inspect image " .. r, sim_cause(pattern))
    end)
    local ref = images.normalize(r)
    local img = ref and data.images[ref]
    if not img then
      if not seen[r] then missing[#missing + 1] = r end
    elseif not seen[r] then
      out[#out + 1] = render.image(img, S.v)
    end
    seen[r] = true
  end
  -- ImageInspect.swift: every missing name, sorted, in one notFound error
  if #missing > 0 then
    table.sort(missing)
    errors.throw("notFound", "image not found: " .. table.concat(missing, ", "))
  end
  S.out(render.encode(out, S.v, true) .. "\n")
  return 0
end

function M.tag(S, p)
  local src = normalize_or_throw(p.args.source)
  local dst = normalize_or_throw(p.args.target)
  container.fault_point(S, "image tag", src, function(pattern)
    return errors.new("internalError", "failed to tag image " .. src, sim_cause(pattern))
  end)
  S.store:update(function(data)
    local img = data.images[src]
    if not img then errors.throw("notFound", "image with reference " .. p.args.source) end
    local copy = {}
    for k, val in pairs(img) do copy[k] = val end
    copy.reference = dst
    data.images[dst] = copy
  end)
  -- ImageTag.swift prints the target as typed
  S.out(p.args.target .. "\n")
  return 0
end

-- Swift's description of [String]: ["a", "b"]
local function swift_list(list)
  local q = {}
  for i, x in ipairs(list) do q[i] = '"' .. x .. '"' end
  return "[" .. table.concat(q, ", ") .. "]"
end

function M.delete(S, p)
  local refs = p.args.images or {}
  if #refs == 0 and not p.opts.all then errors.throw("invalidArgument", "no images specified and --all not supplied") end
  if #refs > 0 and p.opts.all then errors.throw("invalidArgument", "explicitly supplied images conflict with the --all flag") end
  local failures = {}
  -- hangs happen before taking the state lock, so a hung delete blocks nobody else
  for _, r in ipairs(p.opts.all and {} or refs) do
    if S.fault.should_hang("image delete", images.normalize(r) or r) then S.hang() end
  end
  if p.opts.all then
    for _, img in ipairs(sorted_images(S.store:load())) do
      if S.fault.should_hang("image delete", img.reference) then S.hang() end
    end
  end
  local deleted = S.store:update(function(data)
    local targets = {}
    if p.opts.all then
      for _, img in ipairs(sorted_images(data)) do targets[#targets + 1] = img.reference end
    else
      for _, r in ipairs(refs) do
        local ref = images.normalize(r)
        if not ref or not data.images[ref] then
          if not p.opts.force then failures[#failures + 1] = r end
        else
          targets[#targets + 1] = ref
        end
      end
    end
    local done = {}
    for _, ref in ipairs(targets) do
      local failing, pattern = S.fault.should_fail("image delete", ref)
      if failing then
        io.stderr:write("failed to delete " .. ref .. ": " .. sim_cause(pattern) .. "\n")
        failures[#failures + 1] = ref
      else
        data.images[ref] = nil
        done[#done + 1] = ref
      end
    end
    return done
  end)
  for _, ref in ipairs(deleted) do S.out(ref .. "\n") end
  if #failures > 0 then
    errors.throw("internalError", "failed to delete one or more images: " .. swift_list(failures))
  end
  return 0
end

local function oci()
  local ok, mod = pcall(require, "kina.sim.oci")
  if not ok then errors.throw("unsupported", "image archives need kina.sim.oci: " .. tostring(mod)) end
  return mod
end

-- --platform, or --os/--arch (ImageSave: DefaultPlatform.resolve), or nil.
local function requested_platform(o)
  if o.platform then return oci().parse_platform(o.platform) end
  if o.os or o.arch then return { os = o.os or "linux", architecture = o.arch or "arm64" } end
  return nil
end

-- Apple's client spools an archive through FileManager.default.temporaryDirectory ($TMPDIR)
-- as "<UUID().uuidString>.tar" (ImageSave.swift, ImageLoad.swift, 0.7.0 to 1.2.2).
local function temp_archive_path(S)
  local dir = S.getenv("TMPDIR")
  if not dir or dir == "" then dir = "/tmp" end
  return (dir:gsub("/+$", "")) .. "/" .. require("kina.sim.util").uuid():upper() .. ".tar"
end

-- Copy size of the spooling loops (Apple's is 4096 bytes; nothing outside sees the difference).
local SPOOL_CHUNK = 65536

-- `image save` without --output (ImageSave.swift, 0.7.0 to 1.2.2): the images service writes
-- the whole archive into a temporary file (ClientImage.save(out: tempFile)), and only then does
-- the CLI copy it to stdout, so nothing reaches stdout before the archive is complete; `defer`
-- removes the file whether the save succeeded or threw. The fault point "image save copy"
-- (target: each reference) sits between the two: its FAIL is the copy's own error.
local function save_to_stdout(S, refs, entries)
  local path = temp_archive_path(S)
  local f = io.open(path, "wb")
  if not f then errors.throw("internalError", "unable to create temporary file") end
  local ok, err = pcall(function()
    local wok, werr = oci().write(f, entries)
    f:close()
    if wok == nil and werr then errors.throw("internalError", "failed to save image(s)", tostring(werr)) end
    for _, r in ipairs(refs) do
      container.fault_point(S, "image save copy", images.normalize(r) or r, function(pattern)
        return errors.new("internalError", "unable to open temporary file for reading", sim_cause(pattern))
      end)
    end
    local rf = io.open(path, "rb")
    if not rf then errors.throw("internalError", "unable to open temporary file for reading") end
    while true do
      local chunk = rf:read(SPOOL_CHUNK)
      if not chunk then break end
      local sok, serr = io.stdout:write(chunk)
      if not sok then
        rf:close()
        -- Apple's FileHandle.write traps (or SIGPIPE kills it) instead: README "Known differences"
        errors.throw("internalError", "cannot write the archive to stdout: " .. tostring(serr))
      end
    end
    rf:close()
  end)
  if io.type(f) == "file" then f:close() end
  os.remove(path)
  if not ok then error(err, 0) end
end

--- The archive `image load` reads (ImageLoad.swift, 0.7.0 to 1.2.2): --input as it is (it must
-- exist), or stdin copied in full into a temporary file first, so nothing is parsed before
-- stdin ends. Returns {path, discard()} (discard removes the temporary file), or nil, exit code
-- after printing the missing-file text.
function M.input_archive(S, p)
  if p.opts.input then
    local f = io.open(p.opts.input, "rb")
    if not f then
      if S.v:ge("1.0.0") then
        -- log.error("file does not exist", metadata: ["path": …]), exit 1
        io.stderr:write('file does not exist: ["path": ' .. p.opts.input .. ']\n')
      else
        -- print("File does not exist \(input!)") up to 0.12.3
        S.out("File does not exist " .. p.opts.input .. "\n")
      end
      return nil, 1
    end
    f:close()
    return { path = p.opts.input, discard = function() end }
  end
  local path = temp_archive_path(S)
  local out = io.open(path, "wb")
  if not out then errors.throw("internalError", "unable to create temporary file") end
  local ok, err = pcall(function()
    while true do
      local chunk = io.stdin:read(SPOOL_CHUNK)
      if not chunk then break end
      local wok, werr = out:write(chunk)
      if not wok then errors.throw("internalError", "cannot write " .. path .. ": " .. tostring(werr)) end
    end
  end)
  out:close()
  local function discard() os.remove(path) end
  if not ok then discard(); error(err, 0) end
  return { path = path, discard = discard }
end

function M.save(S, p)
  local data = S.store:load()
  local refs = p.args.references
  local list, missing = {}, false
  for _, r in ipairs(refs) do
    local ref = images.normalize(r)
    container.fault_point(S, "image save", ref or r, function(pattern)
      return errors.new("internalError", "failed to save image(s)", sim_cause(pattern))
    end)
    local img = ref and data.images[ref]
    if img then
      list[#list + 1] = img
    else
      -- ImageSave.swift reports each miss (log.error from 1.0, print before) and then fails
      local line = "failed to get image for reference " .. r .. ": " .. errors.nested("notFound", "image with reference " .. r) .. "\n"
      if S.v:ge("1.0.0") then io.stderr:write(line) else S.out(line) end
      missing = true
    end
  end
  if missing then errors.throw("invalidArgument", "failed to save image(s)") end
  local want = S.v:ge("0.12.0") and requested_platform(p.opts) or nil
  if want then
    for i, img in ipairs(list) do
      local have = img.platforms and img.platforms[1] or {}
      if have.os ~= want.os or have.architecture ~= want.architecture then
        errors.throw("invalidArgument", "image " .. refs[i] .. " has no content for platform " .. oci().platform_string(want) ..
          "; available platforms: " .. oci().platform_string({ os = have.os or "linux", architecture = have.architecture or "arm64" }))
      end
    end
  end
  local entries = {}
  for i, img in ipairs(list) do entries[i] = images.archive_entry(img) end
  if p.opts.output then
    local f, err = io.open(p.opts.output, "wb")
    if not f then errors.throw("internalError", "cannot write " .. p.opts.output .. ": " .. tostring(err)) end
    local ok, werr = oci().write(f, entries)
    f:close()
    if ok == nil and werr then errors.throw("internalError", "failed to save image(s)", tostring(werr)) end
  else
    save_to_stdout(S, refs, entries)
  end
  io.stdout:flush()
  -- The saved references: on stdout, except when stdout carries the archive (1.1+: stderr)
  for _, r in ipairs(refs) do
    if not p.opts.output and S.v.save_stdout_lists_refs then io.stderr:write(r .. "\n") else S.out(r .. "\n") end
  end
  return 0
end

function M.load(S, p)
  container.fault_point(S, "image load", p.opts.input or "-", function(pattern)
    return errors.new("internalError", "failed to load image(s)", sim_cause(pattern))
  end)
  local src, code = M.input_archive(S, p)
  if not src then return code end
  -- the images service reads the archive from its path (ClientImage.load(from:)); `defer`
  -- removes a temporary file on success and on failure
  local in_fh = io.open(src.path, "rb")
  if not in_fh then
    src.discard()
    errors.throw("internalError", "failed to load image(s): cannot open " .. src.path)
  end
  local ok, list, err = pcall(oci().read, in_fh)
  in_fh:close()
  src.discard()
  if not ok then error(list, 0) end
  if not list then errors.throw("invalidArgument", "failed to load image(s): " .. tostring(err)) end
  S.store:update(function(data)
    for _, img in ipairs(list) do
      local ref = images.normalize(img.reference) or img.reference
      local plat = img.platform and oci().parse_platform(img.platform) or nil
      local rec = images.record(ref, S.now(), plat)
      -- the archive's index digest and size are the image's from now on
      rec.digest, rec.size = img.digest, img.size or rec.size
      -- what `run` takes from the image: the archive's own config (Parser.process)
      rec.process = img.process
      data.images[ref] = rec
    end
  end)
  for _, img in ipairs(list) do S.out((images.normalize(img.reference) or img.reference) .. "\n") end
  return 0
end

return M
