// Package build builds what a guest runs: cnlab's module against a kernel's
// build tree (Module), the guest's static programs (Guest), and the kernel
// modules the cnlab module depends on, found through the kernel's
// modules.dep and uncompressed for the guest.
package build
