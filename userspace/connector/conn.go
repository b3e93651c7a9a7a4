package connector

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// socket is what Conn needs of a NETLINK_CONNECTOR socket. The Linux one is
// in socket_linux.go; NewConn adapts a Socket; tests give Conn a fake.
type socket interface {
	// write sends one datagram to the kernel.
	write(b []byte) error
	// read receives one datagram into b. With wait false it returns
	// syscall.EAGAIN at once when nothing is queued; with wait true it
	// blocks until a datagram arrives or the deadline passes. When addr
	// is false the socket did not learn the sender's address, and each
	// message's nlmsg_pid stands for it.
	read(b []byte, wait bool) (n int, src Source, addr bool, err error)
	// exchange writes w and then, if the write succeeded, tries one
	// receive into r without waiting, as write and read(r, false) would,
	// in one call.
	exchange(w, r []byte) (n int, src Source, addr bool, werr, rerr error)
	setReadDeadline(t time.Time) error
	portID() uint32
	// close closes the socket, waking a read that waits; release then
	// frees what the socket's calls need, with both of the Conn's locks
	// held, so that no call is under way.
	close() error
	release()
}

// grouper is a socket that joins and leaves multicast groups.
type grouper interface {
	join(group uint32) error
	leave(group uint32) error
}

// received is a message kept for Receive.
type received struct {
	msg Message
	src Source
	err error
}

// maxBacklog bounds the messages a Request keeps for Receive while it waits
// for its reply. Past it, messages are dropped and Receive reports
// ErrOverrun after the kept ones, as the kernel does for a full queue.
const maxBacklog = 1024

// Conn is a connection to the kernel connector. Its methods are safe for
// concurrent use. As in github.com/mdlayher/netlink, sending and receiving
// have separate locks: Send never waits for a blocked Receive. Receiving is
// serialized (a Request receives too), and a call waiting for another's
// receive to end gives up when its context does: give each concurrent
// requester its own Conn.
type Conn struct {
	sock   socket
	portID uint32
	seq    atomic.Uint32
	// timeout is the request timeout in nanoseconds, 0 for none.
	timeout atomic.Int64

	sendMu sync.Mutex // guards wbuf and the socket's writes
	wbuf   []byte

	recvMu  ctxLock // guards everything below and the socket's reads
	backlog []received
	// dropped counts messages that did not fit in the backlog, reported
	// as an overrun once the backlog is drained.
	dropped int
	rbuf    []byte
	rest    []byte // messages of the last datagram not yet handed out
	restSrc Source
	// restAddr tells whether restSrc came from the socket; if not, each
	// message's nlmsg_pid is its sender.
	restAddr bool
	// pendingErr is a receive error that the fast path met and next
	// reports.
	pendingErr error
	observe    func(m Message, src Source)
}

// rbufSize holds the largest message the connector sends (a netlink header,
// struct cn_msg and CONNECTOR_MAX_MSG_SIZE bytes) with room to spare for
// datagrams from user space peers.
const rbufSize = 64 << 10

func newConn(s socket) *Conn {
	c := &Conn{
		sock:   s,
		portID: s.portID(),
		wbuf:   make([]byte, 0, nlmsgHdrLen+HeaderLen+MaxData),
		recvMu: newCtxLock(),
		rbuf:   make([]byte, rbufSize),
	}
	// Sequence numbers start at random so that replies meant for an
	// earlier socket with the same port id cannot match.
	c.seq.Store(rand.Uint32())
	return c
}

// now is the clock; tests count its reads.
var now = time.Now

// SetRequestTimeout sets how long Request and RequestInto wait for a reply
// that has not arrived by the time the send returns; d <= 0 (the default)
// leaves the wait to the context. The timeout is armed only on that slow
// path, when the first non-blocking receive finds no reply: a connector
// callback's reply is usually queued inside the send, and then the timeout
// costs not even a clock read, where a context.WithTimeout per request
// costs a timer and four allocations. A request that times out returns an
// error that is context.DeadlineExceeded. It is safe to call concurrently
// with requests, which use the timeout set when they begin.
func (c *Conn) SetRequestTimeout(d time.Duration) {
	c.timeout.Store(int64(max(d, 0)))
}

