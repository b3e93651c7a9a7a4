package proc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/seqgap"
)

// ErrOverrun is connector.ErrOverrun: the socket's receive queue
// overflowed (ENOBUFS) and the kernel dropped events meant for it.
var ErrOverrun = connector.ErrOverrun

// ErrGap is what a *GapError is: events of one CPU were missed.
var ErrGap = errors.New("process events missed")

// ErrForged is what Receive reports, in its place, for a message on the
// process events group that did not come from the kernel: its sender's
// port id (the netlink source address, which the kernel sets and the
// sender cannot) is not 0. Since 6.6 anyone may listen on the group, and a
// user-space socket allowed to send to it could otherwise feed listeners
// events that never happened.
var ErrForged = errors.New("forged process event: not from the kernel")

// ForgedError is a message that did not come from the kernel: what Receive
// reports in its place. It is ErrForged.
type ForgedError struct {
	// Port is the sender's netlink port id; Group the group it was sent
	// to (0 for a unicast).
	Port, Group uint32
	// ID, Seq and Len are the message's id, seq and data length.
	ID  connector.ID
	Seq uint32
	Len int
}

func (e *ForgedError) Error() string {
	return fmt.Sprintf("%v: from port %d to group %d (id %s, seq %d, %d bytes)", ErrForged, e.Port, e.Group, e.ID, e.Seq, e.Len)
}

// Is makes errors.Is(err, ErrForged) true.
func (e *ForgedError) Is(target error) bool { return target == ErrForged }

// ErrNoAck is returned by Subscribe when the kernel did not answer. cn_proc
// ignores, without an ack, requests from outside the initial user and pid
// namespaces (cn_proc_mcast_ctl) and requests of a size it does not take,
// and acks nothing while nobody listens.
var ErrNoAck = errors.New("no ack from the process events connector")

// GapError says that events sent on a CPU never arrived: their seqs are
// missing between two that did.
type GapError struct {
	CPU  uint32
	Seqs seqgap.Range
}

func (e *GapError) Error() string {
	return fmt.Sprintf("cpu %d: missed seq %s (%d events)", e.CPU, e.Seqs, e.Seqs.Len())
}

// Is makes errors.Is(err, ErrGap) true.
func (e *GapError) Is(target error) bool { return target == ErrGap }

// Config tunes Listen.
type Config struct {
	// Events are the types to receive; 0 is All.
	Events What
	// ReadBuffer, if positive, sets SO_RCVBUF (SO_RCVBUFFORCE with
	// ForceReadBuffer).
	ReadBuffer      int
	ForceReadBuffer bool
	// AckTimeout bounds each wait for an ack; 0 is one second. The ack is
	// queued before the request's send returns (the callback runs inside
	// it), so it only matters when none comes.
	AckTimeout time.Duration
}

// Stats counts what a Conn received.
type Stats struct {
	// Events counts the events Receive returned, by type.
	Events map[What]uint64
	// Acks counts acks, the Conn's own and other listeners'.
	Acks uint64
	// Filtered counts events dropped in the client because their type was
	// not asked for (when the kernel does not filter, and while a kernel
	// filter was being set up).
	Filtered uint64
	// Missed counts events in per-CPU gaps; Overruns the ENOBUFS the
	// socket reported; Malformed the messages Decode refused.
	Missed, Overruns, Malformed uint64
	// Forged counts messages from a sender other than the kernel,
	// dropped (ErrForged).
	Forged uint64
	// GapsTracked says whether Missed means anything: gaps are not
	// tracked while the kernel filters, since the events it keeps back
	// use seqs too.
	GapsTracked bool
}

// item is a received event or an error to report in its place.
type item struct {
	ev  Event
	err error
}

// Conn is a subscription to process events over a connector socket. It is
// not safe for concurrent use.
type Conn struct {
	c          *connector.Conn
	own        bool
	ackTimeout time.Duration

	subscribed   bool
	mask         What
	kernelFilter bool
	// trackGaps is off when the kernel filters: filtered events use seqs
	// too, so gaps say nothing.
	trackGaps bool
	gaps      seqgap.Tracker[uint32]
	// awaitAcks holds the acks requests waits for; the first of them to
	// arrive restarts the gap tracking.
	awaitAcks map[uint32]bool

	pending []item
	stats   Stats
}

// New returns a Conn over c, which must have joined Group to receive
// anything. Closing the Conn does not close c.
func New(c *connector.Conn) *Conn {
	return &Conn{c: c, ackTimeout: time.Second, trackGaps: true, mask: All, stats: Stats{Events: map[What]uint64{}}}
}

