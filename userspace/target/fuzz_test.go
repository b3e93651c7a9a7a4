package target

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that any text either parses into a target with
// everything a target must have, or fails with an *Error; never a panic.
func FuzzParse(f *testing.F) {
	f.Add(good)
	f.Add("version = 1\nmodule = m\nkernel-source = a.c\nids = 1:1\nreply = none\nunload-under-traffic = no\nsenders = root\n")
	f.Add("version = 1\n# c\nids = ,\n")
	f.Fuzz(func(t *testing.T, in string) {
		tg, err := Parse("f", strings.NewReader(in))
		if err != nil {
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			return
		}
		if tg.Module == "" || len(tg.IDs) == 0 || (tg.Source == "") == (len(tg.KernelSource) == 0) ||
			tg.Promises.Reply == "" || tg.Promises.Senders == "" {
			t.Fatalf("parsed an incomplete target: %+v", tg)
		}
	})
}
