--- kina.sim.node.release — which kind release built a simulated kindest/node, and what that
-- release's node image carries (Debian base, containerd, runc, crictl, iptables, systemd,
-- the images preloaded and the manifests' images).
--
-- A node image does not say which kind release built it, so the tag decides (M.for_image):
--   KINA_SIM_NODE_BASE=v0.26|v0.30|v0.31|v0.32|main   wins when set (read when the node is created);
--   otherwise, by the Kubernetes version in the tag:
--     >= v1.37.0, v1.36.4+, v1.35.8+, v1.34.11+   main  (kind v0.33 published these, ref §3)
--     v1.36.0 - v1.36.3, v1.35.5 - v1.35.7        v0.32 (kind v0.32.0, 2026-06-02, default v1.36.1)
--     v1.35.0 - v1.35.4, v1.34.3 - v1.34.10       v0.31 (kind v0.31.0, 2025-12-17, default v1.35.0)
--     v1.33.0 - v1.34.2                           v0.30 (kind v0.30.0, 2025-08-27, default v1.34.0)
--     below v1.33.0                               v0.26 (kind v0.26.0, 2024-12-16, containerd 1.7)
-- kina's default kindest/node:v1.35.5 (lua/kina/defaults.lua) therefore boots the v0.32 base;
-- the uncertainty of this mapping is listed in lua/kina/sim/README.md.
--
-- Sources, per release: kind `images/base/Dockerfile` (BASE_IMAGE, CONTAINERD_VERSION,
-- RUNC_VERSION, CRICTL_VERSION), `.go-version` (GO_VERSION the base image is built with,
-- images/base/Makefile), `pkg/build/nodeimage/defaults.go` (DefaultBaseImage),
-- `pkg/build/nodeimage/const_cni.go` / `const_storage.go` (kindnetd, local-path images),
-- `images/base/files/etc/containerd/config.toml` (sandbox_image, preloaded by the node build,
-- buildcontext.go prePullImagesAndWriteManifests). Commits: containerd tags in
-- github.com/containerd/containerd (`git rev-parse <tag>^{commit}`).
local M = {}

M.ENV = "KINA_SIM_NODE_BASE"

-- Debian userland per base image: systemd's banner (systemd 252 features from Debian 12's
-- `systemctl --version`; 257's from Debian 13 — see README), /etc/os-release (base-files),
-- /etc/debian_version, iptables (Debian package).
local BOOKWORM = {
  codename = "bookworm", version_id = "12",
  pretty = "Debian GNU/Linux 12 (bookworm)",
  systemd = "252.39-1~deb12u1",
  systemd_features = "+PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP +GCRYPT -GNUTLS +OPENSSL +ACL +BLKID +CURL +ELFUTILS +FIDO2 +IDN2 -IDN +IPTC +KMOD +LIBCRYPTSETUP +LIBFDISK +PCRE2 -PWQUALITY +P11KIT +QRENCODE +TPM2 +BZIP2 +LZ4 +XZ +ZLIB +ZSTD -BPF_FRAMEWORK -XKBCOMMON +UTMP +SYSVINIT default-hierarchy=unified",
  iptables = "1.8.9",
}

local TRIXIE = {
  codename = "trixie", version_id = "13",
  pretty = "Debian GNU/Linux 13 (trixie)",
  systemd = "257.9-1~deb13u1",
  systemd_features = "+PAM +AUDIT +SELINUX +APPARMOR +IMA +IPE +SMACK +SECCOMP +GCRYPT -GNUTLS +OPENSSL +ACL +BLKID +CURL +ELFUTILS +FIDO2 +IDN2 -IDN +IPTC +KMOD +LIBCRYPTSETUP +LIBCRYPTSETUP_PLUGINS +LIBFDISK +PCRE2 +PWQUALITY +P11KIT +QRENCODE +TPM2 +BZIP2 +LZ4 +XZ +ZLIB +ZSTD +BPF_FRAMEWORK +BTF -XKBCOMMON -UTMP +SYSVINIT +LIBARCHIVE",
  iptables = "1.8.11",
}

