package control

import (
	"bytes"
	"syscall"
	"testing"

	"github.com/cnlab/cnlab/userspace/wire"
)

func TestEncodeMatchesWire(t *testing.T) {
	tests := []struct {
		name string
		v    any
		size int
	}{
		{"burst", wire.Burst{Group: 1, Portid: 2, Count: 3, Size: 4}, 16},
		{"timer", wire.Timer{Group: 1, Period: 100}, 8},
		{"id", wire.IDArg{Idx: 14, Val: 0x999}, 8},
		{"echo mode", wire.EchoMode{Mode: 2, Count: 1}, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b := encode(tt.v); len(b) != tt.size {
				t.Fatalf("encoded %d bytes, want %d", len(b), tt.size)
			}
		})
	}
	b := encode(wire.Burst{Group: 7, Count: 9})
	if b[0] != 7 || b[8] != 9 {
		t.Fatalf("field order: %x", b)
	}
}

func TestParseNotify(t *testing.T) {
	n, err := ParseNotify(encode(wire.Notify{Idx: 14, Val: 0x999, On: 1}))
	if err != nil || n.Idx != 14 || n.Val != 0x999 || n.On != 1 {
		t.Fatalf("ParseNotify = %+v, %v", n, err)
	}
	if _, err := ParseNotify([]byte{1, 2}); err == nil {
		t.Fatal("ParseNotify of 2 bytes: no error")
	}
}

func TestRequestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		req  Request
	}{
		{"stats", NewRequest(wire.OpGetStats)},
		{"burst", NewRequest(wire.OpBurst, wire.Burst{Group: 20, Count: 3, Size: 32})},
		{"register", NewRequest(wire.OpRegister, wire.IDArg{Idx: 14, Val: 0x999})},
		{"reserved kept", Request{Op: wire.OpTimerStop, Reserved: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseRequest(tt.req.Data())
			if !ok || got.Op != tt.req.Op || got.Reserved != tt.req.Reserved || !bytes.Equal(got.Args, tt.req.Args) {
				t.Fatalf("ParseRequest(Data()) = %+v, %v; want %+v", got, ok, tt.req)
			}
		})
	}
	if _, ok := ParseRequest(make([]byte, wire.SizeofCtlReq-1)); ok {
		t.Error("ParseRequest of a request a byte short of struct cnlab_ctl_req: ok")
	}
}

func TestDecodeArgs(t *testing.T) {
	want := wire.Burst{Group: 20, Portid: 7, Count: 3, Size: 32}
	var got wire.Burst
	if err := NewRequest(wire.OpBurst, want).DecodeArgs(&got); err != nil || got != want {
		t.Errorf("DecodeArgs = %+v, %v; want %+v", got, err, want)
	}
	if err := NewRequest(wire.OpBurst, wire.IDArg{}).DecodeArgs(&got); err == nil {
		t.Error("DecodeArgs of 8 bytes into a 16-byte burst: no error")
	}
}

func TestReplyRoundTrip(t *testing.T) {
	res := wire.BurstResult{Seq: 5, Count: 3, Ok: 2, Failed: 1}
	tests := []struct {
		name   string
		reply  Reply
		errno  syscall.Errno
		result int // bytes of result
	}{
		{"success without a result", NewReply(wire.OpTimerStop, 0), 0, 0},
		{"success with a result", NewReply(wire.OpBurst, 0, res), 0, 16},
		{"refused", NewReply(wire.OpRegister, syscall.EPERM), syscall.EPERM, 0},
		{"unknown op", NewReply(0xffffffff, syscall.EOPNOTSUPP), syscall.EOPNOTSUPP, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.reply.Data()
			if len(data) != wire.SizeofCtlReply+tt.result {
				t.Fatalf("Data() is %d bytes, want %d", len(data), wire.SizeofCtlReply+tt.result)
			}
			got, ok := ParseReply(data)
			if !ok || got.Op != tt.reply.Op || got.Errno() != tt.errno || !bytes.Equal(got.Result, tt.reply.Result) {
				t.Fatalf("ParseReply(Data()) = %+v, %v (errno %v); want %+v (errno %v)", got, ok, got.Errno(), tt.reply, tt.errno)
			}
			if tt.errno != 0 && got.Status != -int32(tt.errno) {
				t.Fatalf("status %d, want -%d, as the module sends it", got.Status, int32(tt.errno))
			}
		})
	}
	var got wire.BurstResult
	if r, _ := ParseReply(NewReply(wire.OpBurst, 0, res).Data()); r.DecodeResult(&got) != nil || got != res {
		t.Errorf("DecodeResult = %+v, want %+v", got, res)
	}
	if _, ok := ParseReply(make([]byte, wire.SizeofCtlReply-1)); ok {
		t.Error("ParseReply of a reply a byte short of struct cnlab_ctl_reply: ok")
	}
}

func TestBcastData(t *testing.T) {
	b := wire.Bcast{Kind: wire.BcastBurst, Group: 20}
	for _, size := range []int{wire.SizeofBcast, wire.SizeofBcast + 1, wire.MaxData} {
		data := BcastData(b, size)
		got, err := ParseBcast(data)
		if len(data) != size || err != nil || got != b {
			t.Errorf("BcastData(%+v, %d): %d bytes, ParseBcast = %+v, %v", b, size, len(data), got, err)
		}
	}
}
