package target_test

import (
	"fmt"
	"strings"

	"github.com/cnlab/cnlab/userspace/target"
)

func ExampleParse() {
	file := `version = 1
module = cn_test
kernel-source = samples/connector/cn_test.c
ids = 14:0x456 14:0x457
reply = none                 # it only logs what it gets
unload-under-traffic = yes
senders = anyone
`
	t, err := target.Parse("cn_test.target", strings.NewReader(file))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.Module, t.IDs, t.Promises.Reply)

	_, err = target.Parse("bad.target", strings.NewReader("version = 1\nmodule = cn_test\nreply = echo\n"))
	fmt.Println(err)
	// Output:
	// cn_test [14:0x456 14:0x457] none
	// bad.target:3: reply "echo": want seqack or none
}
