package cntest

import (
	"bytes"
	"encoding/binary"
	"sync"
	"syscall"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/wire"
)

// Module fakes the cnlab module as its control channel shows it: the echo
// id answers, the control id keeps and reports counters, bursts multicast
// through the Kernel, and ids register and unregister. It keeps no timer.
type Module struct {
	k *Kernel

	mu sync.Mutex
	// Stats are the counters the stats operation reports.
	Stats wire.Stats
	// Refuse answers every state-changing operation with EPERM, as the
	// module does for a sender without CAP_NET_ADMIN.
	Refuse bool
	// Silent makes the module answer nothing, as if it were not loaded.
	Silent bool
	// Ops are the control operations received, in order.
	Ops        []uint32
	registered map[connector.ID]bool
	burstSeq   map[uint32]uint32
	timerGroup uint32
}

// LoadModule makes a fake cnlab module k's callback and returns it.
func (k *Kernel) LoadModule() *Module {
	m := &Module{k: k, registered: map[connector.ID]bool{}, burstSeq: map[uint32]uint32{}}
	k.mu.Lock()
	k.fn = m.handle
	k.mu.Unlock()
	return m
}

// TimerGroup is the group the timer was last started on, 0 if stopped.
func (m *Module) TimerGroup() uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.timerGroup
}

var (
	echoID = connector.ID{Idx: wire.Idx, Val: wire.EchoVal}
	ctlID  = connector.ID{Idx: wire.Idx, Val: wire.CtlVal}
)

func (m *Module) handle(from uint32, msg connector.Message) ([]connector.Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Silent {
		return nil, nil
	}
	switch {
	case msg.ID == echoID || m.registered[msg.ID]:
		if msg.ID == echoID {
			m.Stats.Received++
			m.Stats.Replied++
		} else {
			m.Stats.Extra_received++
			m.Stats.Extra[m.slot(msg.ID)].Received++
		}
		m.Stats.Dests[0].Sent++
		m.Stats.Dests[0].Ok++
		return []connector.Message{{ID: msg.ID, Seq: msg.Seq, Ack: msg.Seq + 1, Data: msg.Data}}, nil
	case msg.ID == ctlID:
		m.Stats.Ctl_received++
		if len(msg.Data) < wire.SizeofCtlReq {
			m.Stats.Ctl_invalid++
			return nil, nil
		}
		op := binary.NativeEndian.Uint32(msg.Data)
		m.Ops = append(m.Ops, op)
		status, result := m.control(from, op, msg.Data[wire.SizeofCtlReq:])
		reply := binary.NativeEndian.AppendUint32(nil, op)
		reply = binary.NativeEndian.AppendUint32(reply, uint32(status))
		reply = append(reply, result...)
		return []connector.Message{{ID: msg.ID, Seq: msg.Seq, Ack: msg.Seq + 1, Data: reply}}, nil
	}
	return nil, nil
}

// control runs one operation with m.mu held and returns its status (0 or
// a negative errno) and result.
func (m *Module) control(from uint32, op uint32, args []byte) (int32, []byte) {
	if op != wire.OpGetStats && m.Refuse {
		m.Stats.Ctl_refused++
		return -int32(syscall.EPERM), nil
	}
	switch op {
	case wire.OpGetStats:
		return 0, encode(&m.Stats)
	case wire.OpBurst:
		var b wire.Burst
		if decode(args, &b) != nil || (b.Group == 0) == (b.Portid == 0) || b.Size < wire.SizeofBcast {
			m.Stats.Ctl_invalid++
			return -int32(syscall.EINVAL), nil
		}
		res := wire.BurstResult{Seq: m.burstSeq[b.Group], Count: b.Count}
		for i := uint32(0); i < b.Count; i++ {
			data := make([]byte, b.Size)
			copy(data, encode(&wire.Bcast{Kind: wire.BcastBurst, Group: b.Group}))
			msg := connector.Message{ID: connector.ID{Idx: wire.Idx, Val: wire.BcastVal}, Seq: res.Seq + i, Data: data}
			// Multicast and Unicast take the Kernel's lock, not
			// the module's: the Kernel never calls back into the
			// module from them.
			ok := false
			if b.Group != 0 {
				ok = m.k.Multicast(b.Group, msg) > 0
			} else {
				ok = m.k.Unicast(b.Portid, msg)
			}
			if ok {
				res.Ok++
			} else {
				res.Failed++
			}
		}
		m.burstSeq[b.Group] += b.Count
		return 0, encode(&res)
	case wire.OpTimerStart:
		var t wire.Timer
		if decode(args, &t) != nil || t.Group == 0 || t.Group > wire.Groups || t.Period == 0 {
			m.Stats.Ctl_invalid++
			return -int32(syscall.EINVAL), nil
		}
		m.timerGroup = t.Group
		return 0, nil
	case wire.OpTimerStop:
		m.timerGroup = 0
		return 0, nil
	case wire.OpRegister, wire.OpUnregister:
		var a wire.IDArg
		if decode(args, &a) != nil {
			m.Stats.Ctl_invalid++
			return -int32(syscall.EINVAL), nil
		}
		id := connector.ID{Idx: a.Idx, Val: a.Val}
		if op == wire.OpRegister {
			if m.registered[id] || id == echoID || id == ctlID {
				return -int32(syscall.EEXIST), nil
			}
			free := -1
			for i := range m.Stats.Extra {
				if m.Stats.Extra[i].Used == 0 {
					free = i
					break
				}
			}
			if free < 0 {
				return -int32(syscall.ENOSPC), nil
			}
			m.registered[id] = true
			m.Stats.Extra[free] = wire.ExtraStats{Idx: id.Idx, Val: id.Val, Used: 1}
		} else {
			if !m.registered[id] {
				return -int32(syscall.ENOENT), nil
			}
			delete(m.registered, id)
			m.Stats.Extra[m.slot(id)].Used = 0
		}
		return 0, nil
	case wire.OpEchoMode:
		var e wire.EchoMode
		if decode(args, &e) != nil {
			m.Stats.Ctl_invalid++
			return -int32(syscall.EINVAL), nil
		}
		return 0, nil
	}
	m.Stats.Ctl_invalid++
	return -int32(syscall.EINVAL), nil
}

// slot is the index of the slot that holds id, which is registered.
func (m *Module) slot(id connector.ID) int {
	for i, e := range m.Stats.Extra {
		if e.Used != 0 && e.Idx == id.Idx && e.Val == id.Val {
			return i
		}
	}
	panic("cntest: no slot holds registered id " + id.String())
}

func encode(v any) []byte {
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.NativeEndian, v)
	return buf.Bytes()
}

func decode(b []byte, v any) error {
	if len(b) != binary.Size(v) {
		return syscall.EINVAL
	}
	return binary.Read(bytes.NewReader(b), binary.NativeEndian, v)
}
