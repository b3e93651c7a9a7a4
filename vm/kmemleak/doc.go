// Package kmemleak reads the kernel's kmemleak report
// (/sys/kernel/debug/kmemleak) that a debug kernel's guest brings back: the
// objects that a module, or the connector core, allocated and leaked.
package kmemleak
