#!/usr/bin/env bash
# Installs virtme-ng for `make e2e VMM=vng`, idempotently. Debian's
# virtme-ng (1.35-1, trixie) is architecture all and its dependencies are
# all in bookworm: it is downloaded with apt through the project's own
# sources list (kernels/apt.list, lists kept in cnlab's cache, nothing added
# to the host's sources) and installed with its dependencies from bookworm.
set -euo pipefail
cd "$(dirname "$0")/.."
want=1.35-1
# virtme-ng builds an initramfs for Debian's kernels (9p and virtio are
# modules there) and needs a static busybox for it: without it every boot
# stops with "initramfs is needed, and no busybox was found".
if [ "$(dpkg-query -W -f='${Version}' virtme-ng 2>/dev/null || true)" = "$want" ] &&
	dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed"; then
	echo "setup-vng: virtme-ng $want and busybox-static are installed"
	exit 0
fi
cache=${XDG_CACHE_HOME:-$HOME/.cache}/cnlab/vng-apt
mkdir -p "$cache/lists/partial" "$cache/archives/partial"
apt_own=(-o Dir::Etc::sourcelist="$PWD/kernels/apt.list" -o Dir::Etc::sourceparts=-
	-o Dir::State::Lists="$cache/lists" -o Dir::Cache="$cache")
echo "setup-vng: fetching virtme-ng $want with cnlab's own sources list"
apt-get "${apt_own[@]}" update -qq
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get "${apt_own[@]}" download "virtme-ng=$want")
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$work"/virtme-ng_*.deb busybox-static >/dev/null
echo "setup-vng: virtme-ng $(dpkg-query -W -f='${Version}' virtme-ng) installed"
