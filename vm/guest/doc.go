// Package guest is the contract between the host runner and the guest's
// /init: the job the host puts in the initramfs, and the events the guest
// sends back, one JSON object per line, on its second serial port.
package guest
