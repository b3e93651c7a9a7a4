// Package control speaks the cnlab module's control protocol: requests to
// its control id, defined in kmod/cnlab_wire.h, such as reading the echo
// callback's counters.
package control
