// Package connector is a client for the Linux kernel connector
// (NETLINK_CONNECTOR): messages, and a connection that sends, receives and
// matches requests with their replies.
//
// A Message is a struct cn_msg and its data. UnmarshalBinary checks that the
// message's len agrees with what arrived, so that nothing past a message's
// end is ever read as its data.
//
// Conn dials with github.com/mdlayher/netlink, which does the socket's
// set-up, options and groups, and then sends and receives on the socket
// itself: a connector callback runs inside the sender's send(2), so a reply
// is usually queued before send returns, and Request collects it with one
// non-blocking receive, without allocating and without parking in the
// runtime's poller. Only when the reply is not there yet does it wait.
//
// Request follows the genealogy rules of the kernel's
// Documentation/driver-api/connector.rst: the reply to a request has the
// request's seq and ack = seq + 1. Any other message, including one with the
// right seq and a wrong ack, is a new message: Request never takes it for
// the reply and never drops it, but keeps it for Receive.
package connector
