// Command cnctl talks to the kernel connector and the cnlab module: ping an
// id, read the module's counters, benchmark the round trip.
package main

import (
	"fmt"
	"os"
)

type command struct {
	name, summary string
	run           func(args []string) int
}

var commands = []command{
	{"ping", "send echo requests to an id and report replies, loss and rtt, like ping(8)", runPing},
	{"listen", "print the messages sent to groups, with the gaps and overruns that lost some", runListen},
	{"send", "send one message as given and print what arrives", runSend},
	{"ctl", "drive the cnlab module: stats, bursts, timer, ids, echo modes", runCtl},
	{"stats", "print the cnlab module's counters (cnctl ctl stats)", func(args []string) int { return runCtl(append(append([]string{}, args...), "stats")) }},
	{"trace", "show, message by message, what the kernel delivered and dropped, and why (eBPF)", runTrace},
	{"bench", "measure the echo round trip of this client, next to a C reference client", runBench},
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: cnctl <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-6s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun cnctl <command> -h for its flags.\n")
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	for _, c := range commands {
		if c.name == os.Args[1] {
			os.Exit(c.run(os.Args[2:]))
		}
	}
	fmt.Fprintf(os.Stderr, "cnctl: unknown command %q\n\n", os.Args[1])
	usage()
	os.Exit(2)
}

// fail prints an error in cnctl's format and returns exit code 2.
func fail(cmd string, err error) int {
	fmt.Fprintf(os.Stderr, "cnctl %s: %v\n", cmd, err)
	return 2
}
