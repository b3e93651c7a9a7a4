package proc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/connector/cntest"
)

// fakeProc answers requests as cn_proc_mcast_ctl does, in the style of one
// kernel: its acks are broadcast to Group with a per-CPU seq, and ack = the
// request's ack + 1. It does not filter; the e2e suite checks the kernel's
// filter.
type fakeProc struct {
	k         *cntest.Kernel
	input     bool          // takes struct proc_input (6.6+)
	refuse    syscall.Errno // put in every ack
	silent    bool          // acks nothing, as for a requester in another namespace
	failOn    int           // the send of this request (1 is the first) fails
	mu        sync.Mutex
	requests  int
	seq       uint32
	listeners int
	listening map[uint32]bool // per socket, as 6.6+ keeps it in sk_user_data
}

// fakeOpts picks a fakeProc's kernel.
type fakeOpts struct {
	input  bool
	refuse syscall.Errno
	silent bool
}

func (f *fakeProc) callback(from uint32, m connector.Message) ([]connector.Message, error) {
	if m.ID != ID || f.silent {
		return nil, nil
	}
	f.mu.Lock()
	f.requests++
	n := f.requests
	f.mu.Unlock()
	if n == f.failOn {
		return nil, syscall.ENOBUFS
	}
	switch {
	case len(m.Data) == SizeofOp:
	case len(m.Data) == SizeofInput && f.input:
	default:
		return nil, nil
	}
	f.mu.Lock()
	op := Op(binary.NativeEndian.Uint32(m.Data))
	switch {
	case f.refuse != 0:
	case f.input:
		// 6.6+ counts a socket once however often it listens.
		if f.listening == nil {
			f.listening = map[uint32]bool{}
		}
		if was := f.listening[from]; was != (op == OpListen) {
			f.listening[from] = op == OpListen
			f.listeners += map[bool]int{true: 1, false: -1}[op == OpListen]
		}
	case op == OpListen:
		f.listeners++
	case op == OpIgnore:
		f.listeners--
	}
	f.mu.Unlock()
	f.send(Event{What: None, Err: f.refuse}, m.Ack+1)
	return nil, nil
}

// send broadcasts e on CPU 0 with the next seq.
func (f *fakeProc) send(e Event, ack uint32) {
	f.mu.Lock()
	seq := f.seq
	f.seq++
	f.mu.Unlock()
	data, _ := e.MarshalBinary()
	f.k.Multicast(Group, connector.Message{ID: ID, Seq: seq, Ack: ack, Data: data})
}

