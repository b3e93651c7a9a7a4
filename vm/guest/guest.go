package guest

import (
	"slices"
	"strings"
	"time"
)

// Paths inside the guest.
const (
	// JobPath is where the host puts the job in the initramfs.
	JobPath = "/cnlab/job.json"
	// ResultsPort is the serial port the guest sends events on.
	ResultsPort = "/dev/ttyS1"
)

// Under virtme-ng, /init is a command with a directory of the host's: the
// job and the events are files there.
const (
	VngJob    = "job.json"
	VngEvents = "events.jsonl"
)

// Job is what the guest's /init does: load modules, run steps in order,
// then unload the modules and power off.
type Job struct {
	Modules []Module `json:"modules"`
	Steps   []Step   `json:"steps"`
	// Files, under virtme-ng, are the host's files (values) that /init
	// copies to their guest paths (keys) before anything else: the guest
	// sees the host's file system with a writable overlay, so the job's
	// paths are the same as in cnlab's own initramfs.
	Files map[string]string `json:"files,omitempty"`
}

// Module is a kernel module to load before the steps, and to unload after.
type Module struct {
	Path   string `json:"path"`
	Name   string `json:"name"`
	Params string `json:"params,omitempty"`
}

// Step is one command run in the guest. Its output lines are sent back as
// they come; the files named in Collect are sent back when it ends. A
// command whose name starts with @ is one of /init's builtins: @sysrq KEY,
// @sleep DURATION, @alloc MIB, @waitfile PATH TIMEOUT, @write PATH VALUE,
// @insmod PATH [PARAM=VALUE ...], @rmmod NAME, @connector-ids IDX:VAL ...,
// @print BYTES.
type Step struct {
	Name    string   `json:"name"`
	Argv    []string `json:"argv"`
	Env     []string `json:"env,omitempty"`
	Collect []string `json:"collect,omitempty"`
	// Background steps start and run beside the steps after them; /init
	// waits for them once the others are done, or with StopAtEnd
	// interrupts them (SIGINT) then.
	Background bool `json:"background,omitempty"`
	StopAtEnd  bool `json:"stop_at_end,omitempty"`
}

// Event types.
const (
	EventReady = "ready" // /init runs: Kernel is uname -r
	EventStart = "start" // a step started
	EventOut   = "out"   // a line of a step's output
	EventFile  = "file"  // a collected file
	EventExit  = "exit"  // a step ended with Code
	EventError = "error" // /init could not do something: Msg says what
	EventDone  = "done"  // all steps ran; the guest powers off next
	// EventHeartbeat comes every HeartbeatInterval while /init runs, so
	// that the host tells a quiet guest from a stuck one.
	EventHeartbeat = "heartbeat"
)

// HeartbeatInterval is how often /init sends EventHeartbeat.
const HeartbeatInterval = 10 * time.Second

// Event is one line on the results port.
type Event struct {
	Type   string `json:"t"`
	Kernel string `json:"kernel,omitempty"`
	Step   string `json:"step,omitempty"`
	Line   string `json:"line,omitempty"`
	Name   string `json:"name,omitempty"`
	Data   []byte `json:"data,omitempty"`
	Code   int    `json:"code"`
	Msg    string `json:"msg,omitempty"`
}

// ConnectorList is the kernel's list of the connector's callbacks, which
// the step that checks a target's ids collects.
const ConnectorList = "/proc/net/connector"

// ConnectorIDs reads the kernel's list of connector callbacks, as
// /proc/net/connector prints it ("Name            ID", then a name and
// idx:val in decimal a line), and returns the ids, idx:val in decimal.
func ConnectorIDs(list string) []string {
	var ids []string
	for _, l := range strings.Split(list, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] == "Name" && f[1] == "ID" {
			continue
		}
		ids = append(ids, f[len(f)-1])
	}
	return ids
}

// MissingIDs returns the ids of want (idx:val in decimal) that a
// /proc/net/connector list lacks.
func MissingIDs(list string, want []string) []string {
	have := ConnectorIDs(list)
	var missing []string
	for _, id := range want {
		if !slices.Contains(have, id) {
			missing = append(missing, id)
		}
	}
	return missing
}
