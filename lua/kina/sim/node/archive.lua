--- kina.sim.node.archive — `tar` inside a simulated node, and the /var/log it archives.
--
-- Only creation is simulated, in the forms kina and kind use: `tar -C DIR -c[h][v]f - PATH…`
-- (old-style bundled letters or separate options; `-f` takes the next word; `-` is stdout),
-- writing a real ustar stream of the node's files and directories with kina.sim.oci's writer,
-- members in sorted order, "./" prefixes kept as given. GNU tar's wording and exit status 2 for
-- the failures it can meet here (missing -C directory, missing member, unsupported mode).
--
-- Before archiving anything under /var/log, the node's logs are brought up to date the way a
-- booted kindest/node has them: the systemd journal (/var/log/journal/<machine-id>/), and for
-- every running pod of the node /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log plus its
-- /var/log/containers/<pod>_<ns>_<container>-<id>.log (a symlink on a real node; a plain file
-- here, which is what `tar -h` stores anyway).
local rootfs = require("kina.sim.node.rootfs")
local oci = require("kina.sim.oci")
local digest = require("kina.core.digest")

local A = {}

local function machine_id(n)
  return digest.sha256("machine-id " .. n.rec.id):sub(1, 32)
end

local function cri_time(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) .. string.format(".%09dZ", math.floor((t % 1) * 1e9))
end

