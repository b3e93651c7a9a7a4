package connector

import (
	"testing"
	"time"
)

// TestDialRequestTimeout: Config.RequestTimeout is the dialed Conn's.
func TestDialRequestTimeout(t *testing.T) {
	if got := dialHost(t, nil).RequestTimeout(); got != 0 {
		t.Fatalf("Dial(nil): RequestTimeout() = %v, want 0", got)
	}
	if got := dialHost(t, &Config{RequestTimeout: 3 * time.Second}).RequestTimeout(); got != 3*time.Second {
		t.Fatalf("Dial with RequestTimeout 3s: RequestTimeout() = %v", got)
	}
}
