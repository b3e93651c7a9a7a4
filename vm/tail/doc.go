// Package tail gives the last lines of a tool's output or a log, for an
// error message or a summary: the module build's log, lcov's output,
// QEMU's stderr, the guest's console.
package tail