// RequestTimeout returns the timeout SetRequestTimeout set, 0 for none.
func (c *Conn) RequestTimeout() time.Duration {
	return time.Duration(c.timeout.Load())
}

// PortID returns the socket's netlink port id, which replies are sent to.
func (c *Conn) PortID() uint32 { return c.portID }

// Close closes the connection; a Receive or Request blocked on it returns
// net.ErrClosed, as does every later call.
func (c *Conn) Close() error {
	err := c.sock.close()
	_ = c.recvMu.lock(context.Background())
	c.sendMu.Lock()
	c.sock.release()
	c.sendMu.Unlock()
	c.recvMu.unlock()
	return err
}

// JoinGroup subscribes the socket to a multicast group, which needs
// CAP_NET_ADMIN for every connector group but the proc connector's.
func (c *Conn) JoinGroup(group uint32) error {
	if err := checkGroup(group); err != nil {
		return fmt.Errorf("join group %d: %w", group, err)
	}
	g, ok := c.sock.(grouper)
	if !ok {
		return fmt.Errorf("join group %d: %w", group, errors.ErrUnsupported)
	}
	if err := g.join(group); err != nil {
		if errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("join group %d: %w (joining connector groups needs CAP_NET_ADMIN)", group, err)
		}
		return fmt.Errorf("join group %d: %w", group, err)
	}
	return nil
}

// LeaveGroup unsubscribes the socket from a multicast group.
func (c *Conn) LeaveGroup(group uint32) error {
	if err := checkGroup(group); err != nil {
		return fmt.Errorf("leave group %d: %w", group, err)
	}
	g, ok := c.sock.(grouper)
	if !ok {
		return fmt.Errorf("leave group %d: %w", group, errors.ErrUnsupported)
	}
	if err := g.leave(group); err != nil {
		return fmt.Errorf("leave group %d: %w", group, err)
	}
	return nil
}

// Send sends m to the kernel as it is, seq and ack included.
func (c *Conn) Send(m *Message) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.send(m)
}

func (c *Conn) send(m *Message) error {
	b, err := appendNetlink(c.wbuf[:0], m, c.portID)
	if err != nil {
		return fmt.Errorf("send to %s: %w", m.ID, err)
	}
	if err := c.sock.write(b); err != nil {
		return fmt.Errorf("send to %s: %w", m.ID, err)
	}
	return nil
}

// SendRaw sends b, which must be a struct cn_msg and its data, as the
// payload of one netlink message, without checking it. It is for tests that
// need the kernel to see malformed messages.
func (c *Conn) SendRaw(b []byte) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	w := binary.NativeEndian.AppendUint32(c.wbuf[:0], uint32(nlmsgHdrLen+len(b)))
	w = binary.NativeEndian.AppendUint16(w, nlmsgDone)
	w = binary.NativeEndian.AppendUint16(w, 0)
	w = binary.NativeEndian.AppendUint32(w, 0)
	w = binary.NativeEndian.AppendUint32(w, c.portID)
	w = append(w, b...)
	if err := c.sock.write(w); err != nil {
		return fmt.Errorf("send raw: %w", err)
	}
	return nil
}

// WriteRaw sends b verbatim as one datagram, netlink header and all,
// without checking it. It is for fuzzing the kernel's parsing.
func (c *Conn) WriteRaw(b []byte) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if err := c.sock.write(b); err != nil {
		return fmt.Errorf("write raw: %w", err)
	}
	return nil
}

// Observe has f called with every message the connection receives, as it
// is read from the socket: replies that Request takes as well as those
// Receive returns, once each. It is for tests and tracers that account for
// every message. f runs with the connection's receiving locked, so it must
// not receive on it, and m.Data is valid only during the call. A nil f stops
// the calls.
func (c *Conn) Observe(f func(m Message, src Source)) {
	_ = c.recvMu.lock(context.Background())
	defer c.recvMu.unlock()
	c.observe = f
}

// Receive returns the next message for this socket: one that a Request set
// aside as not its reply, or else the next to arrive. It waits until ctx is
// done, which also bounds its wait for another receive on the Conn to end.
func (c *Conn) Receive(ctx context.Context) (Message, Source, error) {
	var m Message
	src, err := c.receive(ctx, &m, false)
	return m, src, err
}

