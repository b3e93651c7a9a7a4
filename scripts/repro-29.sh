#!/bin/bash
# Issue 29 on demand: the fork storm spec on 6.12-rt, one vCPU (as CI's
# matrix gives each guest), with -cnlab.starve-rt (e2e/starve_test.go): a
# SCHED_FIFO 10 spinner, and the fair servers at 900 ms a second, during the
# storm, so that the SCHED_FIFO 1 kthreads that refill bpf_mem_alloc's free lists
# (irq_work/N) and free reaped tasks (rcuc/N) never run while the storm's
# CFS tasks do. Usage: scripts/repro-29.sh [out-dir]
# The probe before the fix is ef8bba8's: run this script from a worktree of
# that commit with this script and e2e/starve_test.go copied in (its own
# setup needs make -o setup, since it predates 934ad48).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/repro-29-$(git rev-parse --short HEAD)}
exec flock /tmp/cnlab-vm.lock make e2e KERNEL=6.12-rt \
	VMFLAGS="-cpus 1 -focus fork.storm -suite-args -cnlab.starve-rt -out $out"
