#!/usr/bin/env bash
# mutants.sh [PATCH...]: build each mutant of the module (mutants/*.patch by
# default: each a small, plausible bug, named for it) against one kernel of
# the matrix, in a copy of the source tree (kmod/ itself is never touched),
# run the e2e suites on it in a guest, and print a table: the mutant, and
# the first spec that failed on it (killed) or SURVIVED. A mutant that does
# not apply or does not build is listed as such; either is a mutant to fix.
#
# The default list starts with "none": the copy unmutated, which must pass,
# or no mutant can be judged (MUTANT=none runs only that). Environment:
# KERNEL (default 6.1), VMFLAGS (more runner flags, e.g. "-labels groups"),
# MUTANTS_WORK (default /tmp/cnlab-mutants), MUTANTS_JOBS (guests at once,
# default the number of CPUs: each TCG guest keeps one busy), MUTANTS_BATCH
# (mutants per guest per hold of the guest lock, default 4), RUNNER.
# Guests boot under flock /tmp/cnlab-vm.lock, taken for a batch at a time so
# that a long table does not starve other users of the machine.
# A kernel built from source (KERNEL=6.1-debug) is built or found in the
# cache first (make kernels). A mutant whose header has a line "Needs:
# kmemleak" leaks what only kmemleak sees: when KERNEL has no kmemleak it
# runs on MUTANTS_LEAK_KERNEL (default 6.1-debug, built or found the same
# way), and its row names that kernel; MUTANTS_LEAK_KERNEL=none lists it as
# NEEDS KMEMLEAK instead (not run, not killed), which fails the table. No
# unmutated run vouches for that kernel, so only kmemleak's verdict kills
# such a mutant: any other failure is NOT KILLED BY KMEMLEAK, a failed row.
# A signal (Ctrl-C) stops the workers and their guests, and the run.
# Exit status: 0 if every mutant was killed (and the unmutated copy passed),
# 1 if not, 3 if the run could not be set up, 130 when stopped by a signal.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
KERNEL=${KERNEL:-6.1}
work=${MUTANTS_WORK:-/tmp/cnlab-mutants}
runner=${RUNNER:-$top/build/cnlab-vm}
table=$work/table.txt
VMFLAGS=${VMFLAGS:-}

# shellcheck source=scripts/kernel-env.sh
. "$top/scripts/kernel-env.sh"

# needs_kmemleak PATCH...: whether one of the mutants leaks what only
# kmemleak sees (a "Needs: kmemleak" line in its header).
needs_kmemleak() { grep -q '^Needs: kmemleak' "$@"; }

# run_one PATCH SRC: one mutant in the copy SRC, one table row.
run_one() {
	local p=$1 src=$2 name log k rel args config timeout start code secs report first result on=""
	name=$(basename "$p" .patch)
	log=$work/logs/$name.log
	k=main
	if [ "$p" != none ] && needs_kmemleak "$p" && ! grep -q '^CONFIG_DEBUG_KMEMLEAK=y' "$main_config"; then
		if [ -z "${leak_rel:-}" ]; then
			row "$name" "NEEDS KMEMLEAK: run it with KERNEL=6.1-debug or MUTANTS_LEAK_KERNEL=6.1-debug"
			return
		fi
		k=leak on=" [on $MUTANTS_LEAK_KERNEL]"
	fi
	eval "rel=\$${k}_rel args=\$${k}_args config=\$${k}_config timeout=\$${k}_timeout"
	if ! { rm -rf "$src/kmod" "$src/e2e" "$src/build/$rel" && cp -r "$top/kmod" "$top/e2e" "$src/"; } >"$log" 2>&1; then
		row "$name" "COULD NOT RUN: the copy $src could not be restored (see $log)"
		return 3
	fi
	if [ "$p" != none ] && ! patch -s -p1 -d "$src" <"$p" >"$log" 2>&1; then
		row "$name" "DOES NOT APPLY (see $log)"
		return
	fi
	start=$(date +%s)
	# shellcheck disable=SC2086 # args and VMFLAGS are lists of flags
	"$runner" -src "$src" $args -timeout "$timeout" \
		-suite-args "-ginkgo.fail-fast -ginkgo.seed=1" $VMFLAGS >>"$log" 2>&1
	code=$?
	secs=$(($(date +%s) - start))
	first=$(first_failed_spec "$src/build/$rel/e2e-report.json")
	case $code in
	0) result="SURVIVED" ;;
	1) result="killed by: ${first:-a failed step (see $log)}" ;;
	2) result="killed by the kernel verdict: $(jq -r .reason "$src/build/$rel/summary.json" 2>/dev/null | head -c 120)${first:+; first spec: $first}" ;;
	*) result="COULD NOT RUN, exit $code (see $log)" ;;
	esac
	if [ "$p" = none ]; then
		[ "$code" = 0 ] && result="passed (unmutated)" || result="UNMUTATED FAILS: $result"
	fi
	# A leak only kmemleak sees is killed by kmemleak's verdict alone: no
	# unmutated run vouches for the slower kernel's other checks.
	if [ "$k" = leak ] && [ "$code" != 0 ] && ! jq -e '.reason | test("kmemleak")' "$src/build/$rel/summary.json" >/dev/null 2>&1; then
		result="NOT KILLED BY KMEMLEAK: $result"
	fi
	row "$name" "$result$on ($secs s)"
	# A signal (Ctrl-C, kill) ended the runner: the run ends here.
	case $code in 130 | 143) return 130 ;; esac
}

