package runner

import (
	"fmt"
	"os"
	"time"
)

func say(format string, args ...any) {
	fmt.Printf("cnlab-vm: "+format+"\n", args...)
}

// timed runs f and reports how long it took.
func timed(what string, f func() error) error {
	fmt.Printf("cnlab-vm: %s ... ", what)
	start := time.Now()
	if err := f(); err != nil {
		fmt.Println("failed")
		return err
	}
	fmt.Printf("done in %.1fs\n", time.Since(start).Seconds())
	return nil
}

// argsOf is the runner's command line, as recorded in results and bundles.
func argsOf() []string { return os.Args[1:] }
