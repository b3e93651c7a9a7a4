// Package symbolize decodes a kernel trace from the console into file:line
// with the kernel's debug symbols and the module's objects (the kernel's
// decode_stacktrace.sh), and says how to get the symbols when they are
// missing.
package symbolize