// Listen dials a connector socket in Group and subscribes to cfg.Events.
// On 6.1 joining the group needs CAP_NET_ADMIN (the error says so).
func Listen(ctx context.Context, cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	cc, err := connector.Dial(&connector.Config{Groups: []uint32{Group}, ReadBuffer: cfg.ReadBuffer, ForceReadBuffer: cfg.ForceReadBuffer})
	if err != nil {
		return nil, fmt.Errorf("listen for process events: %w", err)
	}
	c := New(cc)
	c.own = true
	if cfg.AckTimeout > 0 {
		c.ackTimeout = cfg.AckTimeout
	}
	if err := c.Subscribe(ctx, cfg.Events); err != nil {
		cc.Close()
		return nil, err
	}
	return c, nil
}

// Conn returns the connector connection under c.
func (c *Conn) Conn() *connector.Conn { return c.c }

// KernelFilter reports whether the kernel filters the events by type for
// this socket (6.6 and later), rather than the client.
func (c *Conn) KernelFilter() bool { return c.kernelFilter }

// Stats returns the counts so far.
func (c *Conn) Stats() Stats {
	s := c.stats
	s.GapsTracked = c.trackGaps
	s.Events = make(map[What]uint64, len(c.stats.Events))
	for k, v := range c.stats.Events {
		s.Events[k] = v
	}
	return s
}

// EncodeOp is the 4-byte request every kernel takes.
func EncodeOp(op Op) []byte {
	return binary.NativeEndian.AppendUint32(nil, uint32(op))
}

// EncodeInput is struct proc_input, the request of 6.6 and later.
func EncodeInput(op Op, events What) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(op))
	return binary.NativeEndian.AppendUint32(b, uint32(events))
}

// Subscribe asks for events of the given types (0 is All). With All it
// sends the 4-byte LISTEN every kernel takes. With fewer types it sends a
// struct proc_input for All and, right behind it, the 4-byte LISTEN: a
// kernel that acks the first filters, and the filter is then set with a
// second proc_input (whose ack the filter itself keeps from this socket); a
// kernel that acks only the second (before 6.6) has subscribed the socket
// with it, and the Conn filters. KernelFilter tells which.
func (c *Conn) Subscribe(ctx context.Context, events What) error {
	return c.subscribe(ctx, events, false)
}

// ErrNoKernelFilter is returned by SubscribeFiltered when the kernel did
// not ack a struct proc_input: before 6.6 it takes only the 4-byte op. The
// error is also ErrNoAck, for what the proc_input got.
var ErrNoKernelFilter = errors.New("the kernel does not filter process events by type (struct proc_input came in 6.6)")

// SubscribeFiltered is Subscribe that insists on the kernel's filter: it
// fails with ErrNoKernelFilter, unsubscribed, where Subscribe would filter
// in the client.
func (c *Conn) SubscribeFiltered(ctx context.Context, events What) error {
	return c.subscribe(ctx, events, true)
}

// subscribe is Subscribe, and with strict SubscribeFiltered.
func (c *Conn) subscribe(ctx context.Context, events What, strict bool) error {
	if events == None {
		events = All
	}
	if events&^All != 0 {
		return fmt.Errorf("subscribe: %w: %#x has bits the kernel does not know", ErrUnknownEvent, uint32(events&^All))
	}
	// Until the filter is set, everything arrives.
	c.mask, c.kernelFilter, c.trackGaps = events, false, true
	if events == All && !strict {
		if err := c.request(ctx, EncodeOp(OpListen)); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		c.subscribed = true
		return nil
	}
	// cn_proc answers inside the send (the connector runs its callback
	// in the sender's context), so the proc_input's ack, if the kernel
	// took it, is queued before the 4-byte LISTEN's: no wait for an ack
	// that does not come.
	acks, err := c.requests(ctx, EncodeInput(OpListen, All), EncodeOp(OpListen))
	if err != nil {
		if slices.Contains(acks, true) {
			// The kernel counted the socket: take it back.
			return c.undoListen(fmt.Errorf("subscribe: %w", err))
		}
		return fmt.Errorf("subscribe: %w", err)
	}
	c.subscribed = true
	if !acks[0] {
		if strict {
			// The 4-byte LISTEN counted this socket: take it back.
			if err := c.Unsubscribe(); err != nil {
				return fmt.Errorf("subscribe: %w (and %w)", ErrNoKernelFilter, err)
			}
			return fmt.Errorf("subscribe: %w: %w to a %d-byte request, though the 4-byte one behind it was acked", ErrNoKernelFilter, ErrNoAck, SizeofInput)
		}
		// 6.1 takes only the 4-byte op (cn_proc_mcast_ctl: msg->len
		// != sizeof(*mc_op) returns): the socket is subscribed, and
		// the Conn filters.
		return nil
	}
	if events == All {
		return nil
	}
	if err := c.send(EncodeInput(OpListen, events)); err != nil {
		return c.undoListen(fmt.Errorf("subscribe: set the kernel's filter: %w", err))
	}
	c.kernelFilter, c.trackGaps = true, false
	return nil
}

