package proc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
)

func TestDecodeEveryType(t *testing.T) {
	base := Event{CPU: 1, Seq: 41, Timestamp: 12 * time.Second}
	with := func(f func(e *Event)) Event { e := base; f(&e); return e }
	tests := []struct {
		name string
		ev   Event
		str  string
	}{
		{"ack", with(func(e *Event) { e.What, e.Err, e.Ack = None, syscall.EPERM, 8 }), "ack err=1 ack=8"},
		{"fork", with(func(e *Event) { e.What, e.ParentPID, e.ParentTGID, e.PID, e.TGID = Fork, 11, 10, 21, 20 }), "fork parent=10/11 child=20/21"},
		{"thread", with(func(e *Event) { e.What, e.ParentPID, e.ParentTGID, e.PID, e.TGID = Fork, 1, 1, 22, 20 }), "fork parent=1/1 child=20/22"},
		{"exec", with(func(e *Event) { e.What, e.PID, e.TGID = Exec, 20, 20 }), "exec pid=20/20"},
		{"uid", with(func(e *Event) { e.What, e.PID, e.TGID, e.Real, e.Effective = UID, 20, 20, 0, 65534 }), "uid pid=20/20 ruid=0 euid=65534"},
		{"gid", with(func(e *Event) { e.What, e.PID, e.TGID, e.Real, e.Effective = GID, 20, 20, 5, 6 }), "gid pid=20/20 rgid=5 egid=6"},
		{"sid", with(func(e *Event) { e.What, e.PID, e.TGID = SID, 20, 20 }), "sid pid=20/20"},
		{"ptrace attach", with(func(e *Event) { e.What, e.PID, e.TGID, e.TracerPID, e.TracerTGID = Ptrace, 20, 20, 11, 10 }), "ptrace pid=20/20 tracer=10/11"},
		{"ptrace detach", with(func(e *Event) { e.What, e.PID, e.TGID = Ptrace, 20, 20 }), "ptrace pid=20/20 tracer=0/0"},
		{"comm", with(func(e *Event) { e.What, e.PID, e.TGID, e.Comm = Comm, 20, 20, "fifteen-chars!!" }), `comm pid=20/20 comm="fifteen-chars!!"`},
		{"coredump", with(func(e *Event) { e.What, e.PID, e.TGID, e.ParentPID, e.ParentTGID = Coredump, 20, 20, 11, 10 }), "coredump pid=20/20 parent=10/11"},
		{"exit", with(func(e *Event) {
			e.What, e.PID, e.TGID, e.ExitCode, e.ExitSignal, e.ParentPID, e.ParentTGID = Exit, 20, 20, 3<<8, 17, 11, 10
		}), "exit pid=20/20 code=0x300 signal=17 parent=10/11"},
		{"thread exit", with(func(e *Event) { e.What, e.PID, e.TGID, e.ExitSignal = Exit, 22, 20, -1 }), "exit pid=20/22 code=0x0 signal=-1 parent=0/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := tt.ev.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if len(data) != SizeofEvent {
				t.Fatalf("marshalled %d bytes, want %d", len(data), SizeofEvent)
			}
			got, err := Decode(connector.Message{ID: ID, Seq: tt.ev.Seq, Ack: tt.ev.Ack, Data: data})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.ev {
				t.Fatalf("decoded %+v, want %+v", got, tt.ev)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
		})
	}
}

