#!/usr/bin/env bash
# One kernel of the matrix, as one job of a forge's job matrix runs it
# (.github/workflows/matrix.yml, .gitlab-ci.yml): install what that kernel
# needs, run the suites on it, and leave its results in one directory for
# the job to upload. A run that could not be done (exit 3: QEMU, a watchdog,
# a kernel that did not build) is tried once more; a failed spec never is.
#
# usage: scripts/ci-kernel.sh KERNEL-NAME    (a name of kernels/kernels.conf)
# env:   CNLAB_OUT      where the results go (default build/ci/KERNEL-NAME)
#        CNLAB_VMFLAGS  more flags for cnlab-vm (e.g. -labels echo)
set -uo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/ci-kernel.sh KERNEL-NAME}
out=${CNLAB_OUT:-build/ci/$name}
if ! make -s setup KERNEL="$name" build/cnlab-vm; then
	echo "ci-kernel: set-up for $name failed" >&2
	exit 3
fi
code=3
for try in 1 2; do
	# shellcheck disable=SC2086 # CNLAB_VMFLAGS is a list of flags
	build/cnlab-vm -matrix kernels/kernels.conf -kernels "$name" -out "$out" \
		-bundle "$out/cnlab-bundle.tar.gz" ${CNLAB_VMFLAGS:-}
	code=$?
	if [ "$code" -ne 3 ] || [ "$try" -eq 2 ]; then
		break
	fi
	echo "ci-kernel: the run on $name could not be done (exit 3); trying once more"
done
exit "$code"
