package connector

import (
	"errors"
	"time"

	"github.com/cnlab/cnlab/userspace/internal/seam"
)

func init() {
	seam.NewConn = func(s seam.Socket) any { return newConn(fakeKernel{s}) }
}

// fakeKernel adapts a seam.Socket, package cntest's fake, to what Conn
// uses.
type fakeKernel struct{ s seam.Socket }

func (f fakeKernel) write(b []byte) error { return f.s.Send(b) }

func (f fakeKernel) read(b []byte, wait bool) (int, Source, bool, error) {
	n, pid, groups, err := f.s.Receive(b, wait)
	if err != nil {
		return 0, Source{}, true, err
	}
	if n > len(b) {
		return 0, Source{}, true, truncated(n, len(b))
	}
	return n, Source{PortID: pid, Groups: groups}, true, nil
}

func (f fakeKernel) exchange(w, r []byte) (int, Source, bool, error, error) {
	if err := f.write(w); err != nil {
		return 0, Source{}, false, err, nil
	}
	n, src, addr, err := f.read(r, false)
	return n, src, addr, nil, err
}

func (f fakeKernel) setReadDeadline(t time.Time) error { return f.s.SetReadDeadline(t) }
func (f fakeKernel) portID() uint32                    { return f.s.PortID() }
func (f fakeKernel) close() error                      { return f.s.Close() }
func (f fakeKernel) release()                          {}
func (f fakeKernel) join(group uint32) error           { return f.s.JoinGroup(group) }
func (f fakeKernel) leave(group uint32) error          { return f.s.LeaveGroup(group) }

var _ grouper = fakeKernel{}

// errNotKernel is returned for socket options of a Conn on a fake.
var errNotKernel = errors.New("not a kernel socket (a fake from package cntest)")
