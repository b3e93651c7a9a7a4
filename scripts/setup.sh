#!/usr/bin/env bash
# setup.sh [KERNEL...]: install what cnlab needs on Debian bookworm: QEMU,
# a C toolchain, the kernel source package (for checkpatch.pl and the KTAP
# parser) and, for each named kernel of scripts/kernels.conf (default: all),
# its image and headers at the pinned version; for a kernel built from source
# (make kernels) what builds it instead. Idempotent: when everything is
# there already it prints one line and touches nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

bpf=no
if [ "${1:-}" = --bpf ]; then
	# For make generate: what compiles userspace/probe's BPF program.
	bpf=yes
	shift
fi
if [ $# -eq 0 ] && [ $bpf = no ]; then
	set -- $(awk '$1 !~ /^#/ && NF {print $1}' "$here/kernels.conf")
fi

# The 6.1 source package carries checkpatch.pl and kunit_parser.py; it is
# pinned to the 6.1 kernel's version.
source_version=$("$here/kernel-info" version 6.1)
want=(qemu-system-x86 build-essential cpio kmod bc flex bison libelf-dev
	xz-utils zstd python3 "linux-source-6.1=$source_version")
backports=no
[ $bpf = yes ] && want+=(clang-14 llvm-14 libbpf-dev)
kbuild=no
for k in "$@"; do
	if [ -n "$("$here/kernel-info" package "$k")" ]; then
		# Built from source by vm/cmd/cnlab-kernels: its build tools, and
		# Debian's lcov for the module's coverage report.
		[ $kbuild = no ] && want+=(libssl-dev dwarves lcov)
		kbuild=yes
		continue
	fi
	release=$("$here/kernel-info" release "$k")
	version=$("$here/kernel-info" version "$k")
	want+=("linux-image-$release=$version" "linux-headers-$release=$version")
	case $version in *bpo*) backports=yes ;; esac
done

missing=()
for p in "${want[@]}"; do
	name=${p%%=*}
	ver=
	[ "$name" != "$p" ] && ver=${p#*=}
	got=$(dpkg-query -W -f='${Status}|${Version}' "$name" 2>/dev/null || true)
	case $got in
	"install ok installed|"*)
		if [ -z "$ver" ] || [ "${got#*|}" = "$ver" ]; then
			continue
		fi ;;
	esac
	missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing ${missing[*]}; run as root (sudo make setup) to install them" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if [ $backports = yes ] && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
		echo "setup: adding bookworm-backports to apt's sources (/etc/apt/sources.list.d/cnlab-bookworm-backports.sources)"
		cat >/etc/apt/sources.list.d/cnlab-bookworm-backports.sources <<-'SOURCES'
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: bookworm-backports
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		SOURCES
	fi
	apt-get update -qq
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/cnlab-setup.log 2>&1; then
		tail -20 /tmp/cnlab-setup.log >&2
		echo "setup: apt-get install failed (full log: /tmp/cnlab-setup.log); if a pinned version is gone from the archive, update scripts/kernels.conf" >&2
		exit 1
	fi
fi

# checkpatch.pl and its data, from the kernel source package, unpacked once.
src="$top/.cache/linux-source-6.1"
if [ ! -x "$src/scripts/checkpatch.pl" ] || [ ! -f "$src/scripts/decode_stacktrace.sh" ]; then
	mkdir -p "$top/.cache"
	tar -C "$top/.cache" -xJf /usr/src/linux-source-6.1.tar.xz \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/decode_stacktrace.sh \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch \
		linux-source-6.1/tools/testing/kunit
fi

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	echo "setup: no Go toolchain: install Go 1.26 or newer at /usr/local/go" >&2
	exit 1
fi
[ ${#missing[@]} -gt 0 ] && echo "setup: done" || echo "setup: everything is installed"