# One line each, written whole: guests of several jobs share the table.
row() {
	local line
	line=$(printf '%-34s %s' "$1" "$2")
	(flock 9 && printf '%s\n' "$line" >&9) 9>>"$table"
	printf '%s\n' "$line"
}

# The inner run: one batch, with the guest lock held by the outer one. Each
# of MUTANTS_JOBS workers has its own copy and takes the batch's next mutant.
if [ -n "${CNLAB_MUTANTS_INNER:-}" ]; then
	printf '%s\n' "$@" >"$work/queue"
	echo 0 >"$work/queue.next"
	next() {
		(
			flock 9 || exit 1
			n=$(cat "$work/queue.next")
			echo $((n + 1)) >"$work/queue.next"
			sed -n "$((n + 1))p" "$work/queue"
		) 9>"$work/queue.lock"
	}
	# Workers started with & ignore SIGINT: a signal to this batch ends
	# them and their guests, rather than leaving them booting without the
	# guest lock.
	workers=()
	trap 'kill -TERM "${workers[@]}" 2>/dev/null; (IFS=,; pkill -TERM -P "${workers[*]}"); wait; exit 130' INT TERM HUP
	for ((j = 0; j < ${MUTANTS_JOBS:-1}; j++)); do
		(
			trap 'exit 130' TERM
			while p=$(next) && [ -n "$p" ]; do
				run_one "$p" "$work/src.$j" || exit $?
			done
		) &
		workers+=($!)
	done
	code=0
	for w in "${workers[@]}"; do
		wait "$w" || code=$?
	done
	exit "$code"
fi

if [ $# -eq 0 ]; then
	if [ "${MUTANT:-}" = none ]; then
		set -- none
	else
		set -- none mutants/*.patch
	fi
fi
kernel_env "$KERNEL" main || exit 3
leak=${MUTANTS_LEAK_KERNEL:-6.1-debug}
patches=()
for p in "$@"; do [ "$p" = none ] || patches+=("$p"); done
if [ "$leak" != none ] && [ ${#patches[@]} -gt 0 ] && ! grep -q '^CONFIG_DEBUG_KMEMLEAK=y' "$main_config" &&
	needs_kmemleak "${patches[@]}"; then
	kernel_env "$leak" leak || exit 3
	export MUTANTS_LEAK_KERNEL=$leak
fi
jobs=${MUTANTS_JOBS:-$(nproc)}
for v in "MUTANTS_JOBS=$jobs" "MUTANTS_BATCH=${MUTANTS_BATCH:-4}"; do
	if ! [[ ${v#*=} =~ ^[1-9][0-9]*$ ]]; then
		echo "mutants: $v: want a whole number of at least 1" >&2
		exit 3
	fi
done
export MUTANTS_JOBS=$jobs main_config work

# One copy of the tree per job, without build output, git or caches; its
# kmod/ and e2e/ are restored from the tree before each mutant (a patch may
# also break a spec, to show that a check can fail).
rm -rf "$work" && mkdir -p "$work/logs" || exit 3
for ((j = 0; j < jobs; j++)); do
	mkdir -p "$work/src.$j" &&
		tar -C "$top" --exclude=./build --exclude=./.git --exclude=./.cache -cf - . | tar -C "$work/src.$j" -xf - || exit 3
done
printf '%-34s %s\n' MUTANT RESULT | tee "$table"
batch=$((${MUTANTS_BATCH:-4} * jobs))
# The unmutated copy first, then the mutants for the slower kernel of
# kmemleak: the long pole starts while the others share the other guests.
all=()
for p in "$@"; do [ "$p" = none ] && all+=("$p"); done
if [ -n "${leak_rel:-}" ]; then
	for p in "${patches[@]}"; do needs_kmemleak "$p" && all+=("$p"); done
fi
for p in "${patches[@]}"; do [ -n "${leak_rel:-}" ] && needs_kmemleak "$p" || all+=("$p"); done
echo "${#all[@]} to run, $jobs guest(s) at a time, on $KERNEL ($main_rel)${leak_rel:+; the kmemleak mutants on $leak ($leak_rel)}"
for ((i = 0; i < ${#all[@]}; i += batch)); do
	CNLAB_MUTANTS_INNER=1 flock /tmp/cnlab-vm.lock "$top/scripts/mutants.sh" "${all[@]:i:batch}"
	code=$?
	if [ "$code" = 130 ]; then
		echo "mutants: stopped by a signal; the table so far: $table" >&2
		exit 130
	fi
	if grep -q '^none .*UNMUTATED FAILS' "$table"; then
		echo "mutants: the unmutated copy fails on $KERNEL: no mutant can be judged (see $work/logs/none.log)" >&2
		exit 1
	fi
done
echo "table: $table; logs: $work/logs"
rows=$(($(wc -l <"$table") - 1))
if [ "$rows" != ${#all[@]} ]; then
	echo "mutants: $rows row(s) for ${#all[@]} mutant(s): a run was lost (see $work/logs)" >&2
	exit 1
fi
! grep -qE 'SURVIVED|DOES NOT APPLY|COULD NOT RUN|NEEDS KMEMLEAK|NOT KILLED BY KMEMLEAK|UNMUTATED FAILS' "$table"
