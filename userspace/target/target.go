package target

import (
	"slices"
	"strings"

	"github.com/cnlab/cnlab/userspace/connector"
)

// Version is the one version of the format this package reads.
const Version = 1

// Where cnlab's runner puts a target in the guest: the file, as it is, and
// the module, as GuestDir/MODULE.ko (GuestModule).
const (
	GuestFile = "/cnlab/target"
	GuestDir  = "/lib/cnlab/target"
)

// GuestModule is where the runner puts the target's module in the guest.
func (t *Target) GuestModule() string {
	return GuestDir + "/" + t.Module + ".ko"
}

// Target is a parsed target file.
type Target struct {
	// File is the path the target was read from, as given.
	File string
	// Module is the module's name as its build names the .ko (Kbuild's
	// obj-m += NAME.o); the kernel knows it with dashes as underscores
	// (KernelName).
	Module string
	// Source is the module's source directory, holding its Kbuild or
	// Makefile, made absolute against the file's directory by Read; as
	// written, relative to the file, from Parse. Empty when the module
	// comes from the kernel's own tree (KernelSource).
	Source string
	// KernelSource are files of the kernel's own source tree (such as
	// samples/connector/cn_test.c), taken from each kernel's source and
	// built as one module named Module.
	KernelSource []string
	// IDs are the connector ids the module registers once loaded.
	IDs []connector.ID
	// Params are the module's parameters, name=value each, as insmod
	// takes them.
	Params []string
	// Promises are what the module promises its senders; the generic
	// suite holds it to them.
	Promises Promises

	sourceLine int // the line that says source, for Read's messages
}

// Promises are what a target promises, each checked by the generic suite.
type Promises struct {
	// Reply is how the module answers a message to one of its ids.
	Reply Reply
	// UnloadUnderTraffic says that the module may be unloaded while
	// messages to its ids keep arriving.
	UnloadUnderTraffic bool
	// Senders says who may send to the module's ids.
	Senders Senders
}

// Reply is the rule a target's replies follow.
type Reply string

// The reply rules.
const (
	// ReplySeqAck: every message gets one reply, to the sender's port
	// only, with the message's seq and ack = seq + 1 (the convention of
	// the kernel's Documentation/driver-api/connector.rst).
	ReplySeqAck Reply = "seqack"
	// ReplyNone: the module sends nothing back to a sender.
	ReplyNone Reply = "none"
)

// Senders is who may send to a target's ids.
type Senders string

// Who may send.
const (
	// SendersRoot: only senders with CAP_NET_ADMIN; the module ignores
	// (and replies to none of) the others.
	SendersRoot Senders = "root"
	// SendersAnyone: any user's messages are taken and answered.
	SendersAnyone Senders = "anyone"
)

// KernelName is the module's name as the kernel knows it (lsmod, rmmod,
// /sys/module): dashes become underscores.
func (t *Target) KernelName() string {
	return strings.ReplaceAll(t.Module, "-", "_")
}

// ParamString is the module's parameters as one string, as the module
// loader takes them.
func (t *Target) ParamString() string {
	return strings.Join(t.Params, " ")
}

// HasID says whether id is one of the target's ids.
func (t *Target) HasID(id connector.ID) bool {
	return slices.Contains(t.IDs, id)
}
