package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

var (
	fuzzSeed  = flag.Uint64("cnlab.fuzz-seed", 0, "seed of the fuzz specs (0: from the clock; a failure prints the seed to replay)")
	fuzzCount = flag.Int("cnlab.fuzz-count", 20000, "messages the fuzz spec sends (the long mode: 1000000)")
	fuzzCtl   = flag.Int("cnlab.fuzz-ctl", 400, "control operations the control fuzz spec sends")
)

// What the kernel and the module must do with a fuzzed message.
type fuzzKind int

const (
	fuzzValid   fuzzKind = iota // well formed, to the echo id: one reply
	fuzzInvalid                 // passes the core, but cn_msg.len is short of the data: counted invalid, no reply
	fuzzDropped                 // malformed so that the core drops it: nothing
	fuzzNobody                  // well formed, to an id nobody registered: nothing
	fuzzKinds
)

var fuzzKindNames = [...]string{"valid", "invalid (len short of the data)", "dropped by the core", "to an unregistered id"}

// datagram builds one netlink datagram around a cn_msg header and data.
// nlLen is the netlink length to write; cnLen the cn_msg len.
func datagram(nlLen uint32, id connector.ID, seq uint32, cnLen uint16, data []byte, portid uint32) []byte {
	b := make([]byte, 16+20+len(data))
	binary.NativeEndian.PutUint32(b[0:], nlLen)
	binary.NativeEndian.PutUint16(b[4:], 3) // NLMSG_DONE
	binary.NativeEndian.PutUint32(b[8:], seq)
	binary.NativeEndian.PutUint32(b[12:], portid)
	binary.NativeEndian.PutUint32(b[16:], id.Idx)
	binary.NativeEndian.PutUint32(b[20:], id.Val)
	binary.NativeEndian.PutUint32(b[24:], seq)
	binary.NativeEndian.PutUint16(b[32:], cnLen)
	copy(b[36:], data)
	return b
}

// fuzzMessage makes a random message of a random kind.
func fuzzMessage(r *rand.Rand, seq, portid uint32) (fuzzKind, []byte) {
	kind := fuzzKind(r.IntN(int(fuzzKinds)))
	size := r.IntN(300)
	switch r.IntN(20) {
	case 0:
		size = 0
	case 1:
		size = connector.MaxData
	case 2:
		size = r.IntN(connector.MaxData + 1)
	}
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	exact := uint32(16 + 20 + size)
	nl := exact
	if r.IntN(2) == 0 {
		nl = (exact + 3) &^ 3 // padded, as ucon.c writes it
		data = append(data, make([]byte, nl-exact)...)
	}
	switch kind {
	case fuzzValid:
		return kind, datagram(nl, echoID, seq, uint16(size), data, portid)
	case fuzzNobody:
		id := connector.ID{Idx: 100 + r.Uint32N(1000), Val: r.Uint32()}
		return kind, datagram(nl, id, seq, uint16(size), data, portid)
	case fuzzInvalid:
		if size < 4 {
			data = append(data, 1, 2, 3, 4)
			size += 4
			exact += 4
		}
		// At least 4 bytes short: more than netlink's padding.
		return kind, datagram(exact, echoID, seq, uint16(r.IntN(size-3)), data[:size], portid)
	}
	// Dropped: one of the ways the core refuses a message.
	switch r.IntN(5) {
	case 0: // cn_msg.len claims more than arrived
		return kind, datagram(exact, echoID, seq, uint16(size+1+r.IntN(100)), data[:size], portid)
	case 1: // the netlink length claims more than arrived
		return kind, datagram(exact+1+uint32(r.IntN(100)), echoID, seq, uint16(size), data[:size], portid)
	case 2: // the netlink length leaves no room for a cn_msg
		return kind, datagram(uint32(r.IntN(36)), echoID, seq, uint16(size), data[:size], portid)
	case 3: // shorter than a netlink header
		return kind, datagram(exact, echoID, seq, 0, nil, portid)[:r.IntN(16)]
	default: // more than CONNECTOR_MAX_MSG_SIZE
		big := make([]byte, connector.MaxData+1+r.IntN(64))
		return kind, datagram(uint32(36+len(big)), echoID, seq, uint16(len(big)), big, portid)
	}
}