// ReceiveInto is Receive that decodes the message into m, reusing the
// capacity of m.Data: a loop of receives need not allocate.
func (c *Conn) ReceiveInto(ctx context.Context, m *Message) (Source, error) {
	return c.receive(ctx, m, true)
}

// receive is Receive into m; with reuse, m.Data's capacity is reused, and
// otherwise m.Data is the message's own.
func (c *Conn) receive(ctx context.Context, m *Message, reuse bool) (Source, error) {
	if err := c.recvMu.lock(ctx); err != nil {
		return Source{}, fmt.Errorf("receive: %w", err)
	}
	defer c.recvMu.unlock()
	if len(c.backlog) > 0 {
		r := c.backlog[0]
		c.backlog[0] = received{}
		c.backlog = c.backlog[1:]
		if r.err != nil {
			return r.src, r.err
		}
		if reuse {
			buf := m.Data[:0]
			*m = r.msg
			m.Data = append(buf, r.msg.Data...)
		} else {
			*m = r.msg
		}
		return r.src, nil
	}
	if c.dropped > 0 {
		n := c.dropped
		c.dropped = 0
		return Source{}, fmt.Errorf("receive: %w: %d messages dropped while a Request waited, past the %d kept for Receive", ErrOverrun, n, maxBacklog)
	}
	src, d, err := c.next(ctx, nil)
	if err != nil {
		return src, err
	}
	var buf []byte
	if reuse {
		buf = m.Data[:0]
	}
	*m = d.msg
	m.Data = append(buf, d.data...)
	return src, nil
}

// Request sends req with a fresh seq and returns its reply: the message from
// the kernel with req's id, the same seq, and ack = seq + 1. Every other
// message that arrives meanwhile is kept for Receive. req.Seq is set to the
// seq used; req.Ack is sent as it is. A ctx that is done before the request
// is sent fails it without sending.
func (c *Conn) Request(ctx context.Context, req *Message) (Message, error) {
	var reply Message
	err := c.RequestInto(ctx, req, &reply)
	return reply, err
}

// RequestInto is Request that decodes the reply into reply, reusing the
// capacity of reply.Data: a loop of requests need not allocate. With a
// request timeout (SetRequestTimeout), a loop of requests that each need
// one spends nothing on it while replies come inside the send.
func (c *Conn) RequestInto(ctx context.Context, req *Message, reply *Message) error {
	return c.requestInto(ctx, req, reply)
}

// replyWait is a request's timeout, and the deadline it sets once the
// request must wait.
type replyWait struct {
	timeout  time.Duration
	deadline time.Time
}

// timedOut reports whether err is the timeout's doing, not ctx's.
func (w *replyWait) timedOut(ctx context.Context, err error) bool {
	if w.deadline.IsZero() || !errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	d, ok := ctx.Deadline()
	return !ok || w.deadline.Before(d)
}

// until returns when the wait ends, reading the clock the first time
// it is asked and after that only to say whether the deadline has passed;
// the zero time means no timeout.
func (w *replyWait) until() (deadline time.Time, passed bool) {
	if w == nil || w.timeout <= 0 {
		return time.Time{}, false
	}
	t := now()
	if w.deadline.IsZero() {
		w.deadline = t.Add(w.timeout)
		return w.deadline, false
	}
	return w.deadline, !t.Before(w.deadline)
}

func (c *Conn) requestInto(ctx context.Context, req *Message, reply *Message) error {
	if !c.recvMu.tryLock() {
		if err := c.recvMu.lockSlow(ctx); err != nil {
			return fmt.Errorf("request %s: waiting for another receive on the connection: %w", req.ID, err)
		}
	}
	defer c.recvMu.unlock()
	// A context that is done sends nothing: what the request asks of the
	// kernel must not happen after its caller gave up. (Err is an atomic
	// load, and reads no clock.)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("request %s: not sent: %w", req.ID, err)
	}

	req.Seq = c.seq.Add(1)
	if len(c.rest) > 0 || c.pendingErr != nil {
		// Messages that arrived earlier must reach the backlog first.
		c.sendMu.Lock()
		err := c.send(req)
		c.sendMu.Unlock()
		if err != nil {
			return err
		}
		return c.awaitReply(ctx, req, reply, &replyWait{timeout: c.RequestTimeout()})
	}

	// The fast path: the callback has usually replied inside the send,
	// so one call sends and collects a datagram that is exactly the reply.
	c.sendMu.Lock()
	w, err := appendNetlink(c.wbuf[:0], req, c.portID)
	if err != nil {
		c.sendMu.Unlock()
		return fmt.Errorf("send to %s: %w", req.ID, err)
	}
	n, src, addr, werr, rerr := c.sock.exchange(w, c.rbuf)
	c.sendMu.Unlock()
	switch {
	case werr != nil:
		return fmt.Errorf("send to %s: %w", req.ID, werr)
	case rerr == nil:
		if takeReply(c.rbuf[:n], src, addr, req, reply) {
			if c.observe != nil {
				c.observe(*reply, Source{})
			}
			return nil
		}
		c.rest, c.restSrc, c.restAddr = c.rbuf[:n], src, addr
	case rerr != syscall.EAGAIN:
		c.pendingErr = wrapReadErr(rerr)
	}
	return c.awaitReply(ctx, req, reply, &replyWait{timeout: c.RequestTimeout()})
}