// undoListen sends IGNORE for a subscription that failed after the kernel
// acked one of its LISTENs, so that the kernel does not go on counting a
// listener nobody closes, and returns err. If the IGNORE cannot be sent,
// Close tries again. It is for that case only: before 6.6 an IGNORE from a
// socket that never listened takes another listener's count away.
func (c *Conn) undoListen(err error) error {
	c.subscribed = true // until the IGNORE is sent: Close tries again
	if uerr := c.Unsubscribe(); uerr != nil {
		return fmt.Errorf("%w; and the IGNORE that takes the listener back failed, so the kernel still counts it: %w", err, uerr)
	}
	return err
}

// Unsubscribe sends PROC_CN_MCAST_IGNORE. It does not wait for the ack:
// 6.12 filters everything, its own ack included, from a socket that sent
// IGNORE, and neither kernel acks when the last listener leaves. On 6.1
// the socket, still in the group, goes on receiving events while others
// listen.
func (c *Conn) Unsubscribe() error {
	if err := c.send(EncodeOp(OpIgnore)); err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	c.subscribed = false
	return nil
}

// Close unsubscribes if subscribed (the kernel counts listeners, and a
// socket closed without IGNORE stays counted) and closes the socket if
// Listen opened it.
func (c *Conn) Close() error {
	var err error
	if c.subscribed {
		err = c.Unsubscribe()
	}
	if c.own {
		if cerr := c.c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (c *Conn) send(data []byte) error {
	_, err := c.sendNonce(data)
	return err
}

// sendNonce sends data with a fresh random seq and ack, and returns the
// ack: the kernel answers with that ack + 1.
func (c *Conn) sendNonce(data []byte) (uint32, error) {
	nonce := rand.Uint32()
	return nonce, c.c.Send(&connector.Message{ID: ID, Seq: nonce, Ack: nonce, Data: data})
}

// request sends data and waits for its ack, which the kernel broadcasts
// with ack = the request's ack + 1; everything else that arrives is kept for
// Receive.
func (c *Conn) request(ctx context.Context, data []byte) error {
	_, err := c.requests(ctx, data)
	return err
}

// requests sends each of reqs, one right after the other, and waits for the
// last one's ack; it reports which of them were acked without an error.
// Only the last one's ack is waited for: the kernel acks inside each send,
// so an earlier request's ack, if any, is queued before the last one's. An
// ack with an error fails the call. When a send fails, the acks of those
// sent before it are still waited for, so that the caller knows whether the
// kernel counted the socket as a listener.
func (c *Conn) requests(ctx context.Context, reqs ...[]byte) ([]bool, error) {
	acked := make([]bool, len(reqs))
	nonces := make([]uint32, 0, len(reqs))
	var sendErr error
	for _, data := range reqs {
		n, err := c.sendNonce(data)
		if err != nil {
			sendErr = err
			break
		}
		nonces = append(nonces, n)
	}
	if len(nonces) == 0 {
		return acked, sendErr
	}
	err := c.await(ctx, nonces, acked, len(reqs[len(nonces)-1]))
	if sendErr != nil {
		return acked, sendErr
	}
	return acked, err
}

// await reads until the ack of the last of nonces arrives, marking in acked
// those that came without an error; everything else that arrives is kept
// for Receive.
func (c *Conn) await(ctx context.Context, nonces []uint32, acked []bool, lastSize int) error {
	actx, cancel := context.WithTimeout(ctx, c.ackTimeout)
	defer cancel()
	c.awaitAcks = make(map[uint32]bool, len(nonces))
	for _, n := range nonces {
		c.awaitAcks[n+1] = true
	}
	defer func() { c.awaitAcks = nil }()
	last := len(nonces) - 1
	for {
		start := len(c.pending)
		err := c.fill(actx)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("%w within %s of a %d-byte request: cn_proc ignores requests from outside the initial user and pid namespaces, and %d-byte ones before 6.6", ErrNoAck, c.ackTimeout, lastSize, SizeofInput)
		}
		if err != nil {
			return err
		}
		for i := start; i < len(c.pending); i++ {
			it := c.pending[i]
			if it.err != nil || it.ev.What != None {
				continue
			}
			r := slices.IndexFunc(nonces, func(n uint32) bool { return it.ev.Ack == n+1 })
			if r < 0 {
				continue
			}
			c.pending = slices.Delete(c.pending, i, i+1)
			i--
			switch it.ev.Err {
			case 0:
				acked[r] = true
			case syscall.EPERM:
				return fmt.Errorf("the process events connector refused it: %w (before 6.6 subscribing needs CAP_NET_ADMIN in the initial user namespace)", it.ev.Err)
			default:
				return fmt.Errorf("the process events connector refused it: %w", it.ev.Err)
			}
			if r == last {
				return nil
			}
		}
	}
}

// fill reads one message from the socket into pending: its event, or the
// error to report in its place, after a gap error if seqs were skipped. It
// returns only the errors that end a wait: the context's, or the socket's.
// Only what port 0, the kernel, sent is decoded.
func (c *Conn) fill(ctx context.Context) error {
	m, src, err := c.c.Receive(ctx)
	switch {
	case errors.Is(err, connector.ErrOverrun):
		c.stats.Overruns++
		c.pending = append(c.pending, item{err: err})
		return nil
	case errors.Is(err, connector.ErrMalformed):
		c.stats.Malformed++
		c.pending = append(c.pending, item{err: fmt.Errorf("%w: %w", ErrMalformed, err)})
		return nil
	case err != nil:
		return err
	case src.PortID != 0:
		// Not from the kernel: neither an event nor an ack, and its
		// seq is not the kernel's.
		c.stats.Forged++
		c.pending = append(c.pending, item{err: &ForgedError{Port: src.PortID, Group: src.Group(), ID: m.ID, Seq: m.Seq, Len: len(m.Data)}})
		return nil
	}
	e, err := Decode(m)
	if err != nil {
		c.stats.Malformed++
		// A type this package does not know, or an event cut short,
		// still took its CPU's seq: when the header names the CPU,
		// the seq is counted, or the next event would look like a gap.
		if m.ID == ID && len(m.Data) >= 8 {
			c.observe(binary.NativeEndian.Uint32(m.Data[4:8]), m.Seq)
		}
		c.pending = append(c.pending, item{err: err})
		return nil
	}
	if e.What == None && c.awaitAcks[e.Ack] {
		// The ack of a subscription starts its seqs afresh: what the
		// kernel sent before, while this socket was unsubscribed or
		// filtered, was not meant for it.
		c.gaps = seqgap.Tracker[uint32]{}
		clear(c.awaitAcks)
	}
	c.observe(e.CPU, e.Seq)
	c.pending = append(c.pending, item{ev: e})
	return nil
}

// observe records a seq of cpu, and queues a *GapError if seqs were
// skipped before it.
func (c *Conn) observe(cpu, seq uint32) {
	if !c.trackGaps {
		return
	}
	if v, r := c.gaps.Observe(cpu, seq); v == seqgap.Gap {
		c.stats.Missed += r.Len()
		c.pending = append(c.pending, item{err: &GapError{CPU: cpu, Seqs: r}})
	}
}

// Wanted reports whether an event passes the filter mask, as the kernel's
// cn_filter decides: every type with All, an exit with a nonzero code with
// NonzeroExit, and the types in the mask.
func Wanted(mask What, e *Event) bool {
	switch {
	case mask == All:
		return true
	case mask&NonzeroExit != 0 && e.What == Exit && e.ExitCode != 0:
		return true
	}
	return mask&e.What != 0
}

// Receive returns the next event of the types subscribed to, waiting until
// ctx is done. Acks are counted, not returned. An error that is ErrOverrun
// (the kernel dropped events for this socket) or ErrGap (a *GapError:
// which CPU's seqs were skipped) or ErrMalformed or ErrForged (a message
// from a sender other than the kernel) is reported in its place in the
// stream, and the Conn stays usable.
func (c *Conn) Receive(ctx context.Context) (Event, error) {
	for {
		if len(c.pending) == 0 {
			if err := c.fill(ctx); err != nil {
				return Event{}, err
			}
			continue
		}
		it := c.pending[0]
		c.pending[0] = item{}
		c.pending = c.pending[1:]
		if it.err != nil {
			return Event{}, it.err
		}
		e := it.ev
		if e.What == None {
			c.stats.Acks++
			continue
		}
		if !Wanted(c.mask, &e) {
			c.stats.Filtered++
			continue
		}
		c.stats.Events[e.What]++
		return e, nil
	}
}
