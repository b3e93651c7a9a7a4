package control

import "testing"

func TestParseEchoMode(t *testing.T) {
	for name, want := range echoModeNames {
		if got, err := ParseEchoMode(name); err != nil || got != want {
			t.Errorf("ParseEchoMode(%q) = %v, %v", name, got, err)
		}
	}
	if _, err := ParseEchoMode("loud"); err == nil {
		t.Error("ParseEchoMode(loud): no error")
	}
}
