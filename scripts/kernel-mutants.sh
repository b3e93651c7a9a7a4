#!/usr/bin/env bash
# kernel-mutants.sh [PATCH...]: mutants of the kernel's connector. Each of
# kernels/mutants/*.patch (by default) is a small bug in drivers/connector
# (connector.c, cn_queue.c, cn_proc.c) or its headers, named for it, some
# of them real upstream fixes reverted. Each is built into the kernel KERNEL
# (default 7.2, a kernel built from source) from that kernel's cached build
# without a full rebuild (cnlab-kernels -patches: the build tree copied, the
# mutant applied, make run again), then the suites run on it in a guest and
# the table says, for each, the first spec that failed (killed), the
# kernel's verdict (an oops, a WARNING), SURVIVED, DOES NOT APPLY or DOES
# NOT BUILD. The table starts with the kernel unmutated, which must pass.
#
# A mutant's header lines: "Kernel: NAME" (the kernel it applies to; one for
# another kernel is listed as not run, unless MUTANTS_ANY_KERNEL=1 tries it
# on KERNEL all the same), "Labels: EXPR" (a Ginkgo label
# filter: only those specs run on it, to keep the table short), "Upstream:"
# and "Found:" (a real fix reverted, and where it was found), "Unseen: WHY"
# (why no spec in user space can see the bug: a survivor with this line is
# listed as UNSEEN and fails nothing; killed, it is listed as killed).
#
# The mutants are built one after the other in the background while the
# guests run the ones built, MUTANTS_JOBS at once (default 1: the builds
# take the other CPU of a 2-core host), each batch of up to MUTANTS_BATCH
# per guest under flock /tmp/cnlab-vm.lock (CNLAB_VM_LOCK). Environment: KERNEL, VMFLAGS
# (more runner flags), MUTANTS_WORK (default /tmp/cnlab-kernel-mutants),
# MUTANTS_JOBS, MUTANTS_BATCH (default 4), MUTANTS_BUILD_JOBS (make's -j,
# default the number of CPUs), MUTANTS_TIMEOUT (a guest's run watchdog,
# default 6m: the unmutated 7.2 runs the union of the mutants' labels in
# about 2 minutes, and a mutant that hangs a sender, as
# send-unicast-blocking-inverted does, is judged by the watchdog), RUNNER,
# KERNELS_BIN.
# Exit status: 0 if every mutant was killed or is unseen (and the
# unmutated kernel passed), 1 if not, 3 if the run could not be set up, 130
# when stopped by a signal.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# shellcheck source=scripts/kernel-env.sh
. "$top/scripts/kernel-env.sh"
KERNEL=${KERNEL:-7.2}
work=${MUTANTS_WORK:-/tmp/cnlab-kernel-mutants}
runner=${RUNNER:-$top/build/cnlab-vm}
kernels_bin=${KERNELS_BIN:-$top/build/cnlab-kernels}
table=$work/table.txt
VMFLAGS=${VMFLAGS:-}

# header FIELD PATCH: the value of a header line "FIELD: value" (before the
# first diff line), or nothing.
header() {
	awk -v f="$1: " '/^--- / { exit } index($0, f) == 1 { print substr($0, length(f) + 1); exit }' "$2"
}

# One line each, printed as it comes and kept for the table, which lists
# the rows in the order of the mutants once all are in.
row() {
	local line
	line=$(printf '%-44s %s' "$1" "$2")
	printf '%s\n' "$line" >"$work/rows/$1"
	printf '%s\n' "$line"
}

# run_one NAME: run the suites on the kernel built for NAME (its directory
# and labels in $work/built/NAME), one table row.
run_one() {
	local name=$1 j=$2 dir labels unseen log out start code secs report first result rel built why in
	log=$work/logs/$name.log
	out=$work/out.$j
	dir=$(cat "$work/built/$name.dir")
	built=$(cat "$work/built/$name.secs")
	labels=$(cat "$work/built/$name.labels")
	unseen=$(cat "$work/built/$name.unseen")
	rel=$(jq -r .Release "$dir/cnlab-kernel.json")
	rm -rf "${out:?}/$rel"
	args=(-src "$work/src" -out "$out" -kernel-dir "$dir" -timeout "${MUTANTS_TIMEOUT:-6m}"
		-suite-args "-ginkgo.fail-fast -ginkgo.seed=1")
	[ -n "$labels" ] && args+=(-labels "$labels")
	start=$(date +%s)
	code=0
	# shellcheck disable=SC2086 # VMFLAGS is a list of flags
	"$runner" "${args[@]}" $VMFLAGS >>"$log" 2>&1 || code=$?
	secs=$(($(date +%s) - start))
	first=$(first_failed_spec "$out/$rel/e2e-report.json")
	case $code in
	0) result="SURVIVED" ;;
	1) result="killed by: ${first:-a failed step (see $log)}" ;;
	2) result="killed by the kernel's verdict: $(jq -r .reason "$out/$rel/summary.json" 2>/dev/null | head -c 120)${first:+; first spec: $first}" ;;
	*)
		# The runner's watchdog (exit 3) on a kernel whose unmutated build
		# passed the same labels well within it: the mutant left a step
		# hanging (a sender asleep in its own send), which is what it is
		# judged by, with the spec the guest was in.
		why=$(sed -n 's/^cnlab-vm: why: \(run watchdog: .*\)/\1/p' "$log" | tail -n 1)
		if [ "$code" = 3 ] && [ -n "$why" ]; then
			in=$(awk '/^github\.com\/cnlab\/cnlab\/e2e\//{s=prev} {prev=$0} END{print s}' "$log")
			result="killed by a hang: $why${in:+, in $in}"
		else
			result="COULD NOT RUN, exit $code (see $log)"
		fi ;;
	esac
	if [ "$name" = none ]; then
		[ "$code" = 0 ] && result="passed (unmutated)" || result="UNMUTATED FAILS: $result"
	elif [ "$code" = 0 ] && [ -n "$unseen" ]; then
		result="UNSEEN BY USER SPACE (survived): $unseen"
	fi
	if [ "$name" = none ]; then
		row "$name" "$result (ran ${secs} s${labels:+, the labels of the mutants})"
	else
		row "$name" "$result (built ${built} s, ran ${secs} s${labels:+, labels $labels})"
	fi
	case $code in 130 | 143) return 130 ;; esac
	return 0
}

