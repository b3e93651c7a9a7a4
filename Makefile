# cnlab: make e2e runs the e2e suites in a VM on the default kernel; make test
# runs every check and test. Both install what they need first (make setup).

SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

# KERNEL names a kernel of kernels/kernels.conf.
comma := ,
KERNEL ?= 6.1
KERNELS = $(shell awk '$$1 !~ /^\#/ && NF {print $$1}' kernels/kernels.conf)
# Debian's prebuilt kernels; the others are built from source (make kernels).
DEBIAN_KERNELS = $(shell awk '$$1 !~ /^\#/ && NF == 3 {print $$1}' kernels/kernels.conf)
KVER = $(shell scripts/kernel-info release $(KERNEL))
KPACKAGE = $(shell scripts/kernel-info package $(KERNEL))
KIMAGE ?= /boot/vmlinuz-$(KVER)
KDIR ?= /lib/modules/$(KVER)/build
# Builds the kernels that come from source, or finds them in its cache.
KERNELS_BIN = build/cnlab-kernels
# Extra flags for the runner, e.g. VMFLAGS="-module-params ack_skew=1".
VMFLAGS ?=
# TARGET=path/to/file.target: a connector module of your own instead of
# cnlab's, and the generic suite against it (docs/targets.md).
TARGET ?=
TARGETFLAG = $(if $(TARGET),-target $(TARGET))
# VMM=vng boots the guest with virtme-ng instead of QEMU directly
# (make setup-vng installs it).
VMM ?= qemu
CHECKPATCH = .cache/linux-source-6.1/scripts/checkpatch.pl
# The runner is built, not go run, so that its exit code reaches the caller.
RUNNER_BIN = build/cnlab-vm
# For a kernel built from source, KPREP builds it (or finds it in the cache)
# and the runner takes it from there.
# KERNEL_PATCHES=a.patch,b.patch: that series on top of a kernel built from
# source (make e2e KERNEL=7.2 KERNEL_PATCHES=...): built from the kernel's
# cached build, keyed by the patches' contents; one that does not apply or
# build is one line and exit 3, before anything boots.
KERNEL_PATCHES ?=
KPREP = $(if $(or $(KPACKAGE),$(KERNEL_PATCHES)),d=$$($(KERNELS_BIN) $(if $(KERNEL_PATCHES),-patches "$(KERNEL_PATCHES)") -print dir $(KERNEL)) || exit 3;,)
RUNNER = $(RUNNER_BIN) $(if $(KPACKAGE),-kernel "$$d/bzImage" -kdir "$$d/build" -modules-dir "$$d/modules/lib/modules/$(KVER)",-kernel $(KIMAGE) -kdir $(KDIR))

.PHONY: all setup setup-all setup-bpf setup-vng generate modules e2e e2e-all e2e-debian e2e-source bench test unit faults fuzz-long lint lint-docs lint-go lint-c mutation mutants kernel-mutants soak clean kernels coverage $(RUNNER_BIN) $(KERNELS_BIN)

all: modules

# What KERNEL needs; setup-all: what every kernel of the matrix needs.
setup:
	@scripts/setup.sh $(KERNEL)

setup-all:
	@scripts/setup.sh

# Only to regenerate the committed BPF object and Go wrappers (make generate):
# clang and libbpf's headers, from Debian.
setup-bpf:
	@scripts/setup.sh --bpf

# bpf2go takes its compiler and strip from BPF2GO_CC and BPF2GO_STRIP;
# Debian's are versioned.
generate: setup-bpf
	BPF2GO_CC=$${BPF2GO_CC:-clang-14} BPF2GO_STRIP=$${BPF2GO_STRIP:-llvm-strip-14} go generate ./...

# The module for KERNEL, built in place (make -C $(KDIR) M=$(CURDIR) works too).
modules: setup
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

$(RUNNER_BIN):
	go build -o $@ ./vm/cmd/cnlab-vm

$(KERNELS_BIN):
	go build -o $@ ./vm/cmd/cnlab-kernels

