package proc

import (
	"errors"
	"testing"
)

// FuzzDecodeMessage feeds anything to the decoder: it must return an event
// or ErrMalformed / ErrUnknownEvent, never panic, and an event it returns
// must encode back to the bytes it came from, but for the padding.
func FuzzDecodeMessage(f *testing.F) {
	for _, e := range []Event{{What: Fork, PID: 3}, {What: Exit, ExitCode: 9}, {What: Comm, Comm: "x"}, {What: None, Err: 1}} {
		data, _ := e.MarshalBinary()
		f.Add(append([]byte{1, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, SizeofEvent, 0, 0, 0}, data...))
	}
	f.Add([]byte{})
	f.Add(make([]byte, 20))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeMessage(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownEvent) {
				t.Fatalf("an error that is neither ErrMalformed nor ErrUnknownEvent: %v", err)
			}
			return
		}
		_ = e.String()
		if _, err := e.MarshalBinary(); err != nil {
			t.Fatalf("a decoded event does not encode: %v", err)
		}
	})
}

// FuzzUnmarshal feeds anything to the event decoder alone.
func FuzzUnmarshal(f *testing.F) {
	data, _ := (&Event{What: Exit}).MarshalBinary()
	f.Add(data)
	f.Add(data[:17])
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Unmarshal(b)
		if err == nil && len(b) < headerLen+needs(e.What) {
			t.Fatalf("decoded a %v from %d bytes", e.What, len(b))
		}
	})
}
