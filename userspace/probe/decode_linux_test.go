//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"strings"
	"testing"
	"unsafe"
)

// sendBytes is a send record as the probes emit it: the head and only the
// listed receivers.
func sendBytes(raw cnprobeCnprobeRecord, listed int) []byte {
	full := unsafe.Slice((*byte)(unsafe.Pointer(&raw)), unsafe.Sizeof(raw))
	n := int(unsafe.Offsetof(raw.Receivers)) + listed*int(unsafe.Sizeof(raw.Receivers[0]))
	return append([]byte(nil), full[:n]...)
}

func TestDecode(t *testing.T) {
	one := cnprobeCnprobeRecord{Kind: 1, Nreceivers: 1, Idx: 14, Val: 0x456, Seq: 7, Ack: 8, Portid: 42, Ret: 92, Delivered: 1}
	one.Receivers[0] = cnprobeCnprobeReceiver{Portid: 42, Outcome: 1}
	many := cnprobeCnprobeRecord{Kind: 1, Nreceivers: 10, Group: 21, Delivered: 9, Dropped: 1}
	for i := range many.Receivers {
		many.Receivers[i] = cnprobeCnprobeReceiver{Portid: uint32(100 + i), Outcome: 1}
	}
	many.Receivers[3].Outcome = 2
	in := cnprobeCnprobeInbound{Kind: 2, NlmsgLen: 56, Portid: 42, Idx: 14, Val: 0x456, Seq: 7}
	inBytes := unsafe.Slice((*byte)(unsafe.Pointer(&in)), unsafe.Sizeof(in))

	tests := []struct {
		name    string
		b       []byte
		check   func(t *testing.T, ev *Event)
		wantErr string
	}{
		{"unicast, one receiver", sendBytes(one, 1), func(t *testing.T, ev *Event) {
			r := ev.Send
			if r == nil || ev.Inbound != nil || r.Seq != 7 || r.Ack != 8 || r.Ret != 92 || len(r.Receivers) != 1 || r.Receivers[0].PortID != 42 || r.Receivers[0].Outcome != Delivered {
				t.Errorf("decoded %+v", r)
			}
		}, ""},
		{"broadcast, more receivers than listed", sendBytes(many, 8), func(t *testing.T, ev *Event) {
			r := ev.Send
			if len(r.Receivers) != 8 || r.Receivers[3].Outcome != QueueFull || r.Receivers[7].PortID != 107 || r.Delivered+r.Dropped != 10 {
				t.Errorf("decoded %+v", r)
			}
		}, ""},
		{"no receivers", sendBytes(cnprobeCnprobeRecord{Kind: 1, Ret: -3}, 0), func(t *testing.T, ev *Event) {
			if ev.Send.Receivers != nil || ev.Send.Outcome() != NoListener {
				t.Errorf("decoded %+v", ev.Send)
			}
		}, ""},
		{"inbound", inBytes, func(t *testing.T, ev *Event) {
			if ev.Send != nil || ev.Inbound == nil || ev.Inbound.Seq != 7 || ev.Inbound.NlmsgLen != 56 {
				t.Errorf("decoded %+v", ev.Inbound)
			}
		}, ""},
		{"receivers cut off", sendBytes(many, 8)[:100], nil, "listing 8 receivers"},
		{"head cut off", sendBytes(one, 1)[:20], nil, "want at least"},
		{"inbound cut off", inBytes[:10], nil, "inbound record of 10 bytes"},
		{"unknown kind", []byte{9, 0, 0, 0}, nil, "unknown kind 9"},
		{"empty", nil, nil, "0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One Event across decodes, as ReadInto reuses it.
			ev := &Event{Send: &Record{}, send: Record{Receivers: make([]Receiver, 3, 8)}}
			err := decode(tt.b, ev)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decode = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, ev)
		})
	}
}
