#!/usr/bin/env bash
# mutants.sh [PATCH...]: build each mutant of the module (mutants/*.patch by
# default: each a small, plausible bug, named for it) against one kernel of
# the matrix, in a copy of the source tree (kmod/ itself is never touched),
# run the e2e suites on it in a guest, and print a table: the mutant, and
# the first spec that failed on it (killed) or SURVIVED. A mutant that does
# not apply or does not build is listed as such; either is a mutant to fix.
#
# "none" as a PATCH (or MUTANT=none) runs the copy unmutated: the suites
# must pass on it. Environment: KERNEL (default 6.1), VMFLAGS (more runner
# flags, e.g. "-labels groups"), MUTANTS_WORK (default /tmp/cnlab-mutants),
# MUTANTS_BATCH (mutants per hold of the guest lock, default 4), RUNNER.
# Guests boot under flock /tmp/cnlab-vm.lock, one at a time, taken for a
# batch of mutants at once so that a run is not starved by other users.
# A kernel built from source (KERNEL=6.1-debug) is built or found in the
# cache first (make kernels). A mutant whose header has a line "Needs:
# kmemleak" leaks what only kmemleak sees: on a kernel without kmemleak it
# is listed as NEEDS KMEMLEAK (not run, not killed) and fails the table;
# run it with KERNEL=6.1-debug.
# Exit status: 0 if every mutant was killed, 1 if not.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
KERNEL=${KERNEL:-6.1}
rel=$(scripts/kernel-info release "$KERNEL") || exit 3
package=$(scripts/kernel-info package "$KERNEL") || exit 3
work=${MUTANTS_WORK:-/tmp/cnlab-mutants}
runner=${RUNNER:-$top/build/cnlab-vm}
src=$work/src
table=$work/table.txt
VMFLAGS=${VMFLAGS:-}

if [ $# -eq 0 ]; then
	if [ "${MUTANT:-}" = none ]; then
		set -- none
	else
		set -- mutants/*.patch
	fi
fi

# The inner run: one batch, with the lock held by the outer one.
if [ -n "${CNLAB_MUTANTS_INNER:-}" ]; then
	# shellcheck disable=SC2206 # a list of flags without spaces in them
	kernel=(${MUTANTS_KERNEL_ARGS:--kernel /boot/vmlinuz-$rel -kdir /lib/modules/$rel/build -modules-dir /lib/modules/$rel})
	config=${MUTANTS_CONFIG:-/boot/config-$rel}
	timeout=${MUTANTS_TIMEOUT:-5m}
	for p in "$@"; do
		name=$(basename "$p" .patch)
		log=$work/logs/$name.log
		rm -rf "$src/kmod" "$src/e2e" "$src/build/$rel" && cp -r "$top/kmod" "$top/e2e" "$src/" || exit 3
		if [ "$p" != none ] && ! patch -s -p1 -d "$src" <"$p" >"$log" 2>&1; then
			printf '%-34s %s\n' "$name" "DOES NOT APPLY (see $log)" | tee -a "$table"
			continue
		fi
		if [ "$p" != none ] && grep -q '^Needs: kmemleak' "$p" && ! grep -q '^CONFIG_DEBUG_KMEMLEAK=y' "$config"; then
			printf '%-34s %s\n' "$name" "NEEDS KMEMLEAK: run it with KERNEL=6.1-debug" | tee -a "$table"
			continue
		fi
		start=$(date +%s)
		# shellcheck disable=SC2086 # kernel and VMFLAGS are lists of flags
		"$runner" -src "$src" "${kernel[@]}" -timeout "$timeout" \
			-suite-args "-ginkgo.fail-fast -ginkgo.seed=1" $VMFLAGS >>"$log" 2>&1
		code=$?
		secs=$(($(date +%s) - start))
		report=$src/build/$rel/e2e-report.json
		first=""
		if [ -f "$report" ]; then
			first=$(jq -r '[.[].SpecReports[]
				| select(.State | test("failed|panicked|timedout|aborted|interrupted"))
				| ((.ContainerHierarchyTexts // []) + [.LeafNodeText] | map(select(. != "")) | join(" "))
				+ (if .LeafNodeType != "It" then " [" + .LeafNodeType + "]" else "" end)] | first // ""' "$report" 2>/dev/null)
		fi
		case $code in
		0) result="SURVIVED" ;;
		1) result="killed by: ${first:-a failed step (see $log)}" ;;
		2) result="killed by the kernel verdict: $(jq -r .reason "$src/build/$rel/summary.json" 2>/dev/null | head -c 120)${first:+; first spec: $first}" ;;
		*) result="COULD NOT RUN, exit $code (see $log)" ;;
		esac
		if [ "$p" = none ]; then
			[ "$code" = 0 ] && result="passed (unmutated)" || result="UNMUTATED FAILS: $result"
		fi
		printf '%-34s %s (%ss)\n' "$name" "$result" "$secs" | tee -a "$table"
		case $result in "UNMUTATED FAILS"*) exit 4 ;; esac
	done
	exit 0
fi

# The kernel: Debian's, or one built from source (built now if not cached).
if [ -n "$package" ]; then
	go build -o "$top/build/cnlab-kernels" ./vm/cmd/cnlab-kernels || exit 3
	dir=$("$top/build/cnlab-kernels" -print dir "$KERNEL") || exit 3
	export MUTANTS_KERNEL_ARGS="-kernel-dir $dir" MUTANTS_CONFIG=$dir/config
	# The debug kernel's suites run about six times slower under TCG.
	export MUTANTS_TIMEOUT=40m
fi

# One copy of the tree, without build output, git or caches; its kmod/ and
# e2e/ are restored from the tree before each mutant (a patch may also
# break a spec, to show that a check can fail).
rm -rf "$src" && mkdir -p "$src" "$work/logs" || exit 3
tar -C "$top" --exclude=./build --exclude=./.git --exclude=./.cache -cf - . | tar -C "$src" -xf - || exit 3
printf '%-34s %s\n' MUTANT RESULT | tee "$table"
batch=${MUTANTS_BATCH:-4}
all=("$@")
for ((i = 0; i < ${#all[@]}; i += batch)); do
	CNLAB_MUTANTS_INNER=1 flock /tmp/cnlab-vm.lock "$top/scripts/mutants.sh" "${all[@]:i:batch}"
	[ $? = 4 ] && { echo "the unmutated tree fails: mutants cannot be judged"; exit 1; }
done
echo "table: $table; logs: $work/logs"
! grep -qE 'SURVIVED|DOES NOT APPLY|COULD NOT RUN|NEEDS KMEMLEAK' "$table"
