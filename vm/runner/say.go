package runner

import (
	"fmt"
	"io"
	"time"
)

// stdout is where the run's progress and results go: Options.Stdout, or
// nowhere.
func (o *Options) stdout() io.Writer {
	if o.Stdout == nil {
		return io.Discard
	}
	return o.Stdout
}

func (o *Options) say(format string, args ...any) {
	fmt.Fprintf(o.stdout(), "cnlab-vm: "+format+"\n", args...)
}

// timed runs f and reports how long it took.
func (o *Options) timed(what string, f func() error) error {
	w := o.stdout()
	fmt.Fprintf(w, "cnlab-vm: %s ... ", what)
	start := time.Now()
	if err := f(); err != nil {
		fmt.Fprintln(w, "failed")
		return err
	}
	fmt.Fprintf(w, "done in %.1fs\n", time.Since(start).Seconds())
	return nil
}

// args is the runner's arguments, without the program's name, as recorded
// in results and bundles.
func (o *Options) args() []string {
	if len(o.Args) == 0 {
		return nil
	}
	return o.Args[1:]
}
