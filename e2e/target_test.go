package e2e

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/target"
	"github.com/cnlab/cnlab/userspace/wire"
)

// The generic suite: the specs labelled target, run against a connector
// module of someone else's, named by a target file (docs/targets.md), and
// each held to what the file promises. cnlab-vm -target loads that module
// instead of cnlab's and runs only these specs; the kernel's verdict
// (KASAN, lockdep, sleeping in atomic context, an oops after an unload) and
// kmemleak's after the unload are the runner's, from the console.
//
// What is not here yet: the probes' account of every reply (the witness
// reads cnlab's idx only), and the author's own specs beside these.

const targetLabel = "target"

var (
	targetFlag = flag.String("cnlab.target", "", "a target file (docs/targets.md): run the specs labelled target against its module, which is loaded instead of cnlab's")
	// tgt is the target the suite tests, read by loadTarget.
	tgt *target.Target
)

// suiteFilter narrows a label filter to one suite: the generic suite's
// specs when a target is tested (its module is loaded instead of cnlab's,
// so cnlab's own specs cannot pass), else cnlab's own.
func suiteFilter(filter string, target bool) string {
	only := "!" + targetLabel
	if target {
		only = targetLabel
	}
	if filter == "" {
		return only
	}
	return only + " && (" + filter + ")"
}

// loadTarget reads the target file and checks that its module's ids have
// callbacks: the suite's set-up when a target's module is loaded instead
// of cnlab's.
func loadTarget() {
	f, err := os.Open(*targetFlag)
	Expect(err).NotTo(HaveOccurred(), "-cnlab.target")
	defer f.Close()
	tgt, err = target.Parse(*targetFlag, f)
	Expect(err).NotTo(HaveOccurred(), "-cnlab.target")
	expectRegistered()
}

// needTarget fails a spec of the generic suite run without a target.
func needTarget() {
	GinkgoHelper()
	if tgt == nil {
		Fail("the specs labelled target test a target's module: pass -cnlab.target (cnlab-vm -target FILE)")
	}
}

// dialTarget opens a connection that is closed when the spec ends; the
// witness (which accounts for cnlab's ids) does not watch it.
func dialTarget() *connector.Conn {
	GinkgoHelper()
	c, err := connector.Dial(nil)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	return c
}

// expectRegistered checks that every id of the target has a callback.
func expectRegistered() {
	GinkgoHelper()
	b, err := os.ReadFile("/proc/net/connector")
	Expect(err).NotTo(HaveOccurred())
	for _, id := range tgt.IDs {
		Expect(string(b)).To(MatchRegexp(fmt.Sprintf(`(?m)\s%d:%d$`, id.Idx, id.Val)),
			"no callback on %s (%d:%d) in /proc/net/connector:\n%s", id, id.Idx, id.Val, b)
	}
}

// targetLengths are the data lengths the malformed-input specs send: every
// one up to 64, then each power of two, one less and one more, up to the
// largest the connector carries.
func targetLengths() []int {
	var ns []int
	for n := 0; n <= 64; n++ {
		ns = append(ns, n)
	}
	for p := 128; p <= connector.MaxData; p *= 2 {
		for _, n := range []int{p - 1, p, p + 1} {
			if n <= connector.MaxData && n > ns[len(ns)-1] {
				ns = append(ns, n)
			}
		}
	}
	if ns[len(ns)-1] != connector.MaxData {
		ns = append(ns, connector.MaxData)
	}
	return ns
}

