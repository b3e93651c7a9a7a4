// Package vm boots a kernel under QEMU with cnlab's module, binaries and a
// job inside, and brings the job's results back.
//
// The guest is a bare initramfs that the host builds without root: a Go
// /init (vm/cmd/cnlab-init), the module, static binaries and the job, a JSON
// file that says what to load and what to run. The kernel console goes to
// ttyS0, which the host keeps whole and scans for oopses, BUGs, WARNINGs,
// panics and hung tasks; the job's events go to ttyS1, a channel of their
// own (see package vm/guest), so nothing the kernel prints can be mistaken
// for a result. Two watchdogs bound a run: one until the guest's /init
// reports in, one until the job is done.
//
// A VMM boots the Machine: QEMU itself, or virtme-ng (Vng), which shares
// the host's files instead of an initramfs. Beside this package: vm/runner
// runs the job on kernels and settles verdicts, vm/kernels builds and caches
// kernels, vm/report reads and writes results, vm/build builds the
// module and the guest's programs, vm/gcov, vm/kmemleak and
// vm/symbolize read what a debug kernel's run brings back, and vm/tail
// gives the last lines of a log or a tool's output for an error.
package vm
