// Package e2e holds cnlab's end-to-end suites. They need the cnlab module
// loaded in the running kernel, so they run inside a guest that the vm
// runner boots (make e2e), never on the host: built with go test -c, the
// binary is put in the guest's initramfs.
//
// Every spec keeps a ledger of what its client sent and received, and after
// the spec the module's counters must agree with it. The eBPF probes are
// attached for the whole suite as a third witness: after each spec with a
// ledger, their records of the module's sends must match the module's
// per-destination and per-errno counts, and every socket the spec opened
// must have received exactly what they saw delivered to it.
//
// The specs labelled target (target_test.go) are the generic suite: run with
// -cnlab.target FILE against a connector module of someone else's, loaded
// instead of cnlab's (cnlab-vm -target), each held to what the target file
// promises. With -cnlab.target only they run (a label filter narrows
// them); without it they are left out, whatever the filter.
package e2e
