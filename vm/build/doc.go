// Package build builds what a guest runs: cnlab's module against a kernel's
// build tree (Module), a target's module, a driver author's own or files of
// the kernel's tree, the same way (BuildTarget), the guest's static programs
// (Guest), and the kernel modules a module depends on, found through the
// kernel's modules.dep and uncompressed for the guest. A module build that
// ran and failed is a *ModuleError with the compiler's first error.
package build
