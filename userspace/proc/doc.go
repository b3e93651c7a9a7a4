// Package proc is a client for the kernel's process events connector
// (drivers/connector/cn_proc.c, id {CN_IDX_PROC, CN_VAL_PROC} = 1:1): the
// connector's busiest user, which tells listeners of every fork, exec,
// uid/gid/sid change, ptrace attach and detach, comm change, coredump and
// exit on the machine.
//
// Decode turns one connector message into an Event; it checks the id, the
// length and the event type, and returns ErrMalformed or ErrUnknownEvent
// (never a panic) for anything else. Conn subscribes (PROC_CN_MCAST_LISTEN)
// and unsubscribes (PROC_CN_MCAST_IGNORE) over a *connector.Conn, waits for
// the kernel's ack, and returns events one by one with their per-CPU gaps
// and the socket's overruns. It takes only what port 0, the kernel, sent:
// a message from a user-space port (a socket with CAP_NET_ADMIN may send
// to group 1) is reported as a *ForgedError, never as an event or an ack.
// Package proctest has a socket that forges, for tests.
//
// What the kernel does, read from cn_proc.c and connector.c of 6.1 and
// 6.12 (Debian's 6.1.192 and 6.12.95) and checked in e2e/proc_test.go:
//
//   - Every event and ack is broadcast to group CN_IDX_PROC (1). Its cn_msg
//     seq is a per-CPU counter (send_msg: __this_cpu_inc_return - 1) and the
//     event carries the CPU, so losses show as gaps per CPU. The counter
//     moves only while someone has subscribed, and for every event, whether
//     or not a given socket receives it.
//   - The ack of a LISTEN or IGNORE is an event of type NONE broadcast to
//     the whole group, with ack = the request's ack + 1, and seq and cpu
//     overwritten like any event's: Conn matches it by its ack. It is sent
//     only while someone listens (cn_proc_ack returns early otherwise).
//   - Requests from outside the initial user and pid namespaces are ignored
//     without an ack, on both kernels.
//   - 6.1 needs CAP_NET_ADMIN to join group 1 and to subscribe (EPERM in
//     the ack otherwise), and takes only a 4-byte op.
//   - 6.6 and later (6.12 here) take a struct proc_input {op, event_type}
//     too and filter in the kernel per socket (cn_filter, through
//     cn_netlink_send_mult's filter), and have no capability check at all:
//     cn_bind lets anyone join group 1, and cn_proc_mcast_ctl checks
//     nothing. A filtered socket does not get its own ack (its type, NONE,
//     is in no filter but PROC_EVENT_ALL), nor anything after IGNORE.
//
// So Subscribe with a filter sends {LISTEN, ALL} as a proc_input and, right
// behind it, the 4-byte LISTEN. The connector runs cn_proc's callback inside
// the send, so the first request's ack, if any, comes before the second's:
// both acked says the kernel reads proc_input, and then {LISTEN, filter} is
// sent; only the second acked (6.1 ignores an 8-byte op) leaves the socket
// subscribed by the 4-byte op, filtering in the client, with no wait for an
// ack that never comes. KernelFilter says which it got.
package proc
