-- Network namespaces for the oracle specs: real programs run inside a private namespace
-- (`ip netns add`, then `ip netns exec NAME argv...`), so they change nothing on the host.
-- Every namespace made here is deleted by `cleanup()`. (Not a spec itself: specs load it with
-- dofile.)
local uv = require "luv"

local N = {}

local SBIN = { "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin" }

--- The path of `prog` on $PATH or in the sbin directories (a non-root $PATH lacks them), or nil.
function N.which(prog)
  local dirs = {}
  for d in (os.getenv("PATH") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = d end
  for _, d in ipairs(SBIN) do dirs[#dirs + 1] = d end
  for _, d in ipairs(dirs) do
    local p = d .. "/" .. prog
    if uv.fs_access(p, "X") then return p end
  end
  return nil
end

--- A session: namespaces named kina-oracle-<pid>-<n>, made and deleted through `sched`
-- (a kina.async scheduler).
function N.session(sched)
  local ip = N.which("ip")
  local made = {}   -- name -> true while it exists
  local count = 0
  local s = {}

  -- the programs in the namespace are found on $PATH as in a node, whose PATH has the sbin dirs
  local path = (os.getenv("PATH") or "/usr/bin:/bin") .. ":" .. table.concat(SBIN, ":")
  local function run(argv, opts)
    opts = opts or {}
    local r = assert(sched:exec{ argv = argv, env = { PATH = path }, stdin = opts.stdin or "", timeout = opts.timeout or 30 })
    assert(not r.timed_out, table.concat(argv, " ") .. " did not finish")
    return r
  end

  --- true, or nil and why namespaces cannot be used here (the reason a spec skips).
  function s.usable()
    if uv.getuid() ~= 0 then return nil, "not root (network namespaces need CAP_SYS_ADMIN)" end
    if not ip then return nil, "`ip` not found (Debian package iproute2)" end
    local ns, why = s.create()
    if not ns then return nil, why end
    -- `ip netns exec` remounts /sys in a private mount namespace; in a plain chroot, where / is
    -- not a mount point, that fails although `ip netns add` worked
    local probe = ns.exec{ "true" }
    ns.delete()
    if probe.code ~= 0 then return nil, "`ip netns exec` cannot run a program here: " .. probe.stderr end
    return true
  end

  --- A new namespace, or nil and `ip netns add`'s message. The object: name, exec(argv, opts)
  -- → {code, stdout, stderr} of argv run inside it, delete().
  function s.create()
    count = count + 1
    local name = ("kina-oracle-%d-%d"):format(uv.os_getpid(), count)
    local r = run{ ip, "netns", "add", name }
    if r.code ~= 0 then return nil, "`ip netns add " .. name .. "` failed: " .. r.stderr end
    made[name] = true
    local ns = { name = name }
    function ns.exec(argv, opts)
      local full = { ip, "netns", "exec", name }
      for _, a in ipairs(argv) do full[#full + 1] = a end
      return run(full, opts)
    end
    function ns.delete()
      if not made[name] then return end
      local d = run{ ip, "netns", "delete", name }
      assert(d.code == 0, "`ip netns delete " .. name .. "` failed: " .. d.stderr)
      made[name] = nil
    end
    return ns
  end

  --- Delete every namespace still there.
  function s.cleanup()
    local names = {}
    for name in pairs(made) do names[#names + 1] = name end
    for _, name in ipairs(names) do
      run{ ip, "netns", "delete", name }
      made[name] = nil
    end
  end

  return s
end

--- argv run inside a private mount namespace with an empty tmpfs over `dir`: the files under
-- it are gone for argv alone (stat(2) gets ENOENT), as when the kernel part providing them is
-- absent. The argv stays an array: the shell's script is fixed and gets it as "$@".
function N.hiding(dir, argv)
  local out = { "unshare", "--mount", "--propagation", "private", "sh", "-c",
    'mount -t tmpfs kina-oracle "$0" && exec "$@"', dir }
  for _, a in ipairs(argv) do out[#out + 1] = a end
  return out
end

--- argv run inside a private mount namespace where `dir` is bind-mounted read-only onto itself
-- (how an OCI runtime applies `readonlyPaths`, e.g. /proc/sys).
function N.read_only(dir, argv)
  local out = { "unshare", "--mount", "--propagation", "private", "sh", "-c",
    'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"', dir }
  for _, a in ipairs(argv) do out[#out + 1] = a end
  return out
end

return N