// takeReply decodes dgram into reply if it is one message, from the kernel,
// unicast, that is the reply to req.
func takeReply(dgram []byte, src Source, addr bool, req *Message, reply *Message) bool {
	if len(dgram) < nlmsgHdrLen {
		return false
	}
	n := int(binary.NativeEndian.Uint32(dgram[0:4]))
	if n < nlmsgHdrLen || (n != len(dgram) && align4(n) != len(dgram)) ||
		binary.NativeEndian.Uint16(dgram[4:6]) == nlmsgError {
		return false
	}
	if addr {
		if src.PortID != 0 || src.Groups != 0 {
			return false
		}
	} else if binary.NativeEndian.Uint32(dgram[12:16]) != 0 {
		return false
	}
	var m Message
	data, err := m.decode(dgram[nlmsgHdrLen:n])
	if err != nil || !m.IsReplyTo(req.ID, req.Seq) {
		return false
	}
	buf := reply.Data[:0]
	*reply = m
	reply.Data = append(buf, data...)
	return true
}

// awaitReply reads until the reply to req arrives, keeping every other
// message for Receive.
func (c *Conn) awaitReply(ctx context.Context, req *Message, reply *Message, w *replyWait) error {
	overrun := false
	var kept error       // the last error kept for Receive, to explain a missing reply
	var wrongAck *uint32 // kept to explain a missing reply
	for {
		src, d, err := c.next(ctx, w)
		if err != nil && !connErr(err) {
			// An error of one datagram or message, not of the
			// connection, does not end the wait: the reply may still
			// be queued behind it. It is kept for Receive to report.
			overrun = overrun || errors.Is(err, ErrOverrun)
			kept = err
			c.keep(received{src: src, err: err})
			continue
		}
		if err != nil {
			why := ""
			if w.timedOut(ctx, err) {
				why += fmt.Sprintf(" within %v", w.timeout)
			}
			if overrun {
				why += ", and the receive queue overflowed meanwhile, so it may have been dropped"
			} else if kept != nil {
				why += fmt.Sprintf(" (meanwhile, kept for Receive: %v)", kept)
			}
			if wrongAck != nil {
				why += fmt.Sprintf("; a message with this id and seq but ack %d arrived, which is not a reply (a reply's ack is seq + 1 = %d)", *wrongAck, req.Seq+1)
			}
			return fmt.Errorf("request %s seq %d: no reply%s: %w", req.ID, req.Seq, why, err)
		}
		if src.PortID == 0 && src.Groups == 0 && d.msg.ID == req.ID && d.msg.Seq == req.Seq {
			if d.msg.Ack == req.Seq+1 {
				buf := reply.Data[:0]
				*reply = d.msg
				reply.Data = append(buf, d.data...)
				return nil
			}
			ack := d.msg.Ack
			wrongAck = &ack
		}
		if len(c.backlog) >= maxBacklog {
			c.dropped++
			continue
		}
		m := d.msg
		m.Data = append([]byte(nil), d.data...)
		c.keep(received{msg: m, src: src})
	}
}

// connErr reports whether err, from next, is the connection's (closed, a
// deadline or cancellation, a failed system call) rather than one
// datagram's or message's, which a Request keeps for Receive and waits on.
func connErr(err error) bool {
	var nerr *NetlinkError
	return !errors.Is(err, ErrOverrun) && !errors.Is(err, ErrMalformed) &&
		!errors.Is(err, ErrTruncated) && !errors.As(err, &nerr)
}

