package control

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/cnlab/cnlab/userspace/wire"
)

// The module's control messages as bytes, both ways: a request (struct
// cnlab_ctl_req, then the operation's arguments), its reply (struct
// cnlab_ctl_reply, then the operation's result), a broadcast and a
// notification; wire structs in the host's byte order, as the module reads
// and writes them. The Client, the Model and the fake module (controltest)
// all encode and decode here.

// Request is one control request: struct cnlab_ctl_req, then the
// operation's arguments.
type Request struct {
	Op       uint32
	Reserved uint32
	Args     []byte
}

// NewRequest returns the request for op with args (a wire struct, or
// nothing), and reserved 0.
func NewRequest(op uint32, args ...any) Request {
	r := Request{Op: op}
	for _, a := range args {
		r.Args = append(r.Args, encode(a)...)
	}
	return r
}

// Data returns the request as the control id gets it.
func (r Request) Data() []byte {
	b := make([]byte, 0, wire.SizeofCtlReq+len(r.Args))
	b = binary.NativeEndian.AppendUint32(b, r.Op)
	b = binary.NativeEndian.AppendUint32(b, r.Reserved)
	return append(b, r.Args...)
}

// ParseRequest decodes a request; false if data is shorter than struct
// cnlab_ctl_req, which the module counts invalid and does not answer.
func ParseRequest(data []byte) (Request, bool) {
	if len(data) < wire.SizeofCtlReq {
		return Request{}, false
	}
	return Request{
		Op:       binary.NativeEndian.Uint32(data),
		Reserved: binary.NativeEndian.Uint32(data[4:]),
		Args:     data[wire.SizeofCtlReq:],
	}, true
}

// DecodeArgs decodes r's arguments into v, a pointer to the wire struct
// of r's operation; an error if they are not its size.
func (r Request) DecodeArgs(v any) error { return decode(r.Args, v) }

// Reply is the control id's answer to one request: struct
// cnlab_ctl_reply, then the operation's result when it succeeded.
type Reply struct {
	Op uint32
	// Status is 0 for success, else a negative errno.
	Status int32
	Result []byte
}

// NewReply returns the reply to op with status errno (0 for success) and
// result (a wire struct, or nothing).
func NewReply(op uint32, errno syscall.Errno, result ...any) Reply {
	r := Reply{Op: op, Status: -int32(errno)}
	for _, v := range result {
		r.Result = append(r.Result, encode(v)...)
	}
	return r
}

// Data returns the reply as the control id sends it.
func (r Reply) Data() []byte {
	b := make([]byte, 0, wire.SizeofCtlReply+len(r.Result))
	b = binary.NativeEndian.AppendUint32(b, r.Op)
	b = binary.NativeEndian.AppendUint32(b, uint32(r.Status))
	return append(b, r.Result...)
}

// ParseReply decodes a reply; false if data is shorter than struct
// cnlab_ctl_reply.
func ParseReply(data []byte) (Reply, bool) {
	if len(data) < wire.SizeofCtlReply {
		return Reply{}, false
	}
	return Reply{
		Op:     binary.NativeEndian.Uint32(data),
		Status: int32(binary.NativeEndian.Uint32(data[4:])),
		Result: data[wire.SizeofCtlReply:],
	}, true
}

// Errno returns r's status as an errno, 0 for success.
func (r Reply) Errno() syscall.Errno { return syscall.Errno(-r.Status) }

// DecodeResult decodes r's result into v, a pointer to the wire struct of
// r's operation's result; an error if it is not its size.
func (r Reply) DecodeResult(v any) error { return decode(r.Result, v) }

// ParseBcast decodes the start of a burst's or the timer's message.
func ParseBcast(data []byte) (wire.Bcast, error) {
	var b wire.Bcast
	if len(data) < wire.SizeofBcast {
		return b, fmt.Errorf("broadcast of %d bytes, shorter than struct cnlab_bcast", len(data))
	}
	return b, decode(data[:wire.SizeofBcast], &b)
}

// ParseNotify decodes a notification.
func ParseNotify(data []byte) (wire.Notify, error) {
	var n wire.Notify
	if len(data) != wire.SizeofNotify {
		return n, fmt.Errorf("notification of %d bytes, want struct cnlab_notify's %d", len(data), wire.SizeofNotify)
	}
	return n, decode(data, &n)
}

// BcastData returns the data of a burst's or the timer's message of size
// bytes, as the module sends it: b, then zeros. ParseBcast reads it back.
func BcastData(b wire.Bcast, size int) []byte {
	data := make([]byte, size)
	copy(data, encode(&b))
	return data
}

func encode(v any) []byte {
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.NativeEndian, v)
	return buf.Bytes()
}

func decode(b []byte, v any) error {
	if len(b) != binary.Size(v) {
		return fmt.Errorf("%d bytes, want %d", len(b), binary.Size(v))
	}
	return binary.Read(bytes.NewReader(b), binary.NativeEndian, v)
}
