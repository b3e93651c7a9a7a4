package control_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/connector/cntest"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/control/controltest"
	"github.com/cnlab/cnlab/userspace/wire"
)

func newClient(t *testing.T) (*control.Client, *cntest.Kernel, *controltest.Module) {
	t.Helper()
	k, mod := controltest.New()
	c, err := k.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &control.Client{Conn: c, ID: control.DefaultID}, k, mod
}

func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestClientStats(t *testing.T) {
	c, _, mod := newClient(t)
	mod.Stats.Received, mod.Stats.SendErrors[syscall.EAGAIN] = 42, 3
	st, err := c.Stats(within(t, time.Second))
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Received != 42 || st.CtlReceived != 1 {
		t.Fatalf("Stats = received %d, control received %d; want 42 and 1", st.Received, st.CtlReceived)
	}
	if got := control.SendErrors(&st); len(got) != 1 || got[0] != (control.ErrnoCount{Errno: syscall.EAGAIN, Count: 3}) {
		t.Fatalf("SendErrors = %v, want EAGAIN 3", got)
	}
}

func TestClientBurstReachesListener(t *testing.T) {
	c, k, _ := newClient(t)
	l, err := k.Dial(&connector.Config{Groups: []uint32{20}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	res, err := c.Burst(within(t, time.Second), wire.Burst{Group: 20, Count: 3, Size: wire.SizeofBcast})
	if err != nil {
		t.Fatalf("Burst: %v", err)
	}
	if res.Count != 3 || res.Ok != 3 || res.Failed != 0 {
		t.Fatalf("Burst = %+v, want 3 sent", res)
	}
	for i := uint32(0); i < 3; i++ {
		m, src, err := l.Receive(within(t, time.Second))
		if err != nil {
			t.Fatalf("listener: %v", err)
		}
		b, err := control.ParseBcast(m.Data)
		if err != nil || b.Kind != wire.BcastBurst || m.Seq != res.Seq+i || src.Group() != 20 {
			t.Fatalf("listener got seq %d on group %d (%+v, %v), want burst seq %d on 20", m.Seq, src.Group(), b, err, res.Seq+i)
		}
	}
}

func TestClientErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*controltest.Module)
		do      func(ctx context.Context, c *control.Client) error
		wantErr error
		wantMsg string
	}{
		{"unregister an id never registered", nil, func(ctx context.Context, c *control.Client) error {
			return c.Unregister(ctx, connector.ID{Idx: 14, Val: 0x999})
		}, syscall.ENOENT, "refused"},
		{"refused without CAP_NET_ADMIN", func(m *controltest.Module) { m.Refuse = true }, func(ctx context.Context, c *control.Client) error {
			return c.TimerStop(ctx)
		}, syscall.EPERM, "needs CAP_NET_ADMIN"},
		{"module not loaded", func(m *controltest.Module) { m.Silent = true }, func(ctx context.Context, c *control.Client) error {
			_, err := c.Stats(ctx)
			return err
		}, context.DeadlineExceeded, "no callback on 14:0x4c0: is the cnlab module loaded?"},
		{"timer period under a millisecond", nil, func(ctx context.Context, c *control.Client) error {
			return c.TimerStart(ctx, 20, time.Microsecond)
		}, nil, "at least 1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, mod := newClient(t)
			if tt.setup != nil {
				tt.setup(mod)
			}
			err := tt.do(within(t, 100*time.Millisecond), c)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.wantErr, tt.wantMsg)
			}
		})
	}
}

func TestClientRegisterUnregister(t *testing.T) {
	c, _, _ := newClient(t)
	id := connector.ID{Idx: 14, Val: 0x999}
	if err := c.Register(within(t, time.Second), id); err != nil {
		t.Fatalf("Register: %v", err)
	}
	reply, err := c.Conn.Request(within(t, time.Second), &connector.Message{ID: id, Data: []byte("x")})
	if err != nil || string(reply.Data) != "x" {
		t.Fatalf("request to the registered id: %q, %v", reply.Data, err)
	}
	if err := c.Unregister(within(t, time.Second), id); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
}

// A Client whose ID is the zero ID talks to the default control id.
func TestClientZeroIDIsDefault(t *testing.T) {
	k, _ := controltest.New()
	conn, err := k.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &control.Client{Conn: conn}
	if _, err := c.Stats(within(t, 100*time.Millisecond)); err != nil {
		t.Fatalf("Stats with a zero ID: %v", err)
	}
}
