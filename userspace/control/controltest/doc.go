// Package controltest fakes the cnlab module for tests of code that drives
// it through package control, as mdlayher/netlink keeps each family's fake
// apart from the generic nltest: the fake sits on a connector/cntest
// Kernel and answers its control id by control.Model, the same rules the
// module's cnlab_ctl.c applies. Cases is the table that holds the fake and
// the module to the same answers: go test runs it on the fake, e2e's
// "control" specs on the module in a guest.
package controltest
