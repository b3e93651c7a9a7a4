#!/usr/bin/env bash
# mutation.sh [PKG...]: mutation testing of the host-tested Go packages with
# gremlins (github.com/go-gremlins/gremlins, pinned below): each package's
# code is mutated in a copy, its host tests run against each mutant, and a
# table says per package how many mutants the tests killed, how many lived,
# how many no test covers, how many timed out (the tests caught them: counted
# killed), the efficacy (killed / (killed + lived)) and the mutator coverage
# ((killed + lived) / all). In userspace/probe only the decoder counts: the
# code that attaches to a kernel runs in the guest only. It fails when a package is
# under the targets: efficacy 90%, mutator coverage 85%.
#
# Environment: GREMLINS_WORKERS (default 1: the e2e guests want the other
# core), MUTATION_OUT (default build/mutation, one log per package).
set -uo pipefail

GREMLINS=github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
EFFICACY=${EFFICACY:-90}
MCOVER=${MCOVER:-85}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=${MUTATION_OUT:-$top/build/mutation}
mkdir -p "$out"

if [ $# -eq 0 ]; then
	set -- ./userspace/seqgap ./userspace/rtt ./userspace/wire ./userspace/control \
		./vm/report ./userspace/probe ./userspace/connector
fi

# Built once, outside the module: go run would rebuild it for each package.
bin=$out/gremlins
if [ ! -x "$bin" ]; then
	GOBIN=$out go install "$GREMLINS" || exit 3
fi

fail=0
rows=()
for pkg in "$@"; do
	name=${pkg#./}
	log=$out/$(echo "$name" | tr / _).log
	echo "== gremlins unleash $pkg (log: $log)"
	excl=()
	scope=""
	if [ "$name" = userspace/connector ]; then
		# cntest is the tests' fake kernel, not code under test.
		excl=(-E '^cntest/')
	fi
	if [ "$name" = userspace/probe ]; then
		# The probe's decoder and its checks: not the generated loader, nor
		# the code that attaches to a kernel, which only the guest has.
		excl=(-E 'cnprobe_x86_bpfel\.go$' -E 'probe_others\.go$')
		scope=$(awk '/^func decode\(/{s=NR} s && /^}/{print "probe_linux.go:" s "-" NR; exit}' userspace/probe/probe_linux.go)
	fi
	"$bin" unleash --workers "${GREMLINS_WORKERS:-1}" --timeout-coefficient 30 "${excl[@]}" "$pkg" >"$log" 2>&1
	# Each mutant's line, "STATUS MUTATOR at file:line:col", kept when in
	# scope: a file's lines are all in scope but for those named in scope.
	# Gremlins calls every mutant in a switch case's condition NOT COVERED
	# (Go's coverage has no block for it): mutation-cases.py runs those.
	lines=$(grep -aE '^ *(KILLED|LIVED|NOT COVERED|TIMED OUT|NOT VIABLE) ' "$log" | awk -v scope="$scope" '
		BEGIN { n = split(scope, parts, " "); for (i = 1; i <= n; i++) { split(parts[i], fr, "[:-]"); lo[fr[1]] = fr[2]; hi[fr[1]] = fr[3] } }
		{ split($NF, loc, ":"); if (loc[1] in lo && (loc[2] < lo[loc[1]] || loc[2] > hi[loc[1]])) next; print }' |
		scripts/mutation-cases.py "$pkg")
	echo "$lines" | grep -E '^ *(LIVED|NOT COVERED|TIMED OUT|NOT VIABLE) |\(case: '
	if grep -q '^No results to report' "$log"; then
		rows+=("$(printf '%-22s %s' "$name" "no mutants: nothing gremlins mutates")")
		continue
	fi
	if ! grep -q '^Mutation testing completed' "$log"; then
		rows+=("$(printf '%-22s %s' "$name" "gremlins failed: see $log")")
		fail=1
		continue
	fi
	# LIVED mutants listed in mutation-equivalent.txt are equivalent.
	equiv=$(echo "$lines" | grep -E '^ *LIVED ' | while read -r _ mut _ loc _; do
		grep -qE "^$name $mut at $loc( |$)" scripts/mutation-equivalent.txt && echo "$mut $loc"
	done)
	count() { echo "$lines" | grep -cE "^ *$1 "; }
	killed=$(count KILLED) notcov=$(count 'NOT COVERED') t=$(count 'TIMED OUT')
	neq=$(echo -n "$equiv" | grep -c .)
	lived=$(($(count LIVED) - neq))
	# A mutant that makes the tests time out was caught: counted killed.
	# Equivalent mutants count in neither efficacy nor coverage.
	read -r eff cov < <(awk -v k=$((killed + t)) -v l="$lived" -v n="$notcov" 'BEGIN {
		e = (k + l) ? 100 * k / (k + l) : 100; c = (k + l + n) ? 100 * (k + l) / (k + l + n) : 100
		printf "%.2f %.2f\n", e, c }')
	verdict=ok
	if awk -v e="${eff:-0}" -v c="${cov:-0}" -v te="$EFFICACY" -v tc="$MCOVER" 'BEGIN{exit !(e < te || c < tc)}'; then
		verdict="UNDER TARGET"
		fail=1
	fi
	rows+=("$(printf '%-22s %6s %6s %6s %8s %6s %8s%% %8s%%  %s' "$name" "$killed" "$lived" "$neq" "$notcov" "$t" "$eff" "$cov" "$verdict")")
done
echo
printf '%-22s %6s %6s %6s %8s %6s %9s %9s\n' package killed lived equiv "not cov" "t/out" efficacy "mut.cov"
printf '%s\n' "${rows[@]}"
echo "targets: efficacy >= $EFFICACY%, mutator coverage >= $MCOVER%; mutants in switch cases run by scripts/mutation-cases.py; logs in $out"
exit $fail
