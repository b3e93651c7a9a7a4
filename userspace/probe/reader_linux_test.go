//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
)

// Every field of a send record and its receivers reaches the Record.
func TestDecodeEveryField(t *testing.T) {
	raw := cnprobeCnprobeRecord{Kind: 1, Nreceivers: 2, Ts: 1500, Idx: 14, Val: 0x4c1, Seq: 3, Ack: 4, Len: 16,
		Portid: 0, Group: 20, Ret: 0, Delivered: 1, Dropped: 1, Failed: 1,
		Flags: uint32(cnprobeCnprobeFlagCNPROBE_F_BROADCAST | cnprobeCnprobeFlagCNPROBE_F_GROUP_RESOLVED | cnprobeCnprobeFlagCNPROBE_F_LOSSES_ONLY)}
	raw.Receivers[0] = cnprobeCnprobeReceiver{Portid: 42, Outcome: 1, Congested: 0, Drops: 0, Rcvbuf: 4096}
	raw.Receivers[1] = cnprobeCnprobeReceiver{Portid: 43, Outcome: 2, Congested: 1, Drops: 7, Rcvbuf: 8192, Rmem: 9000}
	ev := &Event{}
	if err := decode(sendBytes(raw, 2), ev); err != nil {
		t.Fatal(err)
	}
	r := ev.Send
	if r.Time != 1500*time.Nanosecond || r.ID != (connector.ID{Idx: 14, Val: 0x4c1}) || r.Seq != 3 || r.Ack != 4 || r.Len != 16 ||
		r.PortID != 0 || r.Group != 20 || r.Ret != 0 || r.Delivered != 1 || r.Dropped != 1 || r.Failed != 1 ||
		!r.BroadcastMissed || !r.GroupResolved || !r.LossesOnly {
		t.Errorf("head decoded as %+v", r)
	}
	want := []Receiver{
		{PortID: 42, Outcome: Delivered, Congested: false, Drops: 0, RcvBuf: 4096},
		{PortID: 43, Outcome: QueueFull, Congested: true, Drops: 7, RcvBuf: 8192, RmemAlloc: 9000},
	}
	if len(r.Receivers) != 2 || r.Receivers[0] != want[0] || r.Receivers[1] != want[1] {
		t.Errorf("receivers %+v, want %+v", r.Receivers, want)
	}
}

// Each receiver outcome the probes send has its word.
func TestReceiverOutcomes(t *testing.T) {
	for o, want := range map[cnprobeCnprobeOutcome]Outcome{
		cnprobeCnprobeOutcomeCNPROBE_DELIVERED: Delivered, cnprobeCnprobeOutcomeCNPROBE_DROPPED: QueueFull,
		cnprobeCnprobeOutcomeCNPROBE_NOCLONE: NoClone, cnprobeCnprobeOutcomeCNPROBE_FILTERED: Filtered,
	} {
		if got := receiverOutcome(uint8(o)); got != want {
			t.Errorf("outcome %d: %q, want %q", o, got, want)
		}
	}
}

// A second Close returns the first one's result and does nothing.
func TestCloseTwice(t *testing.T) {
	p := &Probe{}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