func newFake(t *testing.T, f *fakeProc) *Conn {
	t.Helper()
	f.k = cntest.New(f.callback)
	cc, err := f.k.Dial(&connector.Config{Groups: []uint32{Group}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	c := New(cc)
	c.ackTimeout = 100 * time.Millisecond
	return c
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSubscribe(t *testing.T) {
	tests := []struct {
		name         string
		fake         fakeOpts
		events       What
		wantErr      error
		kernelFilter bool
		sent         []int // sizes of the requests, in order
	}{
		{"all, 6.1", fakeOpts{}, All, nil, false, []int{4}},
		{"all, 6.12", fakeOpts{input: true}, 0, nil, false, []int{4}},
		{"exit only, 6.12: the kernel filters", fakeOpts{input: true}, Exit, nil, true, []int{8, 4, 8}},
		{"exit only, 6.1: the client filters", fakeOpts{}, Exit, nil, false, []int{8, 4}},
		{"refused", fakeOpts{refuse: syscall.EPERM}, All, syscall.EPERM, false, []int{4}},
		{"from another namespace", fakeOpts{silent: true, input: true}, All, ErrNoAck, false, []int{4}},
		{"a bit no kernel has", fakeOpts{input: true}, 0x400, ErrUnknownEvent, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeProc{input: tt.fake.input, refuse: tt.fake.refuse, silent: tt.fake.silent}
			c := newFake(t, &f)
			err := c.Subscribe(ctx(t), tt.events)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Subscribe: %v, want %v", err, tt.wantErr)
			}
			if c.KernelFilter() != tt.kernelFilter {
				t.Errorf("KernelFilter() = %v", c.KernelFilter())
			}
			var sizes []int
			for _, m := range f.k.Sent() {
				sizes = append(sizes, len(m.Data))
			}
			if len(sizes) != len(tt.sent) {
				t.Fatalf("sent requests of %v bytes, want %v", sizes, tt.sent)
			}
			for i := range sizes {
				if sizes[i] != tt.sent[i] {
					t.Fatalf("sent requests of %v bytes, want %v", sizes, tt.sent)
				}
			}
			if tt.wantErr == nil && f.listeners != 1 {
				t.Errorf("the fake counts %d listeners after Subscribe, want 1", f.listeners)
			}
			if tt.wantErr == nil {
				if err := c.Close(); err != nil || f.listeners != 0 {
					t.Errorf("Close: %v, %d listeners left", err, f.listeners)
				}
			}
		})
	}
}

// An event that arrives while Subscribe waits for its ack is kept, and
// another listener's ack is counted, not returned.
func TestSubscribeFiltered(t *testing.T) {
	old := fakeProc{}
	c := newFake(t, &old)
	err := c.SubscribeFiltered(ctx(t), Exit)
	if !errors.Is(err, ErrNoKernelFilter) || !errors.Is(err, ErrNoAck) || old.listeners != 0 {
		t.Fatalf("on 6.1: %v, %d listeners", err, old.listeners)
	}
	newer := fakeProc{input: true}
	c = newFake(t, &newer)
	if err := c.SubscribeFiltered(ctx(t), Exit); err != nil || !c.KernelFilter() {
		t.Fatalf("on 6.12: %v, kernel filter %v", err, c.KernelFilter())
	}
}

func TestReceiveKeepsWhatArrivedBeforeTheAck(t *testing.T) {
	f := fakeProc{}
	c := newFake(t, &f)
	f.send(Event{What: Fork, PID: 5, TGID: 5}, 0)
	f.send(Event{What: None}, 77) // someone else's ack
	if err := c.Subscribe(ctx(t), All); err != nil {
		t.Fatal(err)
	}
	f.send(Event{What: Exit, PID: 5, TGID: 5}, 0)
	for _, want := range []What{Fork, Exit} {
		e, err := c.Receive(ctx(t))
		if err != nil || e.What != want {
			t.Fatalf("Receive: %v %v, want %v", e.What, err, want)
		}
	}
	st := c.Stats()
	if st.Acks != 1 || st.Events[Fork] != 1 || st.Events[Exit] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReceiveGapsPerCPU(t *testing.T) {
	f := fakeProc{}
	c := newFake(t, &f)
	if err := c.Subscribe(ctx(t), All); err != nil {
		t.Fatal(err)
	}
	push := func(cpu, seq uint32) {
		data, _ := (&Event{What: Fork, CPU: cpu}).MarshalBinary()
		f.k.Multicast(Group, connector.Message{ID: ID, Seq: seq, Data: data})
	}
	push(1, 100)
	push(0, 1) // CPU 0's ack had seq 0
	push(1, 101)
	push(1, 105)
	push(0, 2)
	var gaps []string
	events := 0
	for range 6 {
		e, err := c.Receive(ctx(t))
		var g *GapError
		switch {
		case errors.As(err, &g):
			gaps = append(gaps, g.Error())
		case err != nil:
			t.Fatal(err)
		default:
			events++
			_ = e
		}
	}
	if events != 5 || len(gaps) != 1 || gaps[0] != "cpu 1: missed seq 102-104 (3 events)" || c.Stats().Missed != 3 {
		t.Fatalf("%d events, gaps %q, stats %+v", events, gaps, c.Stats())
	}
}

func TestClientFilter(t *testing.T) {
	f := fakeProc{}
	c := newFake(t, &f)
	if err := c.Subscribe(ctx(t), Exit|Exec); err != nil {
		t.Fatal(err)
	}
	for _, w := range []What{Fork, Exec, Comm, Exit} {
		f.send(Event{What: w}, 0)
	}
	for _, want := range []What{Exec, Exit} {
		if e, err := c.Receive(ctx(t)); err != nil || e.What != want {
			t.Fatalf("Receive: %v %v, want %v", e.What, err, want)
		}
	}
	if st := c.Stats(); st.Filtered != 2 {
		t.Fatalf("filtered %d, want 2", st.Filtered)
	}
}

func TestReceiveMalformedIsAnError(t *testing.T) {
	f := fakeProc{}
	c := newFake(t, &f)
	if err := c.Subscribe(ctx(t), All); err != nil {
		t.Fatal(err)
	}
	f.k.Multicast(Group, connector.Message{ID: ID, Data: []byte{1, 2, 3}})
	f.send(Event{What: Fork}, 0)
	if _, err := c.Receive(ctx(t)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Receive: %v, want ErrMalformed", err)
	}
	if e, err := c.Receive(ctx(t)); err != nil || e.What != Fork {
		t.Fatalf("after it: %v %v", e.What, err)
	}
}

// skipSeqs has the fake's kernel send n events this socket never gets, as
// cn_proc does for other listeners while this one is unsubscribed or
// filters them out: the CPU's seq moves on.
func (f *fakeProc) skipSeqs(n uint32) {
	f.mu.Lock()
	f.seq += n
	f.mu.Unlock()
}

// A new Subscribe starts the gap tracking afresh: the seqs the kernel used
// while the socket was unsubscribed, or filtered in the kernel, were never
// meant for it and are no gap.
func TestResubscribeForgetsOldSeqs(t *testing.T) {
	tests := []struct {
		name   string
		before func(t *testing.T, c *Conn) // leaves the socket not getting everything
	}{
		{"after an unsubscribe", func(t *testing.T, c *Conn) {
			if err := c.Unsubscribe(); err != nil {
				t.Fatal(err)
			}
		}},
		{"after a kernel-filtered subscription", func(t *testing.T, c *Conn) {
			if err := c.Subscribe(ctx(t), Exit); err != nil || !c.KernelFilter() {
				t.Fatalf("Subscribe(Exit): %v, kernel filter %v", err, c.KernelFilter())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeProc{input: true}
			c := newFake(t, &f)
			if err := c.Subscribe(ctx(t), All); err != nil {
				t.Fatal(err)
			}
			f.send(Event{What: Fork, PID: 5, TGID: 5}, 0)
			if e, err := c.Receive(ctx(t)); err != nil || e.What != Fork {
				t.Fatalf("Receive: %v %v", e.What, err)
			}
			tt.before(t, c)
			f.skipSeqs(5)
			if err := c.Subscribe(ctx(t), All); err != nil {
				t.Fatal(err)
			}
			f.send(Event{What: Exit, PID: 5, TGID: 5}, 0)
			for {
				e, err := c.Receive(ctx(t))
				if err != nil {
					t.Fatalf("Receive after subscribing again: %v", err)
				}
				if e.What == Exit {
					break
				}
			}
			if st := c.Stats(); st.Missed != 0 {
				t.Fatalf("%d events counted missed, want 0", st.Missed)
			}
		})
	}
}

// A message Decode refuses still used its CPU's seq: when its header says
// which CPU, the seq is counted, and the event after it is no gap.
func TestReceiveRefusedEventKeepsSeqs(t *testing.T) {
	good, _ := (&Event{What: Exit, CPU: 1}).MarshalBinary()
	unknown := append([]byte(nil), good...)
	binary.NativeEndian.PutUint32(unknown, 0x400)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"an unknown type", unknown, ErrUnknownEvent},
		{"an exit cut short", good[:30], ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeProc{}
			c := newFake(t, &f)
			if err := c.Subscribe(ctx(t), All); err != nil {
				t.Fatal(err)
			}
			push := func(seq uint32, data []byte) {
				f.k.Multicast(Group, connector.Message{ID: ID, Seq: seq, Data: data})
			}
			fork, _ := (&Event{What: Fork, CPU: 1}).MarshalBinary()
			push(10, fork)
			push(11, tt.data)
			push(12, fork)
			var got []string
			for range 3 {
				e, err := c.Receive(ctx(t))
				switch {
				case errors.Is(err, tt.want):
					got = append(got, "refused")
				case err != nil:
					got = append(got, err.Error())
				default:
					got = append(got, e.What.String())
				}
			}
			if s := fmt.Sprint(got); s != "[fork refused fork]" || c.Stats().Missed != 0 {
				t.Fatalf("received %s, %d missed; want [fork refused fork], 0 missed", s, c.Stats().Missed)
			}
		})
	}
}