var _ = Describe("Fuzzed input", Label("fuzz"), func() {
	var l *ledger
	withLedger(&l)

	seed := func() uint64 {
		s := *fuzzSeed
		if s == 0 {
			s = uint64(time.Now().UnixNano())
		}
		AddReportEntry("seed", s)
		GinkgoWriter.Printf("fuzz seed %d: replay with -suite-args=-cnlab.fuzz-seed=%d\n", s, s)
		return s
	}

	It("survives malformed and random messages from many sockets, answers exactly the valid ones, and counts the invalid", func() {
		s := seed()
		const workers = 4
		var counts [fuzzKinds]uint64
		refused := map[string]int{}
		var mu sync.Mutex
		inParallel(workers, func(w int) error {
			r := rand.New(rand.NewPCG(s, uint64(w)))
			c := dial(nil)
			var local [fuzzKinds]uint64
			n := *fuzzCount / workers
			// Each worker's seqs cross a quarter of the seq space:
			// the wrap from 2^32-1 to 0, 2^30, 2^31 (the sign bit)
			// and 3*2^30.
			first := uint32(w)<<30 - uint32(n/2)
			for i := 0; i < n; i++ {
				seq := first + uint32(i)
				kind, b := fuzzMessage(r, seq, c.PortID())
				if err := c.WriteRaw(b); err != nil {
					if kind == fuzzValid {
						return fmt.Errorf("seed %d worker %d message %d: a valid message refused: %w", s, w, i, err)
					}
					// netlink_sendmsg refuses some malformed
					// datagrams itself (a zero length is ENODATA).
					mu.Lock()
					refused[err.Error()]++
					mu.Unlock()
					continue
				}
				local[kind]++
				if kind != fuzzValid {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
				m, _, err := c.Receive(ctx)
				cancel()
				if err != nil || m.Seq != seq || m.Ack != seq+1 || !bytes.Equal(m.Data, b[36:36+int(binary.NativeEndian.Uint16(b[32:]))]) {
					return fmt.Errorf("seed %d worker %d message %d (seq %d): want its echo, got %+v, %v", s, w, i, seq, m, err)
				}
			}
			mu.Lock()
			for k := range counts {
				counts[k] += local[k]
			}
			mu.Unlock()
			return nil
		})
		for k, n := range counts {
			GinkgoWriter.Printf("%s: %d\n", fuzzKindNames[k], n)
		}
		for e, n := range refused {
			GinkgoWriter.Printf("refused by send(2) with %q: %d\n", e, n)
		}
		AddReportEntry("messages", fmt.Sprintf("%v, refused by send(2): %v", counts, refused))
		l.sent.Add(counts[fuzzValid])
		l.replies.Add(counts[fuzzValid])
		l.invalid.Add(counts[fuzzInvalid])

		// Still echoes.
		reply, err := dial(nil).Request(timeout(replyTimeout), &connector.Message{ID: echoID, Data: []byte("after the fuzz")})
		l.sent.Add(1)
		Expect(err).NotTo(HaveOccurred(), "the echo after the fuzz (seed %d)", s)
		l.replies.Add(1)
		Expect(string(reply.Data)).To(Equal("after the fuzz"))
	})

	It("survives random control operations with random arguments, each answered with the status it must have", func() {
		s := seed()
		r := rand.New(rand.NewPCG(s, 99))
		c := ctl()
		m := control.NewModel(echoID, ctlID)
		DeferCleanup(func() {
			// Undo what the random operations may have started.
			Expect(c.SetEchoMode(timeout(replyTimeout), control.EchoNormal, 0, 0)).To(Succeed())
			Expect(c.TimerStop(timeout(replyTimeout))).To(Succeed())
			for _, id := range m.Registered() {
				err := c.Unregister(timeout(replyTimeout), id)
				if err != nil {
					Expect(err).To(MatchError(syscall.ENOENT))
				}
			}
		})
		statuses := map[string]int{}
		invalidBefore := stats().CtlInvalid
		var invalid uint64
		// Every bound first, on both sides; then random operations.
		fixed := ctlBounds()
		for i := 0; i < len(fixed)+*fuzzCtl; i++ {
			var op uint32
			var args []byte
			if i < len(fixed) {
				op, args = fixed[i].op, fixed[i].args
			} else {
				op, args = generateCtl(r, m)
			}
			req := control.Request{Op: op, Args: args}.Data()
			verdict := m.Answer(req, true)
			want := verdict.Status
			if verdict.Invalid {
				invalid++
			}
			what := fmt.Sprintf("seed %d: control request %d (op %d, %d bytes of arguments %x)", s, i, op, len(args), args)
			reply, err := c.Conn.Request(timeout(replyTimeout), &connector.Message{ID: ctlID, Data: req})
			Expect(err).NotTo(HaveOccurred(), "%s got no answer", what)
			Expect(reply.ID).To(Equal(ctlID), what)
			parsed, ok := control.ParseReply(reply.Data)
			Expect(ok).To(BeTrue(), "%s: a reply of %d bytes, shorter than struct cnlab_ctl_reply", what, len(reply.Data))
			Expect(parsed.Op).To(Equal(op), "%s: the reply's op", what)
			status := parsed.Errno()
			Expect(int(status)).To(Equal(int(want)), "%s: the reply's status: %s, want %s", what, errnoName(status), errnoName(want))
			statuses[fmt.Sprintf("op %d: %v", op, status)]++
			result := parsed.Result
			switch {
			case status != 0:
				Expect(result).To(BeEmpty(), "%s: a result with a refusal", what)
			case op == wire.OpGetStats:
				Expect(result).To(HaveLen(wire.SizeofStats), what)
			case op == wire.OpBurst:
				Expect(result).To(HaveLen(sizeofBurstResult), what)
				count := binary.NativeEndian.Uint32(args[8:])
				Expect(binary.NativeEndian.Uint32(result[4:])).To(Equal(count), "%s: the burst's count", what)
				ok, failed := binary.NativeEndian.Uint32(result[8:]), binary.NativeEndian.Uint32(result[12:])
				Expect(ok+failed).To(Equal(count), "%s: ok + failed", what)
				if binary.NativeEndian.Uint32(args[0:]) == 0 {
					// A unicast burst to a random port: its failures are expected.
					l.unicastLost.Add(uint64(failed))
				}
			default:
				Expect(result).To(BeEmpty(), what)
			}
		}
		for k, n := range statuses {
			GinkgoWriter.Printf("%s: %d\n", k, n)
		}
		AddReportEntry("statuses", fmt.Sprint(statuses))
		Expect(stats().CtlInvalid-invalidBefore).To(Equal(invalid), "requests counted invalid vs. those of an unknown op or whose arguments had the wrong size")
		// Undone here too, not only in cleanup, which runs after the
		// ledger's check: that check wants the module quiet.
		Expect(c.SetEchoMode(timeout(replyTimeout), control.EchoNormal, 0, 0)).To(Succeed())
		Expect(c.TimerStop(timeout(replyTimeout))).To(Succeed())
		// Control messages too short for a request are counted, not answered.
		before := stats().CtlInvalid
		Expect(c.Conn.Send(&connector.Message{ID: ctlID, Data: []byte{1, 2, 3}})).To(Succeed())
		msgs, _ := receiveAll(c.Conn)
		Expect(msgs).To(BeEmpty(), "answers to a control message too short for a request")
		Expect(stats().CtlInvalid - before).To(Equal(uint64(1)))
	})
})

// errnoName names a status: "success" or the errno's text.
func errnoName(e syscall.Errno) string {
	if e == 0 {
		return "success"
	}
	return fmt.Sprintf("-%d (%v)", int(e), e)
}

// The sizes of the operations' arguments and results (cnlab_wire.h).
var (
	sizeofBurst       = binary.Size(wire.Burst{})
	sizeofTimer       = binary.Size(wire.Timer{})
	sizeofIDArg       = binary.Size(wire.IDArg{})
	sizeofEchoMode    = binary.Size(wire.EchoMode{})
	sizeofBurstResult = binary.Size(wire.BurstResult{})
)

// generateCtl makes a random operation: any op from 0 to 9, arguments of a
// random size or, half the time, of the op's own size, with fields near
// their bounds often enough to land on both sides of them.
func generateCtl(r *rand.Rand, m *control.Model) (uint32, []byte) {
	op := r.Uint32N(10)
	n, ok := control.ArgsSize(op)
	if !ok || r.IntN(2) == 0 {
		n = r.IntN(33)
	}
	args := make([]byte, n)
	for j := range args {
		args[j] = byte(r.Uint32())
	}
	put := func(off int, v uint32) {
		if r.IntN(4) != 0 { // else keep the random word
			binary.NativeEndian.PutUint32(args[off:], v)
		}
	}
	switch {
	case op == wire.OpBurst && n == sizeofBurst:
		put(0, group(r))                                       // group
		put(4, r.Uint32N(2)*r.Uint32())                        // portid, 0 half the time
		binary.NativeEndian.PutUint32(args[8:], r.Uint32N(64)) // count
		sizes := []uint32{wire.SizeofBcast - 1, wire.SizeofBcast, wire.MaxData, wire.MaxData + 1, r.Uint32N(wire.MaxData + 2)}
		binary.NativeEndian.PutUint32(args[12:], sizes[r.IntN(len(sizes))]) // size, on both sides of its bounds
	case op == wire.OpTimerStart && n == sizeofTimer:
		put(0, group(r))                                           // group
		binary.NativeEndian.PutUint32(args[4:], 1+r.Uint32N(1000)) // period
	case (op == wire.OpRegister || op == wire.OpUnregister) && n == sizeofIDArg:
		switch r.IntN(4) {
		case 0: // one the model holds: EEXIST, or unregistered
			if ids := m.Registered(); len(ids) > 0 {
				id := ids[r.IntN(len(ids))]
				binary.NativeEndian.PutUint32(args[0:], id.Idx)
				binary.NativeEndian.PutUint32(args[4:], id.Val)
			}
		case 1: // cnlab's own ids
			id := echoID
			if r.IntN(2) == 0 {
				id = ctlID
			}
			binary.NativeEndian.PutUint32(args[0:], id.Idx)
			binary.NativeEndian.PutUint32(args[4:], id.Val)
		}
	case op == wire.OpEchoMode && n == sizeofEchoMode:
		put(0, []uint32{wire.EchoNone, wire.EchoNone + 1, r.Uint32N(wire.EchoNone + 2)}[r.IntN(3)])               // mode
		put(4, []uint32{wire.MaxCount, wire.MaxCount + 1, r.Uint32N(wire.MaxCount + 2)}[r.IntN(3)])               // count
		put(8, []uint32{wire.MaxDelay, wire.MaxDelay + 1, r.Uint32N(wire.MaxDelay + wire.MaxDelay/6)}[r.IntN(3)]) // delay
		put(12, r.Uint32N(2))                                                                                     // reserved, which must be 0
	}
	return op, args
}

type ctlOp struct {
	op   uint32
	args []byte
}

// ctlBounds are operations with each argument on either side of each of
// its bounds, and arguments one byte short and one long.
func ctlBounds() []ctlOp {
	var out []ctlOp
	add := func(op uint32, words ...uint32) {
		var args []byte
		for _, w := range words {
			args = binary.NativeEndian.AppendUint32(args, w)
		}
		out = append(out, ctlOp{op, args})
	}
	for _, op := range []uint32{0, 8, 9, 0xffffffff} {
		add(op)
	}
	for op := uint32(wire.OpGetStats); op <= wire.OpEchoMode; op++ {
		n, _ := control.ArgsSize(op)
		out = append(out, ctlOp{op, make([]byte, n+1)})
		if n > 0 {
			out = append(out, ctlOp{op, make([]byte, n-1)})
		}
	}
	const port = 0x7fffffff // nobody's: the unicasts fail
	for _, g := range []uint32{0, 1, wire.Groups, wire.Groups + 1} {
		add(wire.OpBurst, g, port, 1, wire.SizeofBcast)
		add(wire.OpTimerStart, g, 100)
	}
	add(wire.OpBurst, 0, 0, 1, wire.SizeofBcast) // neither group nor port
	for _, size := range []uint32{wire.SizeofBcast - 1, wire.SizeofBcast, wire.MaxData, wire.MaxData + 1} {
		add(wire.OpBurst, 0, port, 1, size)
	}
	for _, period := range []uint32{0, 1, wire.MaxPeriod, wire.MaxPeriod + 1} {
		add(wire.OpTimerStart, 1, period)
	}
	add(wire.OpTimerStop)
	for _, id := range []connector.ID{echoID, ctlID} {
		add(wire.OpRegister, id.Idx, id.Val)
		add(wire.OpUnregister, id.Idx, id.Val)
	}
	for _, mode := range []uint32{wire.EchoNone, wire.EchoNone + 1} {
		add(wire.OpEchoMode, mode, 0, 0, 0)
	}
	for _, delay := range []uint32{wire.MaxDelay, wire.MaxDelay + 1} {
		add(wire.OpEchoMode, wire.EchoDelay, 0, delay, 0)
	}
	for _, count := range []uint32{wire.MaxCount, wire.MaxCount + 1} {
		add(wire.OpEchoMode, wire.EchoNone, count, 0, 0)
	}
	add(wire.OpEchoMode, wire.EchoNone, 0, 0, 1) // reserved, which must be 0
	return out
}

// group picks a group on either side of a bound half the time, any from 0
// to one past the last otherwise.
func group(r *rand.Rand) uint32 {
	if r.IntN(2) == 0 {
		return []uint32{0, 1, wire.Groups, wire.Groups + 1}[r.IntN(4)]
	}
	return r.Uint32N(wire.Groups + 2)
}
