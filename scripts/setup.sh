#!/usr/bin/env bash
# setup.sh [KERNEL...]: install what cnlab needs on Debian bookworm: QEMU,
# a C toolchain, the kernel source package (for checkpatch.pl and the KTAP
# parser) and, for each named kernel of kernels/kernels.conf (default: all),
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
	set -- $(awk '$1 !~ /^#/ && NF {print $1}' "$top/kernels/kernels.conf")
fi

# The 6.1 source package carries checkpatch.pl and kunit_parser.py; it is
# pinned to the 6.1 kernel's version. It is not installed: the host may hold
# another version of it (Debian's security updates move it), which is the
# host's business, so the pinned one is downloaded and unpacked in .cache.
source_version=$("$here/kernel-info" version 6.1)
want=(qemu-system-x86 build-essential cpio kmod bc flex bison libelf-dev
	xz-utils zstd python3)
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
downgrade=()
for p in "${want[@]}"; do
	name=${p%%=*}
	ver=
	[ "$name" != "$p" ] && ver=${p#*=}
	got=$(dpkg-query -W -f='${Status}|${Version}' "$name" 2>/dev/null || true)
	case $got in
	"install ok installed|"*)
		if [ -z "$ver" ] || [ "${got#*|}" = "$ver" ]; then
			continue
		fi
		# A pinned kernel at another version is not the kernel of the
		# matrix: put the pin back, and say so.
		dpkg --compare-versions "${got#*|}" gt "$ver" && downgrade+=("$name ${got#*|} -> $ver") ;;
	esac
	missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing ${missing[*]}; run as root (sudo make setup) to install them" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	for d in "${downgrade[@]}"; do
		echo "setup: downgrading $d (the version kernels/kernels.conf pins)"
	done
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
	if ! apt-get install -y -qq --no-install-recommends --allow-downgrades "${missing[@]}" >/tmp/cnlab-setup.log 2>&1; then
		tail -20 /tmp/cnlab-setup.log >&2
		echo "setup: apt-get install failed (full log: /tmp/cnlab-setup.log); if a pinned version is gone from the archive, update kernels/kernels.conf" >&2
		exit 1
	fi
fi

# checkpatch.pl, decode_stacktrace.sh and the KTAP parser, from the pinned
# kernel source package, unpacked once per version.
src="$top/.cache/linux-source-6.1"
if [ ! -x "$src/scripts/checkpatch.pl" ] || [ ! -f "$src/scripts/decode_stacktrace.sh" ] ||
	[ "$(cat "$src/.cnlab-version" 2>/dev/null)" != "$source_version" ]; then
	mkdir -p "$top/.cache"
	tarball=/usr/src/linux-source-6.1.tar.xz
	if [ "$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null)" != "$source_version" ]; then
		debs="$top/.cache/debs"
		deb="$debs/linux-source-6.1_${source_version}_all.deb"
		if [ ! -s "$deb" ]; then
			echo "setup: downloading linux-source-6.1=$source_version into $debs (checkpatch.pl and the KTAP parser)"
			mkdir -p "$debs"
			if ! (cd "$debs" && apt-get download -qq "linux-source-6.1=$source_version") >/tmp/cnlab-setup.log 2>&1; then
				tail -5 /tmp/cnlab-setup.log >&2
				echo "setup: apt-get download linux-source-6.1=$source_version failed (full log: /tmp/cnlab-setup.log); if the pinned version is gone from the archive, update kernels/kernels.conf" >&2
				exit 1
			fi
		fi
		tarball="$debs/linux-source-6.1.tar.xz"
		dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/src/linux-source-6.1.tar.xz >"$tarball.part"
		mv "$tarball.part" "$tarball"
	fi
	rm -rf "$src"
	tar -C "$top/.cache" -xJf "$tarball" \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/decode_stacktrace.sh \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch \
		linux-source-6.1/tools/testing/kunit
	echo "$source_version" >"$src/.cnlab-version"
	[ "$tarball" = /usr/src/linux-source-6.1.tar.xz ] || rm -f "$tarball"
fi

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	echo "setup: no Go toolchain: install Go 1.26 or newer at /usr/local/go" >&2
	exit 1
fi
[ ${#missing[@]} -gt 0 ] && echo "setup: done" || echo "setup: everything is installed"