// A filtered Subscribe on a kernel before 6.6 learns at once that the
// kernel ignored its struct proc_input, not after the ack timeout: a 4-byte
// LISTEN sent right behind it is acked, and its ack would have come second.
func TestSubscribeFilteredFallsBackAtOnce(t *testing.T) {
	tests := []struct {
		name         string
		fake         fakeOpts
		kernelFilter bool
	}{
		{"6.1: the client filters", fakeOpts{}, false},
		{"6.12: the kernel filters", fakeOpts{input: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeProc{input: tt.fake.input}
			c := newFake(t, &f)
			c.ackTimeout = time.Second // New's default
			start := time.Now()
			err := c.Subscribe(ctx(t), Exit)
			took := time.Since(start)
			if err != nil || c.KernelFilter() != tt.kernelFilter || f.listeners != 1 {
				t.Fatalf("Subscribe: %v, kernel filter %v, %d listeners", err, c.KernelFilter(), f.listeners)
			}
			if took > 300*time.Millisecond {
				t.Fatalf("Subscribe took %s: it waited out the ack timeout", took)
			}
		})
	}
}

// A Subscribe that fails after the kernel counted the socket as a listener
// takes it back with IGNORE, and one that fails before sends none (on 6.1
// an IGNORE from a socket that never listened takes another's place).
func TestSubscribeFailureLeavesNoListener(t *testing.T) {
	tests := []struct {
		name   string
		input  bool
		failOn int
	}{
		{"6.12: setting the filter fails", true, 3},
		{"6.12: the LISTEN behind the proc_input fails", true, 2},
		{"6.1: the LISTEN behind the proc_input fails", false, 2},
		{"6.1: the proc_input's send fails", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeProc{input: tt.input, failOn: tt.failOn}
			c := newFake(t, &f)
			if err := c.Subscribe(ctx(t), Exit); !errors.Is(err, syscall.ENOBUFS) {
				t.Fatalf("Subscribe: %v, want the failed send's ENOBUFS", err)
			}
			if f.listeners != 0 {
				t.Fatalf("the fake counts %d listeners after the failed Subscribe, want 0", f.listeners)
			}
			if err := c.Close(); err != nil || f.listeners != 0 {
				t.Fatalf("Close: %v, %d listeners", err, f.listeners)
			}
		})
	}
}
