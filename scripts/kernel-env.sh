# kernel-env.sh: sourced by the scripts that run guests on a kernel of
# kernels/kernels.conf (mutants.sh, kernel-mutants.sh, soak.sh), with $top
# the source tree.

# first_failed_spec REPORT [message]: the first spec that did not pass in a
# Ginkgo JSON report (its containers and its text, and its node type when
# not an It), with its failure's message after a colon if asked; nothing
# when every spec passed or there is no report.
first_failed_spec() {
	[ -f "$1" ] || return 0
	jq -r --arg msg "${2:-}" '[.[].SpecReports[]
		| select(.State | test("failed|panicked|timedout|aborted|interrupted"))
		| ((.ContainerHierarchyTexts // []) + [.LeafNodeText] | map(select(. != "")) | join(" "))
		+ (if .LeafNodeType != "It" then " [" + .LeafNodeType + "]" else "" end)
		+ (if $msg != "" then ": " + (.Failure.Message // "" | split("\n") | map(select(. != "")) | join(" / ")) else "" end)]
		| first // ""' "$1" 2>/dev/null || true
}

# kernel_env NAME PREFIX: set PREFIX_rel, PREFIX_args (the runner's kernel
# flags), PREFIX_config and PREFIX_timeout for a kernel of kernels.conf,
# building it first when it is built from source and not cached.
kernel_env() {
	local name=$1 p=$2 rel package dir
	rel=$(scripts/kernel-info release "$name") || return 3
	package=$(scripts/kernel-info package "$name") || return 3
	if [ -n "$package" ]; then
		go build -o "$top/build/cnlab-kernels" ./vm/cmd/cnlab-kernels || return 3
		dir=$("$top/build/cnlab-kernels" -print dir "$name") || return 3
		printf -v "${p}_args" '%s' "-kernel-dir $dir"
		printf -v "${p}_config" '%s' "$dir/config"
		# The debug kernel's suites run about six times slower under TCG.
		printf -v "${p}_timeout" '%s' 40m
	else
		printf -v "${p}_args" '%s' "-kernel /boot/vmlinuz-$rel -kdir /lib/modules/$rel/build -modules-dir /lib/modules/$rel"
		printf -v "${p}_config" '%s' "/boot/config-$rel"
		printf -v "${p}_timeout" '%s' 5m
	fi
	printf -v "${p}_rel" '%s' "$rel"
	export "${p}_rel" "${p}_args" "${p}_config" "${p}_timeout"
}
