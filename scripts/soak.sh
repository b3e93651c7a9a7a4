#!/usr/bin/env bash
# soak.sh: run chosen labels of the e2e suites again and again on chosen
# kernels, with the host under load, and print a table: kernel, label,
# runs, failures, first failure. A check that fails one run in N shows up
# here before it rejects good work in CI.
#
# Environment (make soak passes these through):
#   SOAK_KERNELS  kernels of kernels/kernels.conf, space separated (default 6.12-rt)
#   SOAK_LABELS   Ginkgo label filters, space separated, a row each (default "probes proc")
#   SOAK_RUNS     runs per kernel and label (default 20)
#   SOAK_LOAD     busy processes on the host beside the guest, as a kernel
#                 build in CI loads it (default: one per CPU; 0 for none)
#   SOAK_ARGS     more arguments for the e2e binary, e.g. -cnlab.preempt-pressure
#   VMFLAGS       more runner flags
#   SOAK_WORK     where each failing run's results are kept (default /tmp/cnlab-soak)
# Each run boots its own guest under flock /tmp/cnlab-vm.lock, one at a
# time, and with its own seed (recorded in its row's results). Exit status:
# 0 if no run failed, 1 if one did, 3 if the soak could not be set up, 130
# when stopped by a signal.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# shellcheck source=scripts/kernel-env.sh
. "$top/scripts/kernel-env.sh"

kernels=${SOAK_KERNELS:-6.12-rt}
labels=${SOAK_LABELS:-probes proc}
runs=${SOAK_RUNS:-20}
load=${SOAK_LOAD:-$(nproc)}
work=${SOAK_WORK:-/tmp/cnlab-soak}
runner=$top/build/cnlab-vm
VMFLAGS=${VMFLAGS:-}
SOAK_ARGS=${SOAK_ARGS:-}

case $runs in '' | *[!0-9]* | 0)
	echo "soak: SOAK_RUNS must be a number of at least 1, not '$runs'" >&2
	exit 3 ;;
esac
case $load in '' | *[!0-9]*)
	echo "soak: SOAK_LOAD must be a number of processes, not '$load'" >&2
	exit 3 ;;
esac
go build -o "$runner" ./vm/cmd/cnlab-vm || { echo "soak: could not build the runner" >&2; exit 3; }
mkdir -p "$work"
table=$work/table.txt
: >"$table"

hogs=()
stop_hogs() {
	[ ${#hogs[@]} -gt 0 ] && kill "${hogs[@]}" 2>/dev/null
	hogs=()
}
trap 'stop_hogs; echo "soak: stopped" >&2; exit 130' INT TERM HUP
trap stop_hogs EXIT
for _ in $(seq 1 "$load"); do
	# A shell spinning at the guest's own priority: TCG's vCPU threads
	# get what is left, as beside a kernel build.
	bash -c 'while :; do :; done' &
	hogs+=($!)
done
echo "soak: $runs runs of each of [$labels] on each of [$kernels], $load busy processes on the host"

failed=0
row() { printf '| %s | %s | %s | %s | %s |\n' "$@" | tee -a "$table"; }
for k in $kernels; do
	kernel_env "$k" soak || { echo "soak: kernel $k: not in kernels/kernels.conf, or it did not build" >&2; exit 3; }
	for label in $labels; do
		n=0 fails=0 first=""
		for i in $(seq 1 "$runs"); do
			log=$work/$k-$label-$i.log
			start=$(date +%s)
			# shellcheck disable=SC2086 # soak_args and VMFLAGS are lists of flags
			flock /tmp/cnlab-vm.lock "$runner" $soak_args -timeout "$soak_timeout" -labels "$label" \
				-suite-args "-ginkgo.fail-fast $SOAK_ARGS" $VMFLAGS >"$log" 2>&1
			code=$?
			n=$((n + 1))
			case $code in 130 | 143) echo "soak: stopped" >&2; exit 130 ;; esac
			secs=$(($(date +%s) - start))
			if [ $code = 0 ]; then
				echo "soak: $k $label run $i/$runs passed ($secs s)"
				continue
			fi
			fails=$((fails + 1))
			failed=1
			out=$work/$k-$label-$i
			rm -rf "$out" && cp -r "build/$soak_rel" "$out" 2>/dev/null
			what=$(first_failed_spec "$out/e2e-report.json" message | head -c 400)
			[ -z "$what" ] && what="exit $code: $(jq -r .reason "$out/summary.json" 2>/dev/null | head -c 200)"
			echo "soak: $k $label run $i/$runs FAILED ($secs s): $what (log $log, results $out)"
			[ -z "$first" ] && first="run $i: $what"
		done
		row "$k" "$label" "$n" "$fails" "${first:-none}"
	done
done
echo
echo "| kernel | label | runs | failures | first failure |"
echo "| --- | --- | --- | --- | --- |"
cat "$table"
exit $failed
