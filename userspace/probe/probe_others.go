//go:build !linux || !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"syscall"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
)

// Probe is unavailable here.
type Probe struct{}

// Counters are the always-on counts for one id.
type Counters struct {
	Sent, Failed                  uint64
	ByErrno                       map[syscall.Errno]uint64
	Delivered, Dropped, Unreached uint64
	Inbound                       uint64
}

// Skips fails.
func (p *Probe) Skips() (Skips, error) { return Skips{}, errUnsupported }

// ErrTimeout is returned by Read when nothing arrived before the deadline.
var ErrTimeout = errors.New("no probe event before the deadline")

var errUnsupported = errors.New("start probes: the probes are built for Linux on little-endian architectures only")

// Start fails: the probes are built for Linux on little-endian architectures.
func Start(Filter) (*Probe, error) { return nil, errUnsupported }

// StartBTF fails: the probes are built for Linux on little-endian architectures.
func StartBTF(Filter, string) (*Probe, error) { return nil, errUnsupported }

// Read fails.
func (p *Probe) Read(time.Time) (any, error) { return nil, errUnsupported }

// ReadInto fails.
func (p *Probe) ReadInto(*Event, time.Time) error { return errUnsupported }

// Lost fails.
func (p *Probe) Lost() (uint64, error) { return 0, errUnsupported }

// Counters fails.
func (p *Probe) Counters() (map[connector.ID]Counters, error) { return nil, errUnsupported }

// Close does nothing.
func (p *Probe) Close() error { return nil }