# The kernels of kernels/kernels.conf built from Debian's linux-source
# packages and kernels/*.config, into ~/.cache/cnlab/kernels (built once per
# source version and config).
kernels: setup-all $(KERNELS_BIN)
	$(KERNELS_BIN)

e2e: setup $(RUNNER_BIN) $(KERNELS_BIN) $(if $(filter vng,$(VMM)),setup-vng)
	$(KPREP) $(RUNNER) -vmm $(VMM) $(TARGETFLAG) $(VMFLAGS)

setup-vng:
	@scripts/setup-vng.sh

# Every kernel of kernels/kernels.conf, as many at once as the host has
# cores, the ones built from source built first (make kernels; cached).
# The debug kernel's suites run about six times slower under TCG (KASAN,
# lockdep), hence the run watchdog. e2e-debian and e2e-source run a part.
E2E_TIMEOUT = -timeout 60m
e2e-all: setup-all $(RUNNER_BIN)
	$(RUNNER_BIN) -matrix kernels/kernels.conf $(E2E_TIMEOUT) $(TARGETFLAG) $(VMFLAGS)

e2e-debian: setup-all $(RUNNER_BIN)
	$(RUNNER_BIN) -matrix kernels/kernels.conf -kernels $(subst $(eval) ,$(comma),$(DEBIAN_KERNELS)) $(TARGETFLAG) $(VMFLAGS)

e2e-source: setup-all $(RUNNER_BIN)
	$(RUNNER_BIN) -matrix kernels/kernels.conf -kernels $(subst $(eval) ,$(comma),$(filter-out $(DEBIAN_KERNELS),$(KERNELS))) $(E2E_TIMEOUT) $(TARGETFLAG) $(VMFLAGS)

# The suites on the debug kernel, with the module built for gcov: prints its
# line and function coverage, and writes build/<release>/coverage/index.html.
coverage:
	$(MAKE) e2e KERNEL=6.1-debug VMFLAGS="$(E2E_TIMEOUT) $(VMFLAGS)"

bench: setup $(RUNNER_BIN) $(KERNELS_BIN)
	$(KPREP) $(RUNNER) -bench $(VMFLAGS)

test: lint unit e2e-all faults

# The long fuzz, on demand: a million messages and 5,000 control operations
# on every kernel. FUZZ_SEED replays a run.
FUZZ_SEED ?= 0
fuzz-long: setup-all $(RUNNER_BIN)
	$(RUNNER_BIN) -matrix kernels/kernels.conf -labels fuzz \
		-suite-args "-cnlab.fuzz-count=1000000 -cnlab.fuzz-ctl=5000 -cnlab.fuzz-seed=$(FUZZ_SEED)"

# The runner's own faults, provoked for real in guests: a kernel panic, a
# guest that hangs at boot, a step that hangs, a module that fails to load,
# a guest out of memory, and an interrupted run.
faults: setup setup-vng
	go test -tags faults -count=1 -timeout 45m -parallel 2 -v -run 'TestFaults|TestInterrupt|TestBundleReplays|TestKilled|TestModuleDoesNotBuild|TestMatrixInterrupt|TestForgeJobRuns|TestKernelDir|TestVngMatchesQEMU' ./vm/cmd/cnlab-vm

# Host tests: everything but the e2e suites, which need the module and run in
# the guest.
# CNLAB_REQUIRE_CLANG: the committed BPF object is checked against its source
# (TestGeneratedIsCurrent) with the compiler make setup-bpf installs, never
# skipped.
unit: setup-all setup-bpf
	CNLAB_REQUIRE_CLANG=1 go test -count=1 $$(go list ./... | grep -v '/e2e$$')
	go test -run '^$$' -fuzz FuzzUnmarshal -fuzztime 10s ./userspace/connector
	go test -run '^$$' -fuzz FuzzDatagram -fuzztime 10s ./userspace/connector

lint: lint-docs lint-go lint-c

# Dead relative links between README.md and docs/*.md: a file that is not in
# the tree, or an #anchor no heading of its file has. Needs only Go.
lint-docs:
	go test -count=1 -run '^TestLinks$$' ./docs

