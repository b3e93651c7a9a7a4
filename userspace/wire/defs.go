//go:build ignore

// This file is the input of "go tool cgo -godefs": it names what the Go side
// takes from kmod/cnlab_wire.h and <linux/connector.h>. See generate.go.

package wire

/*
#include <linux/netlink.h>
#include "cnlab_wire.h"
*/
import "C"

// Ids, limits and operations.
const (
	Idx        = C.CNLAB_IDX
	EchoVal    = C.CNLAB_ECHO_VAL
	CtlVal     = C.CNLAB_CTL_VAL
	MaxData    = C.CNLAB_MAX_DATA
	ErrnoSlots = C.CNLAB_ERRNO_SLOTS

	OpGetStats = C.CNLAB_OP_GET_STATS

	NetlinkUsers        = C.CN_NETLINK_USERS
	ConnectorMaxMsgSize = C.CONNECTOR_MAX_MSG_SIZE
	NlmsgHdrLen         = C.NLMSG_HDRLEN

	SizeofCnMsg    = C.sizeof_struct_cn_msg
	SizeofCtlReq   = C.sizeof_struct_cnlab_ctl_req
	SizeofCtlReply = C.sizeof_struct_cnlab_ctl_reply
	SizeofStats    = C.sizeof_struct_cnlab_stats
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