# The inner run: one batch, with the guest lock held by the outer one. Each
# of MUTANTS_JOBS workers has its own results directory and takes the
# batch's next mutant.
if [ -n "${CNLAB_KMUTANTS_INNER:-}" ]; then
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
	workers=()
	trap 'kill -TERM "${workers[@]}" 2>/dev/null; (IFS=,; pkill -TERM -P "${workers[*]}"); wait; exit 130' INT TERM HUP
	for ((j = 0; j < ${MUTANTS_JOBS:-1}; j++)); do
		(
			trap 'exit 130' TERM
			while p=$(next) && [ -n "$p" ]; do
				run_one "$p" "$j" || exit $?
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
	set -- kernels/mutants/*.patch
fi
jobs=${MUTANTS_JOBS:-1}
for v in "MUTANTS_JOBS=$jobs" "MUTANTS_BATCH=${MUTANTS_BATCH:-4}"; do
	if ! [[ ${v#*=} =~ ^[1-9][0-9]*$ ]]; then
		echo "kernel-mutants: $v: want a whole number of at least 1" >&2
		exit 3
	fi
done
if [ -z "$(scripts/kernel-info package "$KERNEL")" ]; then
	echo "kernel-mutants: KERNEL=$KERNEL is Debian's prebuilt kernel: mutants of the connector need a kernel built from source (kernels/kernels.conf)" >&2
	exit 3
fi
export MUTANTS_JOBS=$jobs work VMFLAGS
if [ -z "${RUNNER:-}" ]; then go build -o "$runner" ./vm/cmd/cnlab-vm || exit 3; fi
if [ -z "${KERNELS_BIN:-}" ]; then go build -o "$kernels_bin" ./vm/cmd/cnlab-kernels || exit 3; fi

# One copy of the tree: the suites and the module as committed (HEAD), so
# that neither a later commit nor someone's edit in progress in the checkout
# changes a table half way; a tree that is not a git checkout is copied as
# it is. MUTANTS_REV names another commit (when HEAD does not build). Each
# guest writes its results in its own directory.
rm -rf "$work" && mkdir -p "$work/logs" "$work/built" "$work/rows" "$work/src" || exit 3
if rev=$(git -C "$top" rev-parse --short "${MUTANTS_REV:-HEAD}" 2>/dev/null); then
	git -C "$top" archive "$rev" | tar -C "$work/src" -xf - || exit 3
	# Generated files git does not track (the probes' bpf2go output) come from
	# the checkout.
	if [ -z "${MUTANTS_REV:-}" ]; then
		(cd "$top" && git ls-files -z --others -- 'userspace/*_bpfel.*' |
			tar --null -T - -cf -) | tar -C "$work/src" -xf - || exit 3
	fi
	echo "kernel-mutants: the suites and the module as committed at $rev"
	if [ -n "$(git -C "$top" status --porcelain -- e2e kmod userspace vm 2>/dev/null)" ]; then
		echo "kernel-mutants: (changes not committed in e2e, kmod, userspace or vm are not part of this run)"
	fi
else
	tar -C "$top" --exclude=./build --exclude=./.cache --exclude="./${work#"$top"/}" -cf - . | tar -C "$work/src" -xf - || exit 3
fi

# The builds: the unmutated kernel (built or found in the cache), then each
# mutant from it, in the background, one after the other with
# MUTANTS_BUILD_JOBS make jobs, while the guests run the ones built: a
# mutant's relink is mostly one process, and a TCG guest keeps one CPU
# busy. A mutant that does not apply or build gets its row at once.
echo "kernel-mutants: building $KERNEL and $# mutant(s) of its connector"
start=$(date +%s)
if ! base=$("$kernels_bin" -print dir "$KERNEL" 2>"$work/logs/none.build.log"); then
	cat "$work/logs/none.build.log" >&2
	echo "kernel-mutants: $KERNEL could not be built (see above)" >&2
	exit 3
fi
echo "$base" >"$work/built/none.dir"
echo 0 >"$work/built/none.secs"
# The unmutated kernel runs the specs the mutants run: every spec when one
# of them names no labels, else the union of theirs.
union=""
for p in "$@"; do
	l=$(header Labels "$p")
	if [ -z "$l" ]; then
		union=""
		break
	fi
	[ -n "$union" ] && union+=" || "
	union+="($l)"
done
echo "$union" >"$work/built/none.labels"
: >"$work/built/none.unseen"
echo none >"$work/ready"
printf '%-44s %s\n' MUTANT RESULT
build_all() {
	local p name want t0 dir why
	for p in "$@"; do
		name=$(basename "$p" .patch)
		want=$(header Kernel "$p")
		if [ -n "$want" ] && [ "$want" != "$KERNEL" ] && [ -z "${MUTANTS_ANY_KERNEL:-}" ]; then
			row "$name" "NOT RUN: written for kernel $want (KERNEL=$want)"
			continue
		fi
		t0=$(date +%s)
		if ! dir=$("$kernels_bin" -j "${MUTANTS_BUILD_JOBS:-$(nproc)}" -patches "$p" -print dir "$KERNEL" 2>"$work/logs/$name.build.log"); then
			why=$(sed -n 's/^cnlab-kernels: //p' "$work/logs/$name.build.log" | tail -n 1)
			case $why in
			*"does not apply"*) row "$name" "DOES NOT APPLY: ${why#*does not apply: }" ;;
			*"does not build"*) row "$name" "DOES NOT BUILD: ${why#*does not build: }" ;;
			*"interrupted"*) return 130 ;;
			*) row "$name" "COULD NOT BUILD: ${why:-see $work/logs/$name.build.log}" ;;
			esac
			continue
		fi
		echo "$dir" >"$work/built/$name.dir"
		echo $(($(date +%s) - t0)) >"$work/built/$name.secs"
		header Labels "$p" >"$work/built/$name.labels"
		header Unseen "$p" >"$work/built/$name.unseen"
		echo "$name" >>"$work/ready"
		echo "kernel-mutants: $name built in $(cat "$work/built/$name.secs") s"
	done
}
(
	trap 'exit 130' TERM
	code=0
	build_all "$@" || code=$?
	echo "kernel-mutants: the builds took $(($(date +%s) - start)) s"
	: >"$work/ready.done"
	exit "$code"
) &
builder=$!
trap 'kill -TERM "$builder" 2>/dev/null; pkill -TERM -P "$builder" 2>/dev/null; wait; exit 130' INT TERM HUP

# The guests: each batch takes what is built and not yet run, up to
# MUTANTS_BATCH per guest, and holds the guest lock while it runs.
batch=$((${MUTANTS_BATCH:-4} * jobs))
taken=0
while :; do
	ready=$(wc -l <"$work/ready")
	if [ "$ready" = "$taken" ]; then
		[ -e "$work/ready.done" ] && [ "$(wc -l <"$work/ready")" = "$taken" ] && break
		sleep 2
		continue
	fi
	mapfile -t next < <(sed -n "$((taken + 1)),$((taken + batch))p" "$work/ready")
	taken=$((taken + ${#next[@]}))
	code=0
	CNLAB_KMUTANTS_INNER=1 flock "${CNLAB_VM_LOCK:-/tmp/cnlab-vm.lock}" "$top/scripts/kernel-mutants.sh" "${next[@]}" || code=$?
	if [ "$code" = 130 ]; then
		echo "kernel-mutants: stopped by a signal; the table so far: $work/rows" >&2
		pkill -TERM -P "$builder" 2>/dev/null || true; kill -TERM "$builder" 2>/dev/null || true
		exit 130
	fi
	if grep -q 'UNMUTATED FAILS' "$work/rows/none" 2>/dev/null; then
		echo "kernel-mutants: the unmutated $KERNEL fails: no mutant can be judged (see $work/logs/none.log)" >&2
		pkill -TERM -P "$builder" 2>/dev/null || true; kill -TERM "$builder" 2>/dev/null || true
		exit 1
	fi
done
code=0
wait "$builder" || code=$?
if [ "$code" = 130 ]; then
	echo "kernel-mutants: the builds were stopped" >&2
	exit 130
fi
{
	printf '%-44s %s\n' MUTANT RESULT
	for name in none "$@"; do
		name=$(basename "$name" .patch)
		cat "$work/rows/$name" 2>/dev/null || printf '%-44s %s\n' "$name" "NO ROW: its run was lost (see $work/logs)"
	done
} >"$table"
echo
cat "$table"
echo "table: $table; logs: $work/logs; the whole run: $(($(date +%s) - start)) s"
! grep -qE 'SURVIVED \(|DOES NOT APPLY|DOES NOT BUILD|COULD NOT|NOT RUN|NO ROW|UNMUTATED FAILS' "$table"
