package connector_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/connector/cntest"
)

// TestConcurrentUseAndClose has senders, a requester and a receiver share
// one Conn while the kernel multicasts to it, then closes it under them:
// run with -race. Every call ends, and those after Close say net.ErrClosed.
func TestConcurrentUseAndClose(t *testing.T) {
	k := cntest.New(cntest.Echo)
	c, err := k.Dial(&connector.Config{Groups: []uint32{20}})
	if err != nil {
		t.Fatal(err)
	}
	echo := connector.ID{Idx: 14, Val: 0x456}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	loop := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := f()
				select {
				case <-stop:
					if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, context.DeadlineExceeded) {
						errs <- errors.New(name + " after Close: " + err.Error())
					}
					return
				default:
				}
				if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, connector.ErrOverrun) {
					errs <- errors.New(name + ": " + err.Error())
					return
				}
			}
		}()
	}
	for i := 0; i < 2; i++ {
		loop("Send", func() error { return c.Send(&connector.Message{ID: connector.ID{Idx: 14, Val: 0x777}}) })
	}
	loop("Request", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Request(ctx, &connector.Message{ID: echo, Data: []byte("x")})
		return err
	})
	loop("Receive", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		_, _, err := c.Receive(ctx)
		return err
	})
	loop("Multicast", func() error {
		k.Multicast(20, connector.Message{ID: connector.ID{Idx: 14, Val: 0x4c1}})
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	close(stop)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("calls still running 5s after Close")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
