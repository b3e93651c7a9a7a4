package controltest_test

import (
	"context"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/control/controltest"
)

// TestCases runs the agreement table on the fake module; e2e runs it on
// the module. Each case also holds the model to the table.
func TestCases(t *testing.T) {
	for _, tc := range controltest.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			if got := tc.Predict(); got != tc.Want {
				t.Errorf("the model says %v, the table %v", got, tc.Want)
			}
			k, _ := controltest.New()
			conn, err := k.Dial(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			if err := tc.Run(ctx, conn, control.DefaultID); err != nil {
				t.Errorf("the fake: %v", err)
			}
		})
	}
}
