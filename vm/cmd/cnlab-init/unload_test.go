//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cnlab/cnlab/vm/guest"
)

// sent returns the events r sent to its port, a file.
func sent(t *testing.T, r *results) []guest.Event {
	t.Helper()
	b, err := os.ReadFile(r.port.Name())
	if err != nil {
		t.Fatal(err)
	}
	var events []guest.Event
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		var e guest.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not an event: %q: %v", sc.Text(), err)
		}
		events = append(events, e)
	}
	return events
}

// TestUnloadModules: /init's unload at the end is a step of its own,
// "unload": a module the job's own steps unloaded (rmmod) is said to be so,
// and is no error; a module that does not unload fails the step and is a
// guest error.
func TestUnloadModules(t *testing.T) {
	mods := []guest.Module{{Path: "/lib/modules/dep.ko", Name: "dep"}, {Path: "/lib/cnlab/cnlab.ko", Name: "cnlab"}}
	tests := []struct {
		name     string
		errs     map[string]error // what unloading each module returns
		code     int
		says     string // in the step's output
		errorMsg string // the guest error, if any
	}{
		{"both unload", nil, 0, "", ""},
		{"the job unloaded cnlab", map[string]error{"cnlab": syscall.ENOENT}, 0,
			"module cnlab was already unloaded, by the job's own steps: nothing to unload", ""},
		{"cnlab is busy", map[string]error{"cnlab": syscall.EBUSY}, 1,
			"unload module cnlab: device or resource busy", "unload module cnlab: device or resource busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, err := os.Create(filepath.Join(t.TempDir(), "events"))
			if err != nil {
				t.Fatal(err)
			}
			defer port.Close()
			r := &results{port: port, enc: json.NewEncoder(port), file: true}
			var unloaded []string
			unloadModules(r, mods, func(name string, _ int) error {
				unloaded = append(unloaded, name)
				return tt.errs[name]
			})
			if strings.Join(unloaded, " ") != "cnlab dep" {
				t.Errorf("unloaded %q, want cnlab then dep", unloaded)
			}
			var out, errs []string
			started, code := false, -2
			for _, e := range sent(t, r) {
				switch {
				case e.Type == guest.EventError:
					errs = append(errs, e.Msg)
				case e.Step != "unload":
					t.Errorf("an event of step %q: %+v", e.Step, e)
				case e.Type == guest.EventStart:
					started = true
				case e.Type == guest.EventOut:
					out = append(out, e.Line)
				case e.Type == guest.EventExit:
					code = e.Code
				}
			}
			if !started || code != tt.code {
				t.Errorf("step unload: started %v, exit %d; want started, exit %d", started, code, tt.code)
			}
			if got := strings.Join(out, "\n"); tt.says == "" && got != "" || !strings.Contains(got, tt.says) {
				t.Errorf("step unload said %q, want %q", got, tt.says)
			}
			if got := strings.Join(errs, "\n"); got != tt.errorMsg {
				t.Errorf("guest errors %q, want %q", got, tt.errorMsg)
			}
		})
	}
}
