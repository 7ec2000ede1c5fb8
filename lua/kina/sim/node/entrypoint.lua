--- kina.sim.node.entrypoint — what happens at every boot of a kindest/node on Apple's runtime,
-- before and as systemd starts: the runtime's own files, kind's entrypoint
-- (images/base/files/usr/local/bin/entrypoint, run as `entrypoint /sbin/init`), then systemd.
--
-- Apple's runtime, at container start (apple/container RuntimeService.swift, reference
-- updates §1): the hostname is the container ID cut at the first `.`, /etc/hosts is
-- `127.0.0.1 localhost` and `<primary IPv4> <hostname>`, resolv.conf names the gateway.
--
-- The entrypoint, in its order (every `log_info` goes to the console as `INFO: …`):
--   configure_containerd  KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER (container env), else
--                         automatic only on zfs / fuseblk / userns — none applies: the VM's
--                         root filesystem is ext4 (kernel cmdline rootfstype=ext4) and there is
--                         no user namespace; when set, `sed` replaces `snapshotter = "overlayfs"`
--                         in config.toml and fuse-overlayfs enables its service
--   configure_proxy       /etc/systemd/system.conf.d/proxy-default-environment.conf
--   fix_mount             remount /sys read-only (fatal without CAP_SYS_ADMIN), make mounts shared
--   fix_cgroup            cgroup v2 (the runtime mounts cgroup2 on /sys/fs/cgroup, reference §5.2)
--   fix_machine_id        new /etc/machine-id (systemd-machine-id-setup)
--   fix_product_*         only when /sys/class/dmi/id/* exist: not on an arm64
--                         Virtualization.framework VM booted with a Linux kernel (no SMBIOS;
--                         README); /kind/product_uuid is written either way
--   select_iptables       legacy when legacy rules >= nft rules: a fresh VM has none, so legacy
--   enable_network_magic  `getent ahostsv4 $(hostname)` (from /etc/hosts); /kind/old-ipv4 →
--                         word-bounded replacement of the old address in the control-plane and
--                         kubelet files, then fix_certificate (a new apiserver certificate via
--                         `kubeadm init phase certs apiserver --config /kind/kubeadm.conf`);
--                         the same for IPv6 (`getent ahostsv6`: glibc maps the IPv4 entry to
--                         ::ffff:a.b.c.d, AI_V4MAPPED)
--   `exec /sbin/init`     systemd (banner per Debian release), containerd, kubelet only when
--                         /var/lib/kubelet/config.yaml exists (kubelet.service ConditionPathExists)
local rootfs = require("kina.sim.node.rootfs")

local E = {}

local function word_char(c) return c ~= "" and c:match("[%w_]") ~= nil end

--- GNU sed `s#\bOLD\b#NEW#g` with OLD a literal (the entrypoint escapes the IP's dots).
function E.replace_word(text, old, new)
  local out, i = {}, 1
  while true do
    local s, e = text:find(old, i, true)
    if not s then out[#out + 1] = text:sub(i); break end
    local before, after = text:sub(s - 1, s - 1), text:sub(e + 1, e + 1)
    local first, last = old:sub(1, 1), old:sub(-1)
    -- \b needs a word/non-word change at both ends
    local left_ok = word_char(first) ~= word_char(before) or (s == 1 and word_char(first))
    local right_ok = word_char(last) ~= word_char(after) or (after == "" and word_char(last))
    if left_ok and right_ok then
      out[#out + 1] = text:sub(i, s - 1) .. new
    else
      out[#out + 1] = text:sub(i, e)
    end
    i = e + 1
  end
  return table.concat(out)
end

-- entrypoint enable_network_magic files_to_update (kubelet.conf from kind v0.27 on)
local function ip_files(release)
  local files = {
    "/etc/kubernetes/manifests/etcd.yaml", "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "/etc/kubernetes/manifests/kube-controller-manager.yaml", "/etc/kubernetes/manifests/kube-scheduler.yaml",
    "/etc/kubernetes/controller-manager.conf", "/etc/kubernetes/scheduler.conf",
  }
  if release.ip_files_kubelet_conf then files[#files + 1] = "/etc/kubernetes/kubelet.conf" end
  files[#files + 1] = "/kind/kubeadm.conf"
  files[#files + 1] = "/var/lib/kubelet/kubeadm-flags.env"
  return files
end
E.ip_files = ip_files

local function gateway_of(ip)
  local a, b, c = tostring(ip or ""):match("^(%d+)%.(%d+)%.(%d+)%.%d+$")
  return a and (a .. "." .. b .. "." .. c .. ".1") or nil
end

-- getent ahostsv4 NAME | head -n1 | cut -d' ' -f1, from the node's /etc/hosts
local function getent_v4(n, name)
  for line in (n:read("/etc/hosts") or ""):gmatch("[^\n]+") do
    local addr, names = line:match("^%s*(%d+%.%d+%.%d+%.%d+)%s+(.*)$")
    if addr then
      for word in names:gmatch("%S+") do if word == name then return addr end end
    end
  end
  return ""
end

local function systemd_lines(release, kubelet)
  local d = release.debian
  local lines = {
    "systemd " .. d.systemd .. " running in system mode (" .. d.systemd_features .. ")",
    "Detected virtualization docker.", -- the image's ENV container=docker
    "Detected architecture arm64.",
    "",
    "Welcome to " .. d.pretty .. "!",
    "",
    "Queued start job for default target graphical.target.",
    "[  OK  ] Created slice kubelet.slice - slice used to run Kubernetes / Kubelet.",
    "[  OK  ] Created slice system-modprobe.slice - Slice /system/modprobe.",
    "[  OK  ] Started systemd-ask-password-console.path - Dispatch Password Requests to Console Directory Watch.",
    "[  OK  ] Reached target local-fs.target - Local File Systems.",
    "[  OK  ] Reached target network.target - Network.",
    "[  OK  ] Reached target paths.target - Path Units.",
    "[  OK  ] Reached target slices.target - Slice Units.",
    "[  OK  ] Reached target swap.target - Swaps.",
    "         Starting systemd-journald.service - Journal Service...",
    "[  OK  ] Started systemd-journald.service - Journal Service.",
    "         Starting systemd-sysctl.service - Apply Kernel Variables...",
    "[  OK  ] Finished systemd-sysctl.service - Apply Kernel Variables.",
    "[  OK  ] Reached target sysinit.target - System Initialization.",
    "[  OK  ] Reached target timers.target - Timer Units.",
    "[  OK  ] Reached target basic.target - Basic System.",
    "         Starting undo-mount-hacks.service - Undo KIND mount hacks...",
    "[  OK  ] Finished undo-mount-hacks.service - Undo KIND mount hacks.",
    "         Starting containerd.service - containerd container runtime...",
  }
  if kubelet then lines[#lines + 1] = "[  OK  ] Started kubelet.service - kubelet: The Kubernetes Node Agent." end
  for _, l in ipairs({
    "[  OK  ] Started containerd.service - containerd container runtime.",
    "[  OK  ] Reached target multi-user.target - Multi-User System.",
    "[  OK  ] Reached target graphical.target - Graphical Interface.",
    "         Starting systemd-update-utmp-runlevel.service - Record Runlevel Change in UTMP...",
    "[  OK  ] Finished systemd-update-utmp-runlevel.service - Record Runlevel Change in UTMP.",
  }) do lines[#lines + 1] = l end
  return lines
end

--- Run the boot of node `n` (once per boot; the caller holds the node's boot lock). Records
-- in the runtime record: console (the lines and whether systemd was reached), sysctl_boot,
-- iptables_mode, kubelet_at_boot.
function E.boot(n)
  local rt = n._runtime
  local rec, release = n.rec, n:release()
  local root = n.root
  local host = n:hostname()
  local ip = rec.ip
  local console = {}
  local function info(msg) console[#console + 1] = "INFO: " .. msg end
  local t = rec.started or n:now()

  -- Apple's runtime writes these at start; in a real container (kina.sim.node.agent,
  -- rec.runtime "podman" or "docker") the runtime has written its own
  if not rec.runtime then
    rootfs.write(root, "/etc/hosts", "127.0.0.1 localhost\n" .. (ip and (ip .. " " .. host .. "\n") or ""))
    local gw = gateway_of(ip)
    if gw then rootfs.write(root, "/etc/resolv.conf", "nameserver " .. gw .. "\n") end
  end

  local env = rec.env or {}
  local fatal
  -- configure_containerd
  local snapshotter = env.KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER
  if snapshotter and snapshotter ~= "" then
    info(('changing snapshotter from "overlayfs" to "%s"'):format(snapshotter))
    local conf = rootfs.read(root, "/etc/containerd/config.toml")
    if conf then
      rootfs.write(root, "/etc/containerd/config.toml", (conf:gsub('snapshotter = "overlayfs"', 'snapshotter = "' .. snapshotter:gsub("%%", "%%%%") .. '"')))
    end
    if snapshotter == "fuse-overlayfs" then
      info("enabling containerd-fuse-overlayfs service")
      rt.services["containerd-fuse-overlayfs"] = "active"
    end
  end
  -- configure_proxy
  rootfs.mkdir_p(root, "/etc/systemd/system.conf.d")
  rootfs.write(root, "/etc/systemd/system.conf.d/proxy-default-environment.conf",
    ('[Manager]\nDefaultEnvironment="HTTP_PROXY=%s" "HTTPS_PROXY=%s" "NO_PROXY=%s"\n'):format(
      env.HTTP_PROXY or "", env.HTTPS_PROXY or "", env.NO_PROXY or ""))
  -- fix_mount
  info("ensuring we can execute mount/umount even with userns-remap")
  info("remounting /sys read-only")
  if not rec.caps_all and n.node.compare_versions(n:version(), "0.12.0") >= 0 then
    -- no CAP_SYS_ADMIN in the OCI default set: `mount -o remount,ro /sys` fails, errexit
    console[#console + 1] = "mount: /sys: permission denied."
    fatal = true
  end
  if not fatal then
    info("making mounts shared")
    -- fix_cgroup
    info("detected cgroup v2")
    -- fix_machine_id
    info("clearing and regenerating /etc/machine-id")
    console[#console + 1] = "Initializing machine ID from random generator."
    local digest = require("kina.core.digest")
    rootfs.write(root, "/etc/machine-id", digest.sha256("machine-id " .. rec.id):sub(1, 32) .. "\n")
    -- fix_product_uuid (no DMI files to bind-mount over)
    if not rootfs.is_file(root, "/kind/product_uuid") then
      local h = digest.sha256("product_uuid " .. rec.id .. " " .. tostring(t))
      rootfs.write(root, "/kind/product_uuid", h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-4" .. h:sub(14, 16) .. "-a" .. h:sub(18, 20) .. "-" .. h:sub(21, 32) .. "\n")
    end
    -- select_iptables
    info("setting iptables to detected mode: legacy")
    rt.iptables_mode = "legacy"
    local stamp_text = os.date("!%Y-%m-%d %H:%M:%S", math.floor(t))
    local alog = rootfs.read(root, "/var/log/alternatives.log") or ""
    for _, cmd in ipairs({ "iptables", "ip6tables" }) do
      alog = alog .. ("update-alternatives %s: run with --set %s /usr/sbin/%s-legacy\n"):format(stamp_text, cmd, cmd)
      if not (rootfs.read(root, "/var/log/alternatives.log") or ""):find("link group " .. cmd .. " updated", 1, true) then
        alog = alog .. ("update-alternatives %s: link group %s updated to point to /usr/sbin/%s-legacy\n"):format(stamp_text, cmd, cmd)
      end
    end
    rootfs.mkdir_p(root, "/var/log")
    rootfs.write(root, "/var/log/alternatives.log", alog)
    -- enable_network_magic
    if rootfs.is_file(root, "/etc/resolv.conf") then
      rootfs.write(root, "/etc/resolv.conf.original", rootfs.read(root, "/etc/resolv.conf"))
    end
    local should_fix = false
    local function readdress(label, file, curr)
      info("detected " .. label .. " address: " .. curr)
      local old_text = rootfs.read(root, file)
      if old_text then
        local old = old_text:gsub("%s+$", "")
        info("detected old " .. label .. " address: " .. old)
        if curr == "" then
          console[#console + 1] = "ERROR: have an old " .. label .. " address but no current " .. label .. " address (!)"
          if label == "IPv4" then return false end -- `exit 1` for IPv4 only
        end
        if old ~= curr then
          should_fix = true
          for _, f in ipairs(ip_files(release)) do
            local text = rootfs.read(root, f)
            if text then rootfs.write(root, f, E.replace_word(text, old, curr)) end
          end
        end
      end
      if curr ~= "" then rootfs.write(root, file, curr) end -- echo -n
      return true
    end
    local v4 = getent_v4(n, host)
    if not readdress("IPv4", "/kind/old-ipv4", v4) then
      fatal = true
    else
      readdress("IPv6", "/kind/old-ipv6", v4 ~= "" and ("::ffff:" .. v4) or "")
      if should_fix and rootfs.is_file(root, "/etc/kubernetes/pki/apiserver.crt") and rootfs.is_file(root, "/etc/kubernetes/pki/apiserver.key") then
        info("clearing and regenerating the certificate for serving the Kubernetes API")
        rootfs.remove(root, "/etc/kubernetes/pki/apiserver.crt")
        rootfs.remove(root, "/etc/kubernetes/pki/apiserver.key")
        local sink = {}
        local cio = {
          stdout = { write = function(_, s) sink[#sink + 1] = s; return true end },
          stderr = { write = function(_, s) sink[#sink + 1] = s; return true end },
        }
        local code = n:run({ "kubeadm", "init", "phase", "certs", "apiserver", "--config", "/kind/kubeadm.conf" }, cio, n.env, "/")
        for l in table.concat(sink):gmatch("[^\n]+") do console[#console + 1] = l end
        if code ~= 0 then fatal = true end
      end
    end
  end
  local kubelet = rootfs.is_file(root, "/var/lib/kubelet/config.yaml")
  if not fatal then
    info("starting init")
    rt.sysctl_boot = require("kina.sim.node.runtime").sysctl_at_boot(n)
    for _, l in ipairs(systemd_lines(release, kubelet)) do console[#console + 1] = l end
    n:journal("kubelet", kubelet and "Started kubelet.service - kubelet: The Kubernetes Node Agent."
      or "kubelet.service - kubelet: The Kubernetes Node Agent was skipped because of an unmet condition check (ConditionPathExists=/var/lib/kubelet/config.yaml).",
      n.node.boot_complete_at(rec, n.ctx.env) - 0.04)
  end
  rt.console = { lines = console, systemd = not fatal }
  rt.kubelet_at_boot = kubelet
  -- the kubelet starts the static Pods at boot, etcd among them, whose /etc/hosts is a copy of
  -- the node's as Apple's runtime has just written it (kubelet_pods.go ensureHostsFile;
  -- kina.sim.node.etcd)
  if kubelet and not fatal and rootfs.is_file(root, "/etc/kubernetes/manifests/etcd.yaml") then
    rt.etcd_hosts = rootfs.read(root, "/etc/hosts") or ""
  end
  rt.boot_failed = fatal or nil
end

return E
