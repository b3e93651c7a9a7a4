// Command cnctl talks to the kernel connector and the cnlab module: ping an
// id, listen on groups, send a message, drive the module, benchmark the
// round trip.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/probe"
)

// env is what a command uses of the world, so that host tests can give it
// a fake kernel (cntest) and read what it prints.
type env struct {
	stdout, stderr io.Writer
	// dial opens a connection: connector.Dial, or a fake.
	dial func(cfg *connector.Config) (*connector.Conn, error)
	// ctx is done when the user interrupts (Ctrl-C).
	ctx context.Context
	// startTrace attaches the eBPF probes for cnctl trace: startProbes,
	// or a fake.
	startTrace func(f probe.Filter, btfPath string) (tracer, error)
}

type command struct {
	name, summary string
	run           func(e *env, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"ping", "send echo requests to an id and report replies, loss and rtt, like ping(8)", runPing},
		{"listen", "print the messages sent to groups, with the gaps and overruns that lost some", runListen},
		{"send", "send one message as given and print what arrives", runSend},
		{"ctl", "drive the cnlab module: stats, bursts, timer, ids, echo modes", runCtl},
		{"stats", "print the cnlab module's counters (cnctl ctl stats)", func(e *env, args []string) int {
			return runCtl(e, append([]string{"stats"}, args...))
		}},
		{"proc", "print the kernel's process events (fork, exec, exit, ...) like forkstat", runProc},
		{"trace", "show, message by message, what the kernel delivered and dropped, and why (eBPF)", runTrace},
		{"bench", "measure the echo round trip of this client, next to a C reference client", runBench},
		{"help", "print this, or a command's flags (cnctl help ping)", runHelp},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: cnctl <command> [flags] [arguments]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-6s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun cnctl <command> -h (or cnctl help <command>) for its flags; -json on ping, listen, send, ctl, stats and trace prints JSON lines.\n")
}

func runHelp(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stdout)
		return 0
	}
	if len(args) > 1 {
		return e.badUsage("help", fmt.Errorf("one command at a time, got %q", args))
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprintf(e.stdout, "usage: cnctl help [command]\n\nPrints the commands, or a command's flags (the same as cnctl <command> -h).\n")
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			he := *e
			he.stderr = e.stdout
			return c.run(&he, []string{"-h"})
		}
	}
	return e.badUsage("help", fmt.Errorf("unknown command %q (cnctl help lists them)", args[0]))
}

// run runs cnctl with args (without the program's name) and returns its
// exit code: 0, 1 for a failure at run time, 2 for a usage error.
func run(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(e.stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "cnctl: unknown command %q (cnctl help lists them)\n", args[0])
	return 2
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(&env{stdout: os.Stdout, stderr: os.Stderr, dial: connector.Dial, ctx: ctx, startTrace: startProbes}, os.Args[1:])
	stop()
	os.Exit(code)
}

// Exit codes: a usage error (a bad flag, value or argument, found before
// anything is done) is 2, a failure at run time (no module, a refusal, a
// lost reply) is 1.
const (
	exitFailure = 1
	exitUsage   = 2
)

// fail prints a failure at run time in cnctl's format and returns
// exitFailure.
func (e *env) fail(cmd string, err error) int {
	fmt.Fprintf(e.stderr, "cnctl %s: %v\n", cmd, err)
	return exitFailure
}

// badUsage prints a usage error as one line and returns exitUsage.
func (e *env) badUsage(cmd string, err error) int {
	fmt.Fprintf(e.stderr, "cnctl %s: %v\n", cmd, err)
	return exitUsage
}

// newFlags returns a flag set for a command whose usage line is synopsis
// and whose help goes to stdout when asked for (-h), to stderr on an error.
func (e *env) newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: cnctl %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// arguments says whether a command takes arguments after its flags.
type arguments bool

const (
	noArguments   arguments = false // an argument is a usage error
	withArguments arguments = true  // the command's checks read them (ping's target, ctl's operation)
)

// parseFlags is every command's preamble: it parses args into fs, then
// checks, in order, that no argument follows the flags (unless withArguments)
// and each of checks, which may also keep what they parsed (an id). done is
// true when the command should return code at once: after -h (usage on
// stdout, 0) or a usage error, one line on stderr and exitUsage: a bad flag
// (pointing at -h), an unexpected argument, or the first check that failed.
func (e *env) parseFlags(fs *flag.FlagSet, args []string, a arguments, checks ...func() error) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(e.stdout)
		fs.Usage()
		return 0, true
	case err != nil:
		return e.badUsage(fs.Name(), fmt.Errorf("%w (cnctl %s -h lists the flags)", err, fs.Name())), true
	case a == noArguments && fs.NArg() > 0:
		return e.badUsage(fs.Name(), fmt.Errorf("unexpected arguments %q (flags go before arguments)", fs.Args())), true
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return e.badUsage(fs.Name(), err), true
		}
	}
	return 0, false
}
