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
  S.latency()
  local plat = require("kina.sim.validate").platform(p.opts)
  S.store:update(function(data)
    container.ensure_image(S, data, ref, parts, { os = plat.os, architecture = plat.architecture })
  end)
  return 0
end

function M.inspect(S, p)
  local data = S.store:load()
  local out = A()
  for _, r in ipairs(p.args.images) do
    local ref = images.normalize(r)
    local img = ref and data.images[ref]
    if not img then errors.throw("notFound", "image not found: " .. r) end
    out[#out + 1] = render.image(img, S.v)
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
    if not img then errors.throw("notFound", "image not found: " .. p.args.source) end
    local copy = {}
    for k, val in pairs(img) do copy[k] = val end
    copy.reference = dst
    data.images[dst] = copy
  end)
  S.out(dst .. "\n")
  return 0
end

function M.delete(S, p)
  local refs = p.args.images or {}
  local deleted = S.store:update(function(data)
    local targets = {}
    if p.opts.all then
      for _, img in ipairs(sorted_images(data)) do targets[#targets + 1] = img.reference end
    else
      if #refs == 0 then errors.throw("invalidArgument", "no images specified and --all not supplied") end
      for _, r in ipairs(refs) do
        local ref = normalize_or_throw(r)
        if not data.images[ref] then
          if not p.opts.force then errors.throw("notFound", "image not found: " .. r) end
        else
          targets[#targets + 1] = ref
        end
      end
    end
    for _, ref in ipairs(targets) do
      local failing, pattern = S.fault.should_fail("image delete", ref)
      if failing then errors.throw("internalError", "failed to delete image " .. ref, sim_cause(pattern)) end
      data.images[ref] = nil
    end
    return targets
  end)
  for _, ref in ipairs(deleted) do S.out(ref .. "\n") end
  return 0
end

local function oci()
  local ok, mod = pcall(require, "kina.sim.oci")
  if not ok then errors.throw("unsupported", "image archives need kina.sim.oci: " .. tostring(mod)) end
  return mod
end

function M.save(S, p)
  local data = S.store:load()
  local list = {}
  for _, r in ipairs(p.args.references) do
    local ref = normalize_or_throw(r)
    container.fault_point(S, "image save", ref, function(pattern)
      return errors.new("internalError", "failed to save image(s)", sim_cause(pattern))
    end)
    local img = data.images[ref]
    if not img then errors.throw("notFound", "image not found: " .. r) end
    list[#list + 1] = img
  end
  local out_fh, close_it = io.stdout, false
  if p.opts.output then
    local f, err = io.open(p.opts.output, "wb")
    if not f then errors.throw("internalError", "cannot write " .. p.opts.output .. ": " .. tostring(err)) end
    out_fh, close_it = f, true
  end
  local ok, err = oci().write(out_fh, list)
  if close_it then out_fh:close() end
  if ok == nil and err then errors.throw("internalError", "failed to save image(s)", tostring(err)) end
  if not p.opts.output and S.v.save_stdout_lists_refs then
    for _, img in ipairs(list) do io.stderr:write(img.reference .. "\n") end
  end
  return 0
end

function M.load(S, p)
  container.fault_point(S, "image load", p.opts.input or "-", function(pattern)
    return errors.new("internalError", "failed to load image(s)", sim_cause(pattern))
  end)
  local in_fh, close_it = io.stdin, false
  if p.opts.input then
    local f = io.open(p.opts.input, "rb")
    if not f then errors.throw("notFound", "file " .. p.opts.input .. " does not exist") end
    in_fh, close_it = f, true
  end
  local list, err = oci().read(in_fh)
  if close_it then in_fh:close() end
  if not list then errors.throw("invalidArgument", "failed to load image(s): " .. tostring(err)) end
  S.store:update(function(data)
    for _, img in ipairs(list) do
      local ref = images.normalize(img.reference) or img.reference
      local rec = images.record(ref, S.now())
      for k, val in pairs(img) do rec[k] = val end
      rec.reference = ref
      if rec.platforms and not json.is_array(rec.platforms) then json.array(rec.platforms) end
      data.images[ref] = rec
    end
  end)
  for _, img in ipairs(list) do S.out((images.normalize(img.reference) or img.reference) .. "\n") end
  return 0
end

return M
