#!/bin/sh
# Fetch Debian unstable's containerd 2.x package and unpack it with `dpkg -x` into
# build-oracle/containerd-2/ (never installed into the system), for the containerd oracle specs
# (spec/oracle_containerd_spec.lua). Idempotent: an unpacked copy is kept and reused.
#
# usage: sh spec/support/oracle/fetch-containerd-2.sh [DEST]   (run from the repository root)
#   DEST          default build-oracle/containerd-2
#   KINA_SID_APT  a private apt configuration for sid to use as it is (a folder holding
#                 sources.list, lists/ and cache/, already updated); by default one is made in
#                 build-oracle/sid-apt from the system's own Debian source, with suite sid.
# Exit status: 0 when DEST/usr/bin/containerd is there; 2 when sid cannot be reached (the
# message starts with "SID UNREACHABLE"); 1 on any other failure.
set -eu

dest=${1:-build-oracle/containerd-2}
if [ -x "$dest/usr/bin/containerd" ] && [ -s "$dest/VERSION" ]; then
  echo "containerd $(cat "$dest/VERSION") already unpacked in $dest"
  exit 0
fi

unreachable() {
  echo "SID UNREACHABLE: $1 — the containerd 2.x oracle cases cannot run" >&2
  exit 2
}

base=$(dirname "$dest")
mkdir -p "$base"
base=$(cd "$base" && pwd)

if [ -n "${KINA_SID_APT:-}" ]; then
  apt_dir=$KINA_SID_APT
  [ -f "$apt_dir/sources.list" ] || { echo "KINA_SID_APT=$apt_dir has no sources.list" >&2; exit 1; }
  need_update=no
else
  apt_dir=$base/sid-apt
  need_update=yes
  if [ ! -f "$apt_dir/sources.list" ]; then
    # The system's own Debian archive (deb822 debian.sources or a one-line sources.list),
    # with the suite replaced by sid.
    uri=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
      uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' /etc/apt/sources.list)
    fi
    [ -n "$uri" ] || unreachable "no Debian archive found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri sid main" > "$apt_dir/sources.list"
  fi
fi

# Check-Valid-Until=false: a sid snapshot mirror serves an InRelease whose Valid-Until has passed;
# the signature is still checked. Every path apt writes is private: sid's lists and caches never reach the system's apt state.
set -- -o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=- \
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" \
  -o Acquire::Retries=1 -o Acquire::http::Timeout=30 -o APT::Sandbox::User=root \
  -o Acquire::Check-Valid-Until=false

if [ "$need_update" = yes ]; then
  echo "updating the private sid package lists in $apt_dir"
  apt-get "$@" -q update >"$apt_dir/update.log" 2>&1 || unreachable "apt-get update of sid failed ($(tail -n 3 "$apt_dir/update.log" | tr '\n' ' '))"
  if grep -q '^\(Err\|W: Failed\)' "$apt_dir/update.log"; then
    unreachable "apt-get update of sid failed ($(grep '^\(Err\|W: Failed\)' "$apt_dir/update.log" | head -n 2 | tr '\n' ' '))"
  fi
fi

work=$(mktemp -d "$base/containerd-2.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get "$@" -q download containerd) >"$work/download.log" 2>&1 ||
  unreachable "apt-get download containerd from sid failed ($(tail -n 3 "$work/download.log" | tr '\n' ' '))"
deb=$(ls "$work"/containerd_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || unreachable "apt-get download containerd left no .deb in $work"
version=$(dpkg-deb -f "$deb" Version)
case "$version" in
  2.*) ;;
  *) echo "sid's containerd is $version, not a 2.x release" >&2; exit 1 ;;
esac
dpkg -x "$deb" "$work/root"
[ -x "$work/root/usr/bin/containerd" ] || { echo "$deb holds no usr/bin/containerd" >&2; exit 1; }
echo "$version" > "$work/root/VERSION"
rm -rf "$dest"
mv "$work/root" "$dest"
echo "containerd $version unpacked in $dest"
