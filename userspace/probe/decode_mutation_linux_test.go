//go:build linux && (386 || amd64)

package probe

import (
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
)

// Every field of a send record and its receivers reaches the Record.
func TestDecodeEveryField(t *testing.T) {
	raw := cnprobeCnprobeRecord{Kind: 1, Nreceivers: 2, Ts: 1500, Idx: 14, Val: 0x4c1, Seq: 3, Ack: 4, Len: 16,
		Portid: 0, Group: 20, Ret: 0, Delivered: 1, Dropped: 1}
	raw.Receivers[0] = cnprobeCnprobeReceiver{Portid: 42, Outcome: 1, Congested: 0, Drops: 0, Rcvbuf: 4096}
	raw.Receivers[1] = cnprobeCnprobeReceiver{Portid: 43, Outcome: 2, Congested: 1, Drops: 7, Rcvbuf: 8192}
	ev := &Event{}
	if err := decode(sendBytes(raw, 2), ev); err != nil {
		t.Fatal(err)
	}
	r := ev.Send
	if r.Time != 1500*time.Nanosecond || r.ID != (connector.ID{Idx: 14, Val: 0x4c1}) || r.Seq != 3 || r.Ack != 4 || r.Len != 16 ||
		r.PortID != 0 || r.Group != 20 || r.Ret != 0 || r.Delivered != 1 || r.Dropped != 1 {
		t.Errorf("head decoded as %+v", r)
	}
	want := []Receiver{
		{PortID: 42, Outcome: Delivered, Congested: false, Drops: 0, RcvBuf: 4096},
		{PortID: 43, Outcome: QueueFull, Congested: true, Drops: 7, RcvBuf: 8192},
	}
	if len(r.Receivers) != 2 || r.Receivers[0] != want[0] || r.Receivers[1] != want[1] {
		t.Errorf("receivers %+v, want %+v", r.Receivers, want)
	}
}