// keep adds r to the backlog for Receive, or counts it dropped when the
// backlog is full.
func (c *Conn) keep(r received) {
	if len(c.backlog) >= maxBacklog {
		c.dropped++
		return
	}
	c.backlog = append(c.backlog, r)
}

// decoded is a message whose data still points into the receive buffer.
type decoded struct {
	msg  Message
	data []byte
}

// next returns the next message from the socket, reading a datagram when the
// last one is used up. A malformed message is returned as an error, and the
// rest of its datagram is dropped with it since its framing is lost.
func (c *Conn) next(ctx context.Context, w *replyWait) (Source, decoded, error) {
	for {
		if err := c.pendingErr; err != nil {
			c.pendingErr = nil
			return Source{}, decoded{}, err
		}
		if len(c.rest) == 0 {
			n, src, addr, err := c.read(ctx, w)
			if err != nil {
				return Source{}, decoded{}, err
			}
			c.rest, c.restSrc, c.restAddr = c.rbuf[:n], src, addr
		}
		typ, pid, payload, rest, err := nextNetlink(c.rest)
		if err != nil {
			c.rest = nil
			return c.restSrc, decoded{}, err
		}
		c.rest = rest
		if !c.restAddr {
			c.restSrc = Source{PortID: pid}
		}
		switch typ {
		case nlmsgError:
			if len(payload) >= 4 {
				if e := int32(binary.NativeEndian.Uint32(payload)); e < 0 {
					return c.restSrc, decoded{}, &NetlinkError{PortID: c.restSrc.PortID, Err: syscall.Errno(-e)}
				}
			}
			continue // an ack, which the connector never asks for
		}
		var d decoded
		d.data, err = d.msg.decode(payload)
		if err != nil {
			return c.restSrc, decoded{}, err
		}
		if c.observe != nil {
			m := d.msg
			m.Data = d.data
			c.observe(m, c.restSrc)
		}
		return c.restSrc, d, nil
	}
}

// read receives one datagram. It tries once without waiting, since a
// connector callback has usually queued its reply before send returned, and
// only then arms ctx's deadline and cancellation and waits. As in
// mdlayher/socket, it waits for a cancellation's callback to finish before
// it clears the deadline, so that no deadline outlives the call. A request's
// timeout, w, bounds the wait as ctx's deadline does; it reads the clock
// only here, once there is nothing to read.
func (c *Conn) read(ctx context.Context, w *replyWait) (int, Source, bool, error) {
	n, src, addr, err := c.sock.read(c.rbuf, false)
	if err != syscall.EAGAIN {
		return n, src, addr, wrapReadErr(err)
	}
	if err := ctx.Err(); err != nil {
		return 0, Source{}, false, err
	}
	deadline, passed := w.until()
	if passed {
		return 0, Source{}, false, context.DeadlineExceeded
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	if !deadline.IsZero() {
		if err := c.sock.setReadDeadline(deadline); err != nil {
			return 0, Source{}, false, wrapReadErr(err)
		}
	}
	var stop func() bool
	var fired chan struct{}
	if ctx.Done() != nil {
		fired = make(chan struct{})
		stop = context.AfterFunc(ctx, func() {
			_ = c.sock.setReadDeadline(time.Unix(1, 0))
			close(fired)
		})
	}
	if stop != nil || !deadline.IsZero() {
		defer func() {
			if stop != nil && !stop() {
				<-fired
			}
			_ = c.sock.setReadDeadline(time.Time{})
		}()
	}
	n, src, addr, err = c.sock.read(c.rbuf, true)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		if err := ctx.Err(); err != nil {
			return 0, Source{}, false, err
		}
		return 0, Source{}, false, context.DeadlineExceeded
	}
	return n, src, addr, wrapReadErr(err)
}

func wrapReadErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOBUFS):
		return fmt.Errorf("receive: %w (%w)", ErrOverrun, err)
	case errors.Is(err, os.ErrClosed) && !errors.Is(err, net.ErrClosed):
		return fmt.Errorf("receive: %w", net.ErrClosed)
	default:
		return fmt.Errorf("receive: %w", err)
	}
}
