package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
)

func runStats(args []string) int {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	idFlag := fs.String("id", control.DefaultID.String(), "the module's control id, as idx:val")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	id, err := connector.ParseID(*idFlag)
	if err != nil {
		return fail("stats", err)
	}
	c, err := connector.Dial(nil)
	if err != nil {
		return fail("stats", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := (&control.Client{Conn: c, ID: id}).Stats(ctx)
	if err != nil {
		return fail("stats", err)
	}
	fmt.Printf("received     %d\nreplied      %d\ninvalid      %d\nctl_received %d\nctl_invalid  %d\n",
		st.Received, st.Replied, st.Invalid, st.Ctl_received, st.Ctl_invalid)
	for _, ec := range control.SendErrors(&st) {
		fmt.Printf("send error %s (%d): %d\n", ec.Errno.Error(), int(ec.Errno), ec.Count)
	}
	return 0
}