// randomData is n bytes of the spec's random input.
func randomData(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// targetRand is a source of random input seeded with the suite's seed, so
// that a failure replays with -seed.
func targetRand() *rand.Rand {
	return rand.New(rand.NewPCG(uint64(GinkgoRandomSeed()), 28))
}

// expectSeqAckReply sends one request to a target that promises reply =
// seqack, and checks that a reply with its seq and ack = seq + 1 comes
// back.
func expectSeqAckReply(c *connector.Conn, m *connector.Message) {
	GinkgoHelper()
	r, err := c.Request(timeout(replyTimeout), m)
	Expect(err).NotTo(HaveOccurred(), "no reply from %s to a message of %d bytes", m.ID, len(m.Data))
	Expect(r.IsReplyTo(m.ID, m.Seq)).To(BeTrue(), "the reply to seq %d: %+v", m.Seq, r)
}

// rawHeader is struct cn_msg with a len of the spec's choosing.
func rawHeader(id connector.ID, seq uint32, length uint16) []byte {
	b := binary.NativeEndian.AppendUint32(nil, id.Idx)
	b = binary.NativeEndian.AppendUint32(b, id.Val)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // ack
	b = binary.NativeEndian.AppendUint16(b, length)
	return binary.NativeEndian.AppendUint16(b, 0) // flags
}

var _ = Describe("A target's module", Label(targetLabel), func() {
	BeforeEach(needTarget)
	// Whatever a spec did, the module must still serve its ids.
	AfterEach(func() {
		if tgt != nil {
			expectRegistered()
		}
	})

	Context("given malformed input", Label("malformed"), func() {
		It("answers every length from 0 to the largest the connector carries as it promised", func() {
			r := targetRand()
			c := dialTarget()
			for _, id := range tgt.IDs {
				for _, n := range targetLengths() {
					m := &connector.Message{ID: id, Seq: r.Uint32(), Data: randomData(r, n)}
					if tgt.Promises.Reply == target.ReplySeqAck {
						expectSeqAckReply(c, m)
						continue
					}
					Expect(c.Send(m)).To(Succeed(), "send %d bytes to %s", n, id)
				}
			}
			if tgt.Promises.Reply == target.ReplyNone {
				// Once for them all, not a quiet wait per message.
				msgs, _ := receiveAll(c)
				Expect(msgs).To(BeEmpty(), "messages back from a module that promises no reply")
			}
		})

		// An over-read past len is not seen here (the bytes past len did
		// arrive): only KASAN or an oops on the console shows it.
		It("answers as it promised when msg->len is smaller than the data that arrived", func() {
			r := targetRand()
			c := dialTarget()
			for _, id := range tgt.IDs {
				for _, n := range []int{1, 2, 7, 64, 1000} {
					for _, claimed := range []int{0, n / 2, n - 1} {
						// msg->len smaller than the data that follows it:
						// the core passes it on; the callback must use len.
						seq := r.Uint32()
						b := append(rawHeader(id, seq, uint16(claimed)), randomData(r, n)...)
						Expect(c.SendRaw(b)).To(Succeed())
						if tgt.Promises.Reply == target.ReplySeqAck {
							m, _, err := c.Receive(timeout(replyTimeout))
							Expect(err).NotTo(HaveOccurred(), "no reply to seq %d (len %d, %d bytes after the header)", seq, claimed, n)
							Expect(m.IsReplyTo(id, seq)).To(BeTrue(), "the reply to seq %d: %+v", seq, m)
						}
					}
				}
			}
			if tgt.Promises.Reply == target.ReplyNone {
				msgs, _ := receiveAll(c)
				Expect(msgs).To(BeEmpty(), "messages back from a module that promises no reply")
			}
		})

		// A check of the core, not of the module: the core drops these
		// before any callback (for a target that promises no reply it
		// cannot fail).
		It("is shielded by the core from a len larger than what arrived and from truncated headers", Label("core"), func() {
			r := targetRand()
			c := dialTarget()
			for _, id := range tgt.IDs {
				// The core drops both: nothing may come back.
				for _, n := range []int{0, 1, 16} {
					Expect(c.SendRaw(append(rawHeader(id, r.Uint32(), uint16(n+1)), randomData(r, n)...))).To(Succeed())
				}
				hdr := rawHeader(id, r.Uint32(), 0)
				for cut := 0; cut < len(hdr); cut++ {
					Expect(c.SendRaw(hdr[:cut])).To(Succeed())
				}
			}
			// A netlink header whose nlmsg_len says more than the datagram.
			nl := binary.NativeEndian.AppendUint32(nil, uint32(wire.NlmsgHdrLen+wire.SizeofCnMsg+64))
			nl = binary.NativeEndian.AppendUint16(nl, unix.NLMSG_DONE)
			nl = append(nl, make([]byte, 10)...)
			nl = append(nl, rawHeader(tgt.IDs[0], 1, 64)...)
			Expect(c.WriteRaw(nl)).To(Succeed())
			msgs, _ := receiveAll(c)
			Expect(msgs).To(BeEmpty(), "answers to messages the core should have dropped")
		})
	})

	Context("with several senders", Label("replies"), func() {
		It("replies to each message's sender only, once, with seq and ack = seq + 1", func() {
			if tgt.Promises.Reply != target.ReplySeqAck {
				Skip("the target promises no replies (reply = none)")
			}
			const n = 50
			a, b, bystander := dialTarget(), dialTarget(), dialTarget()
			for i := uint32(0); i < n; i++ {
				for _, s := range []struct {
					c   *connector.Conn
					seq uint32
				}{{a, 1000 + i}, {b, 2000 + i}} {
					Expect(s.c.Send(&connector.Message{ID: tgt.IDs[0], Seq: s.seq, Data: []byte("sender")})).To(Succeed())
				}
			}
			for _, s := range []struct {
				name  string
				c     *connector.Conn
				first uint32
			}{{"the first sender", a, 1000}, {"the second sender", b, 2000}} {
				msgs, _ := receiveAll(s.c)
				Expect(msgs).To(HaveLen(n), "replies to %s", s.name)
				for i, m := range msgs {
					seq := s.first + uint32(i)
					Expect(m.IsReplyTo(tgt.IDs[0], seq)).To(BeTrue(), "reply %d to %s: %+v, want seq %d ack %d", i, s.name, m, seq, seq+1)
				}
			}
			msgs, _ := receiveAll(bystander)
			Expect(msgs).To(BeEmpty(), "messages to a socket that sent nothing")
		})

		It("keeps its promise to many senders at once", Label("senders"), func() {
			const senders, each = 8, 200
			inParallel(senders, func(s int) error {
				c, err := connector.Dial(nil)
				if err != nil {
					return err
				}
				defer c.Close()
				for i := range each {
					m := &connector.Message{ID: tgt.IDs[i%len(tgt.IDs)], Data: []byte(fmt.Sprintf("sender %d #%d", s, i))}
					if tgt.Promises.Reply == target.ReplyNone {
						if err := c.Send(m); err != nil {
							return fmt.Errorf("sender %d, message %d: %w", s, i, err)
						}
						continue
					}
					r, err := c.Request(timeout(replyTimeout), m)
					if err == nil && !r.IsReplyTo(m.ID, m.Seq) {
						err = fmt.Errorf("reply %+v to seq %d", r, m.Seq)
					}
					if err != nil {
						return fmt.Errorf("sender %d, message %d: %w", s, i, err)
					}
				}
				if tgt.Promises.Reply == target.ReplyNone {
					// Once for the sender's messages, not a quiet wait per
					// message.
					if msgs, _ := receiveAll(c); len(msgs) > 0 {
						return fmt.Errorf("sender %d: %d messages back from a module that promises no reply, the first %+v", s, len(msgs), msgs[0])
					}
				}
				return nil
			})
		})

		It("serves an unprivileged sender as it promised", Label("senders"), func() {
			out, code := asNobody("send", "-id", tgt.IDs[0].String(), "-s", "8", "-seq", "4242", "-wait", quiet.String(), "-json")
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var m struct {
					Type string `json:"type"`
					Seq  uint32 `json:"seq"`
					Ack  uint32 `json:"ack"`
				}
				if json.Unmarshal([]byte(l), &m) == nil && m.Type == "message" {
					got = append(got, fmt.Sprintf("seq %d ack %d", m.Seq, m.Ack))
				}
			}
			switch {
			case tgt.Promises.Reply == target.ReplySeqAck && tgt.Promises.Senders == target.SendersAnyone:
				Expect(code).To(BeZero(), out)
				Expect(got).To(Equal([]string{"seq 4242 ack 4243"}), "what an unprivileged sender got back:\n%s", out)
			default:
				// Root only, or no replies: nothing comes back.
				Expect(got).To(BeEmpty(), "what an unprivileged sender got back:\n%s", out)
			}
		})
	})

	Context("unloaded and loaded again under traffic", Label("unload"), func() {
		It("goes and comes back while messages to its ids keep coming", func() {
			if !tgt.Promises.UnloadUnderTraffic {
				Skip("the target does not promise to be unloaded under traffic (unload-under-traffic = no)")
			}
			const cycles = 10
			// Traffic to each id: a sender, and a receiver that drains its
			// socket, so that replies never fill it (a callback that
			// replies with GFP_KERNEL would wait for room inside the
			// send), until the spec ends.
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			sending := make([]chan struct{}, len(tgt.IDs))
			for i, id := range tgt.IDs {
				c := dialTarget()
				sending[i] = make(chan struct{})
				wg.Add(2)
				go func() {
					defer wg.Done()
					defer close(sending[i])
					for ctx.Err() == nil {
						// Sends fail while the id has no callback; that is
						// the point.
						_ = c.Send(&connector.Message{ID: id, Data: []byte("traffic")})
					}
				}()
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						_, _, _ = c.Receive(ctx)
					}
				}()
			}
			DeferCleanup(func() {
				stop()
				done := make(chan struct{})
				go func() {
					wg.Wait()
					close(done)
				}()
				select {
				case <-done:
				case <-time.After(unloadStopWait):
					var stuck []string
					for i, id := range tgt.IDs {
						select {
						case <-sending[i]:
						default:
							stuck = append(stuck, id.String())
						}
					}
					Fail(fmt.Sprintf("a send to %s stayed blocked in the module's callback %v after the traffic stopped, though its socket was read all along: "+
						"the callback waits on something that does not come; if it is a reply, it blocks on a sender that does not read (a GFP_KERNEL reply waits for room in the sender's receive buffer): "+
						"send replies with GFP_ATOMIC or GFP_NOWAIT, as samples/connector/cn_test.c does", strings.Join(stuck, ", "), unloadStopWait))
				}
				// A spec that failed between an unload and a load leaves
				// the module loaded for the specs after it.
				if _, err := os.Stat("/sys/module/" + tgt.KernelName()); err != nil {
					loadTargetModule()
				}
			})
			for range cycles {
				unloadTarget()
				// Long enough for what it left armed to fire.
				time.Sleep(time.Second)
				loadTargetModule()
			}
		})
	})
})

// unloadStopWait bounds the wait for the unload spec's traffic to stop: a
// send returns once the module's callback has, within milliseconds.
const unloadStopWait = 10 * time.Second

// unloadTarget unloads the target's module; one that will not go within
// 10 s fails the spec.
func unloadTarget() {
	GinkgoHelper()
	start := time.Now()
	for {
		err := unix.DeleteModule(tgt.KernelName(), unix.O_NONBLOCK)
		if err == nil {
			return
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EBUSY) || time.Since(start) > 10*time.Second {
			Fail(fmt.Sprintf("unload %s: %v after %v", tgt.KernelName(), err, time.Since(start)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// loadTargetModule loads the target's module as the runner did, from where
// it put it in the guest, with the target's parameters.
func loadTargetModule() {
	GinkgoHelper()
	f, err := os.Open(tgt.GuestModule())
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	Expect(unix.FinitModule(int(f.Fd()), tgt.ParamString(), 0)).To(Succeed(), "load %s %s", tgt.GuestModule(), tgt.ParamString())
	expectRegistered()
}
