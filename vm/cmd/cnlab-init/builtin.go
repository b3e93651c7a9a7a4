//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/vm/guest"
)

// builtin runs a command that the bare guest has no program for; steps name
// them with a leading @ (see vm/guest). They exist to provoke the faults
// the runner must report: a panic, a hang, memory exhaustion.
func builtin(name string, args []string) int {
	switch name {
	case "@sysrq":
		// @sysrq KEY: as echo KEY > /proc/sysrq-trigger; c crashes the kernel.
		if len(args) != 1 {
			return usageErr("@sysrq KEY")
		}
		if err := os.WriteFile("/proc/sys/kernel/sysrq", []byte("1"), 0); err != nil {
			return errExit(err)
		}
		if err := os.WriteFile("/proc/sysrq-trigger", []byte(args[0]), 0); err != nil {
			return errExit(err)
		}
		return 0
	case "@sleep":
		// @sleep DURATION
		if len(args) != 1 {
			return usageErr("@sleep DURATION")
		}
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return errExit(err)
		}
		time.Sleep(d)
		return 0
	case "@alloc":
		// @alloc MIB: allocate and touch MIB mebibytes, then hold them.
		if len(args) != 1 {
			return usageErr("@alloc MIB")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return errExit(err)
		}
		var hold [][]byte
		for i := 0; i < n; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			hold = append(hold, b)
		}
		fmt.Printf("allocated %d MiB\n", len(hold))
		time.Sleep(time.Hour)
		return 0
	case "@waitfile":
		// @waitfile PATH TIMEOUT: wait until PATH exists.
		if len(args) != 2 {
			return usageErr("@waitfile PATH TIMEOUT")
		}
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return errExit(err)
		}
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(args[0]); err == nil {
				return 0
			}
		}
		fmt.Fprintf(os.Stderr, "%s did not appear within %v\n", args[0], d)
		return 1
	case "@write":
		// @write PATH VALUE: as echo VALUE > PATH, for sysctls and sysfs.
		if len(args) != 2 {
			return usageErr("@write PATH VALUE")
		}
		if err := os.WriteFile(args[0], []byte(args[1]), 0); err != nil {
			return errExit(err)
		}
		return 0
	case "@insmod":
		// @insmod PATH [PARAM=VALUE ...]: load a module, as insmod.
		if len(args) < 1 {
			return usageErr("@insmod PATH [PARAM=VALUE ...]")
		}
		f, err := os.Open(args[0])
		if err != nil {
			return errExit(err)
		}
		defer f.Close()
		if err := unix.FinitModule(int(f.Fd()), strings.Join(args[1:], " "), 0); err != nil {
			return errExit(fmt.Errorf("load module %s: %w", args[0], err))
		}
		return 0
	case "@rmmod":
		// @rmmod NAME: unload a module, as rmmod, for a reproducer of
		// an unload bug; /init then finds it gone and says so.
		if len(args) != 1 {
			return usageErr("@rmmod NAME")
		}
		if err := unix.DeleteModule(args[0], unix.O_NONBLOCK); err != nil {
			return errExit(fmt.Errorf("unload module %s: %w", args[0], err))
		}
		return 0
	case "@connector-ids":
		return connectorIDs(args)
	case "@print":
		// @print BYTES: one line of that many bytes, for the results
		// channel's tests.
		if len(args) != 1 {
			return usageErr("@print BYTES")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return errExit(err)
		}
		line := append(bytes.Repeat([]byte{'x'}, n), '\n')
		if _, err := os.Stdout.Write(line); err != nil {
			return errExit(err)
		}
		return 0
	}
	return usageErr("@sysrq KEY | @sleep DURATION | @alloc MIB | @waitfile PATH TIMEOUT | @write PATH VALUE | @insmod PATH [PARAMS] | @rmmod NAME | @connector-ids IDX:VAL ... | @print BYTES")
}

func usageErr(usage string) int {
	fmt.Fprintf(os.Stderr, "usage: %s\n", usage)
	return 2
}

func errExit(err error) int {
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// connectorIDs is @connector-ids IDX:VAL ...: it fails unless the
// connector lists a callback on each id (idx:val in decimal, as
// /proc/net/connector prints them): a target's ids after its module loaded.
func connectorIDs(args []string) int {
	if len(args) < 1 {
		return usageErr("@connector-ids IDX:VAL ...")
	}
	list, err := os.ReadFile(guest.ConnectorList)
	if err != nil {
		return errExit(err)
	}
	if missing := guest.MissingIDs(string(list), args); len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "no callback on %s after the module loaded; %s lists %s\n",
			strings.Join(missing, ", "), guest.ConnectorList, strings.Join(guest.ConnectorIDs(string(list)), ", "))
		return 1
	}
	fmt.Printf("callbacks on %s\n", strings.Join(args, ", "))
	return 0
}
