package connector

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestContextBoundsWaitForReceiveLock: a Request or Receive that waits
// behind another receive on the same Conn gives up when its context does,
// instead of waiting for the receive lock as long as the other one holds it.
func TestContextBoundsWaitForReceiveLock(t *testing.T) {
	tests := []struct {
		name string
		call func(ctx context.Context, c *Conn) error
	}{
		{"Request", func(ctx context.Context, c *Conn) error {
			_, err := c.Request(ctx, &Message{ID: echoID})
			return err
		}},
		{"RequestInto", func(ctx context.Context, c *Conn) error {
			var reply Message
			return c.RequestInto(ctx, &Message{ID: echoID}, &reply)
		}},
		{"Receive", func(ctx context.Context, c *Conn) error {
			_, _, err := c.Receive(ctx)
			return err
		}},
	}
	conns := []struct {
		name string
		dial func(t *testing.T) *Conn
	}{
		{"fake", func(*testing.T) *Conn { return newConn(newChanSocket()) }},
		{"host", func(t *testing.T) *Conn { return dialHost(t, nil) }},
	}
	for _, conn := range conns {
		for _, tt := range tests {
			t.Run(conn.name+"/"+tt.name, func(t *testing.T) {
				c := conn.dial(t)
				blocked := make(chan error, 1)
				go func() {
					_, _, err := c.Receive(context.Background())
					blocked <- err
				}()
				time.Sleep(20 * time.Millisecond) // let it wait, holding the lock
				defer func() {
					c.Close()
					<-blocked
				}()

				ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
				defer cancel()
				done := make(chan error, 1)
				start := time.Now()
				go func() { done <- tt.call(ctx, c) }()
				select {
				case err := <-done:
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("%s with a 200ms context behind a blocked Receive: err = %v, want context.DeadlineExceeded", tt.name, err)
					}
					if d := time.Since(start); d > time.Second {
						t.Fatalf("%s with a 200ms context gave up after %v", tt.name, d)
					}
				case <-time.After(2 * time.Second):
					t.Errorf("%s with a 200ms context still blocked after 2s behind a Receive(context.Background())", tt.name)
					c.Close()
					<-done
				}
			})
		}
	}
}
