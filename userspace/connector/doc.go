// Package connector is a client for the Linux kernel connector
// (NETLINK_CONNECTOR): messages, and a connection that sends, receives and
// matches requests with their replies.
//
// A Message is a struct cn_msg and its data. UnmarshalBinary checks that the
// message's len agrees with what arrived, so that nothing past a message's
// end is ever read as its data.
//
// Conn opens its socket itself and sends and receives on it with direct
// system calls: a connector callback runs inside the sender's send(2), so a
// reply is usually queued before send returns, and Request collects it with
// one non-blocking receive, without allocating. The socket is not in the Go
// runtime's poller (epoll), whose wake-up callback the kernel would
// otherwise run for every datagram queued; only when the reply is not there
// yet does a receive wait: the socket joins an epoll instance of its own
// for the wait, and the goroutine parks in the runtime's poller on that
// instance, holding no OS thread, until a datagram, a deadline,
// cancellation or Close. A Conn's request timeout (SetRequestTimeout) is
// armed only then, so a reply that came inside the send costs no clock
// read. As in github.com/mdlayher/netlink, sending and receiving
// have separate locks, and, as in github.com/mdlayher/socket, a context's
// cancellation is bridged to a deadline that never outlives the call.
//
// Package cntest fakes the kernel for tests of code above a Conn.
//
// Request follows the genealogy rules of the kernel's
// Documentation/driver-api/connector.rst: the reply to a request has the
// request's seq and ack = seq + 1. Any other message, including one with the
// right seq and a wrong ack, is a new message: Request never takes it for
// the reply and never drops it, but keeps it for Receive.
package connector
