//go:build ignore

// This file is the input of "go tool cgo -godefs": it names what the Go side
// takes from kmod/cnlab_wire.h and <linux/connector.h>. See doc.go for the
// go:generate line; TestEveryNameReachesGo fails when the header defines a
// name this file does not take.

package wire

/*
#include <linux/netlink.h>
#include "cnlab_wire.h"
*/
import "C"

// Ids, limits and operations.
const (
	Idx          = C.CNLAB_IDX
	EchoVal      = C.CNLAB_ECHO_VAL
	CtlVal       = C.CNLAB_CTL_VAL
	BcastVal     = C.CNLAB_BCAST_VAL
	NotifyVal    = C.CNLAB_NOTIFY_VAL
	NotifyGroup  = C.CNLAB_NOTIFY_GROUP
	Groups       = C.CNLAB_GROUPS
	MaxExtraIDs  = C.CNLAB_MAX_EXTRA_IDS
	MaxData      = C.CNLAB_MAX_DATA
	ErrnoSlots   = C.CNLAB_ERRNO_SLOTS
	ErrnoMax     = C.CNLAB_ERRNO_MAX
	MaxCount     = C.CNLAB_MAX_COUNT
	MaxDelay     = C.CNLAB_MAX_DELAY
	MaxPeriod    = C.CNLAB_MAX_PERIOD
	MaxLateBytes = C.CNLAB_MAX_LATE_BYTES

	OpGetStats   = C.CNLAB_OP_GET_STATS
	OpBurst      = C.CNLAB_OP_BURST
	OpTimerStart = C.CNLAB_OP_TIMER_START
	OpTimerStop  = C.CNLAB_OP_TIMER_STOP
	OpRegister   = C.CNLAB_OP_REGISTER
	OpUnregister = C.CNLAB_OP_UNREGISTER
	OpEchoMode   = C.CNLAB_OP_ECHO_MODE

	EchoNormal   = C.CNLAB_ECHO_NORMAL
	EchoTwice    = C.CNLAB_ECHO_TWICE
	EchoWrongAck = C.CNLAB_ECHO_WRONG_ACK
	EchoDelay    = C.CNLAB_ECHO_DELAY
	EchoNone     = C.CNLAB_ECHO_NONE

	BcastBurst = C.CNLAB_BCAST_BURST
	BcastTimer = C.CNLAB_BCAST_TIMER

	NetlinkUsers        = C.CN_NETLINK_USERS
	ConnectorMaxMsgSize = C.CONNECTOR_MAX_MSG_SIZE
	NlmsgHdrLen         = C.NLMSG_HDRLEN

	SizeofCnMsg    = C.sizeof_struct_cn_msg
	SizeofCtlReq   = C.sizeof_struct_cnlab_ctl_req
	SizeofCtlReply = C.sizeof_struct_cnlab_ctl_reply
	SizeofStats    = C.sizeof_struct_cnlab_stats
	SizeofExtra    = C.sizeof_struct_cnlab_extra_stats
	SizeofBcast    = C.sizeof_struct_cnlab_bcast
	SizeofNotify   = C.sizeof_struct_cnlab_notify
)

// CbID is struct cb_id.
type CbID C.struct_cb_id

// CnMsg is struct cn_msg without its data.
type CnMsg C.struct_cn_msg

// CtlReq is struct cnlab_ctl_req.
type CtlReq C.struct_cnlab_ctl_req

// CtlReply is struct cnlab_ctl_reply.
type CtlReply C.struct_cnlab_ctl_reply

// Stats is struct cnlab_stats.
type Stats C.struct_cnlab_stats

// DestStats is struct cnlab_dest_stats.
type DestStats C.struct_cnlab_dest_stats

// ExtraStats is struct cnlab_extra_stats: one further id's slot.
type ExtraStats C.struct_cnlab_extra_stats

// Burst is struct cnlab_burst.
type Burst C.struct_cnlab_burst

// BurstResult is struct cnlab_burst_result.
type BurstResult C.struct_cnlab_burst_result

// Timer is struct cnlab_timer.
type Timer C.struct_cnlab_timer

// IDArg is struct cnlab_id_arg.
type IDArg C.struct_cnlab_id_arg

// EchoMode is struct cnlab_echo_mode.
type EchoMode C.struct_cnlab_echo_mode

// Bcast is struct cnlab_bcast.
type Bcast C.struct_cnlab_bcast

// Notify is struct cnlab_notify.
type Notify C.struct_cnlab_notify
