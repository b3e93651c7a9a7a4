package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/proc"
)

// Each cn_proc event is built in a buffer on the sending task's stack, and
// its event_data is a union whose members are shorter than the union: the
// kernel zeroes the union first ("proc connector: fix info leaks", 2013),
// or the bytes past a fork's or an id change's fields carry whatever the
// stack held. Read from a raw socket: the proc client decodes fields and
// would never show the rest.
var _ = Describe("The process events connector's events", Label("proc"), func() {
	It("carry zeros past their fields: each event, encoded again from its decoded fields, is byte for byte what arrived", func() {
		lockThread()
		raw := dial(&connector.Config{Groups: []uint32{proc.Group}})
		Expect(raw.Send(&connector.Message{ID: proc.ID, Data: proc.EncodeOp(proc.OpListen)})).To(Succeed())
		DeferCleanup(func() {
			// Before 6.6 the count of listeners is global: give back what LISTEN took.
			Expect(raw.Send(&connector.Message{ID: proc.ID, Data: proc.EncodeOp(proc.OpIgnore)})).To(Succeed())
		})
		// Forks, id changes (to ids other than root's: the same ids make no
		// event) and a new session: events whose fields leave
		// the union's last bytes (or more) unused.
		kinds := []struct {
			kind   int
			a1, a2 uintptr
		}{{childExit, 0, 0}, {childSetIDs, 65534, 65534}, {childSetsid, 0, 0}, {childComm, 0, 0}}
		exits := map[int32]bool{}
		for i := 0; i < 5; i++ {
			for _, k := range kinds {
				pid, _ := forkChild(k.kind, k.a1, k.a2)
				DeferCleanup(reap, pid)
				exits[int32(pid)] = false
			}
		}
		checked := map[proc.What]int{}
		deadline := time.Now().Add(20 * time.Second)
		for pending := len(exits); pending > 0; {
			Expect(time.Now().Before(deadline)).To(BeTrue(), "the children's exit events did not arrive within 20s: %d of %d missing; checked %v", pending, len(exits), checked)
			m, _, err := raw.Receive(timeout(time.Until(deadline)))
			if errors.Is(err, syscall.ENOBUFS) {
				Fail("the raw socket overran: raise its receive buffer, or fork fewer children")
			}
			Expect(err).NotTo(HaveOccurred(), "receive process events")
			e, err := proc.Decode(m)
			Expect(err).NotTo(HaveOccurred(), "decode %x", m.Data)
			again, err := e.MarshalBinary()
			Expect(err).NotTo(HaveOccurred())
			Expect(m.Data).To(Equal(again), "a %s event (pid %d) whose bytes past its fields are not zero: arrived\n%s\nits fields alone\n%s", e.What, e.PID, hexLines(m.Data), hexLines(again))
			checked[e.What]++
			if done, ok := exits[e.TGID]; ok && e.What == proc.Exit && !done {
				exits[e.TGID] = true
				pending--
			}
		}
		By(fmt.Sprintf("checked every byte of %v", checked))
		for _, w := range []proc.What{proc.Fork, proc.UID, proc.GID, proc.SID, proc.Comm, proc.Exit} {
			Expect(checked).To(HaveKey(w), "no %s event arrived to check", w)
		}
	})
})

// hexLines is b as the rows of 8 bytes that struct proc_event's fields
// fall on.
func hexLines(b []byte) string {
	var s bytes.Buffer
	for i := 0; i < len(b); i += 8 {
		fmt.Fprintf(&s, "  %2d: % x\n", i, b[i:min(i+8, len(b))])
	}
	return s.String()
}
