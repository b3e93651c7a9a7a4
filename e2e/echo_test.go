package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
)

var _ = Describe("The echo callback", Label("echo"), func() {
	var (
		l    *ledger
		conn *connector.Conn
	)

	BeforeEach(func() {
		l = newLedger()
		conn = dial(nil)
	})

	AfterEach(func() {
		l.check()
	})

	// echo sends one request on c and returns its reply.
	echo := func(c *connector.Conn, data []byte) (*connector.Message, connector.Message) {
		GinkgoHelper()
		ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
		defer cancel()
		req := &connector.Message{ID: echoID, Data: data}
		reply, err := c.Request(ctx, req)
		l.sent.Add(1)
		Expect(err).NotTo(HaveOccurred(), "request seq %d", req.Seq)
		l.replies.Add(1)
		return req, reply
	}

	It("replies once, with the request's id, seq and payload and ack = seq + 1", func() {
		req, reply := echo(conn, []byte("hello, connector"))
		Expect(reply.ID).To(Equal(echoID))
		Expect(reply.Seq).To(Equal(req.Seq))
		Expect(reply.Ack).To(Equal(req.Seq + 1))
		Expect(reply.Data).To(Equal(req.Data))
		expectNothingMore(conn)
	})

	It("matches each of 10,000 sequential requests with its own reply", func() {
		data := make([]byte, 8)
		for i := 0; i < 10000; i++ {
			binary.LittleEndian.PutUint64(data, uint64(i))
			req, reply := echo(conn, data)
			if reply.Seq != req.Seq || !bytes.Equal(reply.Data, data) {
				Fail(fmt.Sprintf("request %d (seq %d) got the reply for seq %d", i, req.Seq, reply.Seq))
			}
		}
		expectNothingMore(conn)
	})

	DescribeTable("echoes payloads of every size the connector carries",
		func(size int) {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i * 7)
			}
			_, reply := echo(conn, data)
			Expect(reply.Data).To(Equal(data))
		},
		Entry("0 bytes", 0),
		Entry("1 byte", 1),
		Entry("4096 bytes", 4096),
		Entry("the largest, CONNECTOR_MAX_MSG_SIZE - sizeof(struct cn_msg)", connector.MaxData),
	)

	It("refuses one byte more than the largest payload in the client, sending nothing", func() {
		ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
		defer cancel()
		_, err := conn.Request(ctx, &connector.Message{ID: echoID, Data: make([]byte, connector.MaxData+1)})
		Expect(err).To(MatchError(connector.ErrTooBig))
		Expect(err.Error()).To(ContainSubstring(fmt.Sprint(connector.MaxData)), "the error names the limit")
		// The ledger checks that the module received nothing.
	})

	It("keeps replies apart across 8 sockets used at once", func() {
		const workers, perWorker = 8, 500
		inParallel(workers, func(int) error {
			c, err := connector.Dial(nil)
			if err != nil {
				return err
			}
			defer c.Close()
			watch(c)
			data := make([]byte, 16)
			binary.LittleEndian.PutUint32(data, c.PortID())
			for i := 0; i < perWorker; i++ {
				binary.LittleEndian.PutUint64(data[8:], uint64(i))
				ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
				req := &connector.Message{ID: echoID, Data: data}
				reply, err := c.Request(ctx, req)
				cancel()
				l.sent.Add(1)
				if err != nil {
					return fmt.Errorf("worker on port %d, request %d: %w", c.PortID(), i, err)
				}
				l.replies.Add(1)
				if !bytes.Equal(reply.Data, data) {
					return fmt.Errorf("worker on port %d, request %d: got another request's payload %x", c.PortID(), i, reply.Data)
				}
			}
			return nil
		})
	})

	It("does not answer a message whose len disagrees with what arrived, and counts it invalid", func() {
		bad := connector.Message{ID: echoID, Seq: 99, Data: make([]byte, 8)}
		b, err := bad.MarshalBinary()
		Expect(err).NotTo(HaveOccurred())
		binary.NativeEndian.PutUint16(b[16:18], 1) // len says 1 byte; 8 follow
		Expect(conn.SendRaw(b)).To(Succeed())
		l.invalid.Add(1)
		// The callback runs inside send(2): had it answered, the answer
		// would be queued ahead of this request's reply.
		echo(conn, []byte("after"))
		expectNothingMore(conn)
	})
})

// expectNothingMore checks that no message is left for c: no duplicate or
// stray reply. The echo callback replies inside send(2), so anything it sent
// is already queued.
func expectNothingMore(c *connector.Conn) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	m, _, err := c.Receive(ctx)
	Expect(err).To(MatchError(context.DeadlineExceeded), "found an unexpected message: %+v", m)
}