lint-go: setup-all
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	go vet ./...
	@# No function in vm/ over 120 lines (TestFunctionLength, go/ast).
	go test -count=1 -run '^TestFunctionLength$$' ./vm
	@# The forges' matrix files: actionlint for GitHub's; GitLab's is checked
	@# as YAML against the kernel list by a host test (TestForgeFiles).
	go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 .github/workflows/*.yml

# The module must build warning-free with W=1 against every kernel of the
# matrix, and pass checkpatch --strict.
lint-c: setup-all
	@for k in $(DEBIAN_KERNELS); do \
		rel=$$(scripts/kernel-info release $$k); out=build/lint/$$rel; \
		rm -rf $$out && mkdir -p $$out && cp kmod/*.c kmod/*.h kmod/Kbuild $$out/ || exit 1; \
		$(MAKE) -s -C /lib/modules/$$rel/build M=$(CURDIR)/$$out W=1 modules > $$out/build.log 2>&1 || \
			{ cat $$out/build.log; echo "module build failed against $$rel"; exit 1; }; \
		if grep -E 'warning:|error:' $$out/build.log; then \
			echo "the module builds with warnings at W=1 against $$rel"; exit 1; fi; \
		echo "W=1 build against $$rel: no warnings"; \
		out=build/lint/$$rel-buggy; \
		rm -rf $$out && mkdir -p $$out && cp examples/buggy/*.c examples/buggy/Kbuild $$out/ || exit 1; \
		$(MAKE) -s -C /lib/modules/$$rel/build M=$(CURDIR)/$$out W=1 modules > $$out/build.log 2>&1 || \
			{ cat $$out/build.log; echo "examples/buggy does not build against $$rel"; exit 1; }; \
		if grep -E 'warning:|error:' $$out/build.log; then \
			echo "examples/buggy builds with warnings at W=1 against $$rel"; exit 1; fi; \
	done
	$(CHECKPATCH) --no-tree --strict --terse -f $$(git ls-files 'kmod/*.c' 'kmod/*.h' 'vm/cmd/cnlab-vm/testdata/*/*.c' 'examples/*/*.c' | grep -v cnlab_compat.h)
	@# The compat header exists to test LINUX_VERSION_CODE, which checkpatch
	@# discourages for in-tree code and mistakes for a constant on the left.
	$(CHECKPATCH) --no-tree --strict --terse --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f kmod/cnlab_compat.h

# On demand, not in make test. Mutation testing of the host-tested Go
# packages with gremlins: efficacy and mutator coverage per package.
mutation: setup-all
	scripts/mutation.sh

# Each mutant of the module (mutants/*.patch, a plausible bug apiece) built
# in a copy against KERNEL and run through the suites: which spec kills it.
mutants: setup $(RUNNER_BIN)
	KERNEL=$(KERNEL) VMFLAGS="$(VMFLAGS)" scripts/mutants.sh

# Mutants of the kernel's connector (kernels/mutants/*.patch, each a bug of
# drivers/connector named for it, some real fixes reverted), each built into
# a kernel from source (KERNEL, default 7.2) from its cached build without a
# full rebuild, then the suites (or the labels it names) on it: the same
# table, the unmutated kernel first. On demand and weekly on the forges.
kernel-mutants: setup-all
	KERNEL=$(if $(filter file,$(origin KERNEL)),7.2,$(KERNEL)) VMFLAGS="$(VMFLAGS)" scripts/kernel-mutants.sh

# On demand: chosen labels run again and again on chosen kernels with the
# host loaded, and a table of the failures (scripts/soak.sh: SOAK_KERNELS,
# SOAK_LABELS, SOAK_RUNS, SOAK_LOAD, SOAK_ARGS), e.g.
# make soak SOAK_KERNELS="6.12-rt 6.1-debug" SOAK_LABELS="probes proc".
soak: setup-all $(RUNNER_BIN)
	VMFLAGS="$(VMFLAGS)" scripts/soak.sh

clean:
	rm -rf build
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
