package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/cnlab/cnlab/userspace/proc"
)

// procColumn is one column of cnctl proc -S: its heading and the JSON name
// of what it counts.
type procColumn struct{ head, key string }

// procColumns are -S's columns, in forkstat's order, with gid apart from
// uid as the kernel sends them.
var procColumns = [...]procColumn{
	{"Fork", "fork"}, {"Clone", "clone"}, {"Exec", "exec"}, {"Exit", "exit"},
	{"Core", "coredump"}, {"Comm", "comm"}, {"Ptrace", "ptrace"},
	{"UID", "uid"}, {"GID", "gid"}, {"SID", "sid"},
}

// procStats counts events per program for -S (procInfo.short): a fork
// under the parent that forked (who spawns is what a fork storm asks), a
// clone under the process that made the thread, an exec under the program
// it ran, the rest under the process they are about.
type procStats struct {
	rows map[string]*procCounts
}

// procCounts is a row of -S: a count per column.
type procCounts [len(procColumns)]uint64

func newProcStats() *procStats {
	return &procStats{rows: map[string]*procCounts{}}
}

// column is the index of e's column.
func column(e *proc.Event) int {
	key := label(e)
	return slices.IndexFunc(procColumns[:], func(c procColumn) bool { return c.key == key })
}

// count adds e, whose task is shown as name; parent is a fork's parent.
func (ps *procStats) count(e *proc.Event, name, parent string) {
	i := column(e)
	if i < 0 {
		return
	}
	if e.What == proc.Fork && e.PID == e.TGID {
		name = parent
	}
	row := ps.rows[name]
	if row == nil {
		row = new(procCounts)
		ps.rows[name] = row
	}
	row[i]++
}

// procStatsRow is one process's counts.
type procStatsRow struct {
	name   string
	counts procCounts
	total  uint64
}

// sorted returns the rows, most events first, then by name.
func (ps *procStats) sorted() []procStatsRow {
	var rows []procStatsRow
	for name, c := range ps.rows {
		r := procStatsRow{name: name, counts: *c}
		for _, n := range c {
			r.total += n
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b procStatsRow) int {
		return cmp.Or(cmp.Compare(b.total, a.total), strings.Compare(a.name, b.name))
	})
	return rows
}

// table prints -S's table (nothing without -S or -q): a row per process,
// and a row of totals; in -json, a "stats" object per process.
func (p *procPrinter) table() {
	if p.stats == nil {
		return
	}
	rows := p.stats.sorted()
	if p.json {
		for _, r := range rows {
			by := map[string]uint64{}
			for i, c := range procColumns {
				if r.counts[i] > 0 {
					by[c.key] = r.counts[i]
				}
			}
			p.emit(procJSON{Type: "stats", Process: r.name, ByType: by, Total: ptr(r.total)})
		}
		return
	}
	var b strings.Builder
	for _, c := range procColumns {
		fmt.Fprintf(&b, "%7s ", c.head)
	}
	fmt.Fprintf(&b, "%8s %s\n", "Total", "Process")
	var sum procStatsRow
	for _, r := range rows {
		for i, n := range r.counts {
			fmt.Fprintf(&b, "%7d ", n)
			sum.counts[i] += n
		}
		fmt.Fprintf(&b, "%8d %s\n", r.total, r.name)
		sum.total += r.total
	}
	for _, n := range sum.counts {
		fmt.Fprintf(&b, "%7d ", n)
	}
	fmt.Fprintf(&b, "%8d %s\n", sum.total, "(all)")
	fmt.Fprint(p.w, b.String())
}