-- The (main) container of a pod: static pods are "<component>-<node>", daemonset pods
-- "<ds>-<5 chars>", deployment pods "<deploy>-<replicaset hash>-<5 chars>".
local function container_name(pod, host)
  if pod:sub(-#host - 1) == "-" .. host then return pod:sub(1, -#host - 2) end
  local base = pod:gsub("%-%w%w%w%w%w$", "")
  base = base:gsub("%-%w%w%w%w%w%w%w%w%w%w?$", "")
  if base == "kindnet" then return "kindnet-cni" end
  return base
end

-- Write /var/log's generated content for node `n` as of now.
function A.sync_var_log(n, commands)
  local root = n.root
  local jdir = "/var/log/journal/" .. machine_id(n)
  rootfs.mkdir_p(root, jdir)
  local journal = commands.__journal_entries and commands.__journal_entries(n, nil) or {}
  rootfs.write(root, jdir .. "/system.journal", table.concat(journal, "\n") .. (#journal > 0 and "\n" or ""))
  rootfs.mkdir_p(root, "/var/log/pods")
  rootfs.mkdir_p(root, "/var/log/containers")
  local pods = commands.__pods_on and commands.__pods_on(n) or {}
  for _, p in ipairs(pods) do
    local uid = digest.sha256("pod-uid " .. p.ns .. "/" .. p.name)
    uid = uid:sub(1, 8) .. "-" .. uid:sub(9, 12) .. "-" .. uid:sub(13, 16) .. "-" .. uid:sub(17, 20) .. "-" .. uid:sub(21, 32)
    local cname = container_name(p.name, n:hostname())
    local line = cri_time(p.t or n:now()) .. " stderr F I" .. os.date("!%m%d %H:%M:%S", math.floor(p.t or n:now())) ..
      ".000000       1 server.go:100] \"Starting " .. cname .. "\" node=\"" .. n:hostname() .. "\"\n"
    local pdir = "/var/log/pods/" .. p.ns .. "_" .. p.name .. "_" .. uid .. "/" .. cname
    rootfs.mkdir_p(root, pdir)
    rootfs.write(root, pdir .. "/0.log", line)
    local cid = digest.sha256("container " .. p.name .. "/" .. cname)
    rootfs.write(root, "/var/log/containers/" .. p.name .. "_" .. p.ns .. "_" .. cname .. "-" .. cid .. ".log", line)
  end
end

local function tar_fail(n, msg, code)
  n:err("tar: " .. msg .. "\n")
  return code or 2
end

-- Parse tar's arguments: old-style first word ("chf"/"-chf") or separate options.
local function parse(argv)
  local o = { members = {} }
  local i = 2
  local pending_f = false
  local function letters(word, from)
    for k = from, #word do
      local c = word:sub(k, k)
      if c == "f" then pending_f = true
      elseif c == "C" then o.want_dir = true
      elseif c == "c" or c == "x" or c == "t" or c == "r" or c == "u" then
        if o.mode and o.mode ~= c then return "You may not specify more than one '-Acdtrux', '--delete' or  '--test-label' option" end
        o.mode = c
      elseif c == "h" then o.dereference = true
      elseif c == "v" then o.verbose = true
      elseif c == "z" or c == "j" or c == "J" then o.compress = c
      elseif c == "p" then -- same permissions: accepted
      else return "invalid option -- '" .. c .. "'" end
    end
  end
  local first = argv[2]
  if first and first:sub(1, 1) ~= "-" and first:match("^[a-zA-Z]+$") then
    local err = letters(first, 1)
    if err then return nil, err end
    i = 3
  end
  while i <= #argv do
    local a = argv[i]
    if pending_f then
      o.file = a; pending_f = false
    elseif o.want_dir then
      o.dir = a; o.want_dir = false
    elseif a == "--directory" then
      o.want_dir = true
    elseif a:match("^%-%-directory=") then
      o.dir = a:match("=(.*)$")
    elseif a:match("^%-%-file=") then
      o.file = a:match("=(.*)$")
    elseif a == "--file" then pending_f = true
    elseif a == "--create" then o.mode = "c"
    elseif a == "--dereference" then o.dereference = true
    -- GNU tar: archive a hard link's file rather than a link to the first name; a simulated
    -- rootfs has no hard links, so there is nothing to change
    elseif a == "--hard-dereference" then o.hard_dereference = true
    elseif a == "--" then
      for k = i + 1, #argv do o.members[#o.members + 1] = argv[k] end
      break
    elseif a:sub(1, 2) == "--" then
      return nil, "unrecognized option '" .. a .. "'"
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local err = letters(a, 2)
      if err then return nil, err end
    else
      o.members[#o.members + 1] = a
    end
    i = i + 1
  end
  if pending_f then return nil, "option requires an argument -- 'f'" end
  if o.want_dir then return nil, "option requires an argument -- 'C'" end
  return o
end

function A.install(commands)
  function commands.tar(n, argv)
    local o, err = parse(argv)
    if not o then
      return tar_fail(n, err .. "\nTry 'tar --help' or 'tar --usage' for more information.", 2)
    end
    if not o.mode then
      return tar_fail(n, "You must specify one of the '-Acdtrux', '--delete' or '--test-label' options\nTry 'tar --help' or 'tar --usage' for more information.", 2)
    end
    if o.mode ~= "c" then return tar_fail(n, "the kina simulator's tar only creates archives (-c)", 2) end
    if o.compress then return tar_fail(n, "the kina simulator's tar does not compress (-" .. o.compress .. ")", 2) end
    if #o.members == 0 then return tar_fail(n, "Cowardly refusing to create an empty archive\nTry 'tar --help' or 'tar --usage' for more information.", 2) end
    local base = o.dir and n:path(o.dir) or n.cwd or "/"
    if not rootfs.is_dir(n.root, base) then
      return tar_fail(n, o.dir .. ": Cannot open: No such file or directory\ntar: Error is not recoverable: exiting now", 2)
    end
    if base == "/var/log" or base:match("^/var/log/") or base == "/" or base == "/var" then
      A.sync_var_log(n, commands)
    end
    local out, close_out
    if o.file == nil or o.file == "-" then
      out = n.io.stdout
    else
      local fh = io.open(rootfs.host(n.root, rootfs.normalize(o.file, n.cwd)), "wb")
      if not fh then return tar_fail(n, o.file .. ": Cannot open: No such file or directory\ntar: Error is not recoverable: exiting now", 2) end
      out, close_out = fh, true
    end
    local status = 0
    local function emit(name, node_path, st)
      if st.type == "directory" then
        local shown = name:sub(-1) == "/" and name or (name .. "/")
        out:write(oci.tar_header(shown, 0, "5", st.mtime and st.mtime.sec or 0, st.mode & 4095))
        if o.verbose then n:err(shown .. "\n") end
        for _, child in ipairs(rootfs.list(n.root, node_path) or {}) do
          if not child:find(".kina-tmp.", 1, true) then
            local cpath = node_path == "/" and ("/" .. child) or (node_path .. "/" .. child)
            local cst = rootfs.stat(n.root, cpath)
            if cst then emit(shown .. child, cpath, cst) end
          end
        end
      elseif st.type == "file" then
        local fh = io.open(rootfs.host(n.root, node_path), "rb")
        if not fh then
          n:err("tar: " .. name .. ": Cannot open: Permission denied\n"); status = 2
          return
        end
        out:write(oci.tar_header(name, st.size, "0", st.mtime and st.mtime.sec or 0, st.mode & 4095))
        local left = st.size
        while left > 0 do
          local chunk = fh:read(math.min(left, 65536))
          if not chunk or #chunk == 0 then break end
          out:write(chunk)
          left = left - #chunk
        end
        fh:close()
        if left > 0 then out:write(string.rep("\0", left)) end -- file shrank meanwhile
        out:write(oci.tar_padding(st.size))
        if o.verbose then n:err(name .. "\n") end
      end
    end
    for _, m in ipairs(o.members) do
      local p = rootfs.normalize(m, base)
      local st = rootfs.stat(n.root, p)
      if not st then
        n:err("tar: " .. m .. ": Cannot stat: No such file or directory\n")
        status = 2
      else
        local ok, e = pcall(emit, m == "." and "./" or m, p, st)
        if not ok then n:err("tar: " .. tostring(e):gsub("^oci: ", "") .. "\n"); status = 2 end
      end
    end
    out:write(oci.TAR_END)
    if close_out then out:close() end
    if status ~= 0 then n:err("tar: Exiting with failure status due to previous errors\n") end
    return status
  end
end

return A