M.RELEASES = {
  ["v0.26"] = {
    name = "v0.26", kind = "v0.26.0", debian = BOOKWORM, debian_version = "12.8",
    base_image = "docker.io/kindest/base:v20241212-9f82dd49",
    containerd = "1.7.24", containerd_commit = "88bf19b2105c8b17560993bee28a01ddc2f97182",
    runc = "1.2.3", crictl = "1.32.0", go = "go1.23.4",
    sandbox_image = "registry.k8s.io/pause:3.10",
    kindnetd = "docker.io/kindest/kindnetd:v20241212-9f82dd49",
    local_path_provisioner = "docker.io/kindest/local-path-provisioner:v20241212-8ac705d0",
    local_path_helper = "docker.io/kindest/local-path-helper:v20241212-8ac705d0",
    -- v0.26's entrypoint does not yet list /etc/kubernetes/kubelet.conf among the files whose
    -- old IP it replaces (added before v0.31: `git diff v0.26.0 v0.31.0 -- .../entrypoint`),
    -- and its /etc/sysctl.d/10-network-magic.conf has no arp_ignore line.
    ip_files_kubelet_conf = false, arp_ignore = false,
    -- manifests (const_cni.go, const_storage.go at v0.26.0): kindnet without priorityClassName
    -- and the nri-plugin volume, with resource limits; the old helper-pod toleration
    kindnet_nri = false, kindnet_limits = true, helper_tolerate_all = false,
  },
  ["v0.30"] = {
    name = "v0.30", kind = "v0.30.0", debian = BOOKWORM, debian_version = "12.11",
    base_image = "docker.io/kindest/base:v20250710-v0.29.0-alpha-25-g9ac770cf",
    containerd = "2.1.4", containerd_commit = "75cb2b7193e4e490e9fbdc236c0e811ccaba3376",
    runc = "1.3.0", crictl = "1.33.0", go = "go1.24.6",
    sandbox_image = "registry.k8s.io/pause:3.10",
    kindnetd = "docker.io/kindest/kindnetd:v20250512-df8de77b",
    local_path_provisioner = "docker.io/kindest/local-path-provisioner:v20250214-acbabc1a",
    local_path_helper = "docker.io/kindest/local-path-helper:v20241212-8ac705d0",
    -- images/base/files and the manifests as at v0.31.0 (`git diff v0.30.0 v0.31.0`: images only)
    ip_files_kubelet_conf = true, arp_ignore = true,
    kindnet_nri = true, kindnet_limits = true, helper_tolerate_all = false,
  },
  ["v0.31"] = {
    name = "v0.31", kind = "v0.31.0", debian = BOOKWORM, debian_version = "12.12",
    base_image = "docker.io/kindest/base:v20251215-d00590df",
    containerd = "2.2.0", containerd_commit = "1c4457e00facac03ce1d75f7b6777a7a851e5c41",
    runc = "1.2.9", crictl = "1.33.0", go = "go1.25.5",
    sandbox_image = "registry.k8s.io/pause:3.10",
    kindnetd = "docker.io/kindest/kindnetd:v20251212-v0.29.0-alpha-105-g20ccfc88",
    local_path_provisioner = "docker.io/kindest/local-path-provisioner:v20251212-v0.29.0-alpha-105-g20ccfc88",
    local_path_helper = "docker.io/kindest/local-path-helper:v20251211-v0.29.0-alpha-100-g82a92c5d",
    ip_files_kubelet_conf = true, arp_ignore = true,
    kindnet_nri = true, kindnet_limits = true, helper_tolerate_all = false,
  },
  ["v0.32"] = {
    name = "v0.32", kind = "v0.32.0", debian = TRIXIE, debian_version = "13.4",
    base_image = "docker.io/kindest/base:v20260601-995e8fa5",
    containerd = "2.3.1", containerd_commit = "64b425cf570b3b8dd1d4cc46da7c1fce65c6651a",
    runc = "1.4.2", crictl = "1.36.0", go = "go1.26.3",
    sandbox_image = "registry.k8s.io/pause:3.10",
    kindnetd = "docker.io/kindest/kindnetd:v20260528-9350166c",
    local_path_provisioner = "docker.io/kindest/local-path-provisioner:v20260521-9fb22683",
    local_path_helper = "docker.io/kindest/local-path-helper:v20260131-7181c60a",
    ip_files_kubelet_conf = true, arp_ignore = true,
    kindnet_nri = true, kindnet_limits = true, helper_tolerate_all = false,
  },
  ["main"] = {
    name = "main", kind = "main@fed26882 (v0.33.0-alpha)", debian = TRIXIE, debian_version = "13.5",
    base_image = "docker.io/kindest/base:v20260820-69b56db7",
    containerd = "2.3.4", containerd_commit = "db8809540e1a7a9da5d518876894933ff55692ab",
    runc = "1.4.3", crictl = "1.36.0", go = "go1.26.7",
    sandbox_image = "registry.k8s.io/pause:3.10",
    kindnetd = "docker.io/kindest/kindnetd:v20260820-69b56db7",
    local_path_provisioner = "docker.io/kindest/local-path-provisioner:v20260820-69b56db7",
    local_path_helper = "docker.io/kindest/local-path-helper:v20260131-7181c60a",
    ip_files_kubelet_conf = true, arp_ignore = true,
    -- main dropped kindnet's resource limits and tolerates every taint in the helper pod
    kindnet_nri = true, kindnet_limits = false, helper_tolerate_all = true,
  },
}