// TestDecodeKernelBytes decodes an exit event laid out by hand as the
// kernel's struct proc_event is, not by MarshalBinary.
func TestDecodeKernelBytes(t *testing.T) {
	var b bytes.Buffer
	for _, v := range []any{uint32(Exit), uint32(1), uint64(5e9), int32(300), int32(299), uint32(0x86), int32(17), int32(1), int32(1)} {
		binary.Write(&b, binary.NativeEndian, v)
	}
	e, err := Unmarshal(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	st := e.Status()
	if e.PID != 300 || e.TGID != 299 || !st.Signaled() || st.Signal() != syscall.SIGABRT || !st.CoreDump() || e.ExitSignal != 17 || e.ParentTGID != 1 || e.Timestamp != 5*time.Second {
		t.Fatalf("decoded %+v (status %#x)", e, e.ExitCode)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, _ := (&Event{What: Exit}).MarshalBinary()
	unknown := append([]byte(nil), good...)
	binary.NativeEndian.PutUint32(unknown, 0x400)
	two := append([]byte(nil), good...)
	binary.NativeEndian.PutUint32(two, uint32(Fork|Exec))
	nonzero := append([]byte(nil), good...)
	binary.NativeEndian.PutUint32(nonzero, uint32(NonzeroExit))
	shortComm, _ := (&Event{What: Comm}).MarshalBinary()
	tests := []struct {
		name string
		m    connector.Message
		want error
	}{
		{"empty", connector.Message{ID: ID}, ErrMalformed},
		{"short header", connector.Message{ID: ID, Data: good[:15]}, ErrMalformed},
		{"header only", connector.Message{ID: ID, Data: good[:16]}, ErrMalformed},
		{"exit cut short", connector.Message{ID: ID, Data: good[:39]}, ErrMalformed},
		{"comm cut short", connector.Message{ID: ID, Data: shortComm[:16+23]}, ErrMalformed},
		{"another id", connector.Message{ID: connector.ID{Idx: 14, Val: 0x456}, Data: good}, ErrMalformed},
		{"unknown what", connector.Message{ID: ID, Data: unknown}, ErrUnknownEvent},
		{"two types at once", connector.Message{ID: ID, Data: two}, ErrUnknownEvent},
		{"the filter-only bit", connector.Message{ID: ID, Data: nonzero}, ErrUnknownEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeMessageLen(t *testing.T) {
	data, _ := (&Event{What: Fork, PID: 2}).MarshalBinary()
	m := connector.Message{ID: ID, Data: data}
	b, _ := m.MarshalBinary()
	if _, err := DecodeMessage(b); err != nil {
		t.Fatalf("a good message: %v", err)
	}
	tests := []struct {
		name string
		len  uint16
		cut  int
	}{
		{"len larger than what arrived", SizeofEvent + 8, 0},
		{"len smaller than what arrived", SizeofEvent - 8, 0},
		{"cut inside the event", SizeofEvent, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := append([]byte(nil), b[:len(b)-tt.cut]...)
			binary.NativeEndian.PutUint16(bad[16:18], tt.len)
			if _, err := DecodeMessage(bad); !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeMessage: %v, want ErrMalformed", err)
			}
		})
	}
	if _, err := DecodeMessage(b[:12]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("cut inside cn_msg: %v, want ErrMalformed", err)
	}
}

func TestParseWhat(t *testing.T) {
	tests := []struct {
		in   string
		want What
		err  bool
	}{
		{"fork", Fork, false},
		{"fork,exec,exit", Fork | Exec | Exit, false},
		{" Exit , nonzero-exit", Exit | NonzeroExit, false},
		{"all", All, false},
		{"forks", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseWhat(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("ParseWhat(%q) = %v, %v", tt.in, got, err)
			}
			if err == nil {
				if back, _ := ParseWhat(got.String()); back != got {
					t.Fatalf("%v does not parse back: %v", got, back)
				}
			}
		})
	}
}

func TestWanted(t *testing.T) {
	tests := []struct {
		name string
		mask What
		ev   Event
		want bool
	}{
		{"all takes anything", All, Event{What: Comm}, true},
		{"a type in the mask", Fork | Exit, Event{What: Exit}, true},
		{"a type outside", Fork | Exit, Event{What: Exec}, false},
		{"nonzero exit, code 0", NonzeroExit, Event{What: Exit}, false},
		{"nonzero exit, code 1", NonzeroExit, Event{What: Exit, ExitCode: 1 << 8}, true},
		{"nonzero exit and exit, code 0", NonzeroExit | Exit, Event{What: Exit}, true},
		{"an ack passes only All", Exit, Event{What: None}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Wanted(tt.mask, &tt.ev); got != tt.want {
				t.Fatalf("Wanted(%v, %v) = %v", tt.mask, tt.ev.What, got)
			}
		})
	}
}