M.NAMES = { "v0.26", "v0.30", "v0.31", "v0.32", "main" }

local function k8s_parts(tag)
  local a, b, c = tostring(tag or ""):match("^v?(%d+)%.(%d+)%.(%d+)")
  return tonumber(a), tonumber(b), tonumber(c)
end

--- The release name for a Kubernetes version tag ("v1.35.5" → "v0.32"), by the table above.
function M.for_kubernetes(tag)
  local major, minor, patch = k8s_parts(tag)
  if not major then return "v0.32" end
  if major > 1 or minor >= 37 then return "main" end
  if (minor == 36 and patch >= 4) or (minor == 35 and patch >= 8) or (minor == 34 and patch >= 11) then return "main" end
  if minor == 36 or (minor == 35 and patch >= 5) then return "v0.32" end
  if minor == 35 or (minor == 34 and patch >= 3) then return "v0.31" end
  if minor >= 33 then return "v0.30" end
  return "v0.26"
end

--- The release a node created from image `ref` carries: KINA_SIM_NODE_BASE when set (via
-- `getenv`), else by tag. Returns the release table, or nil and a message for a bad value.
function M.for_image(ref, getenv)
  local forced = getenv and getenv(M.ENV)
  if forced and forced ~= "" then
    local r = M.RELEASES[forced]
    if not r then
      return nil, ("%s must be one of %s, got %q"):format(M.ENV, table.concat(M.NAMES, ", "), forced)
    end
    return r
  end
  local tag = type(ref) == "string" and ref:match("kindest/node:(v%d+%.%d+%.%d+[%w%.%-]*)")
  return M.RELEASES[M.for_kubernetes(tag or "v1.35.5")]
end

--- Release by name (as stored in a node's rootfs); the default base for unknown names.
function M.get(name)
  return M.RELEASES[name] or M.RELEASES["v0.32"]
end

--- containerd's major and minor version as numbers.
function M.containerd_minor(r)
  local a, b = r.containerd:match("^(%d+)%.(%d+)")
  return tonumber(a), tonumber(b)
end

return M
