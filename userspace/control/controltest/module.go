package controltest

import (
	"sync"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/connector/cntest"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

// Module fakes the cnlab module, loaded with its default ids, as its
// control channel shows it: the echo id and the further ids echo, the
// control id answers as control.Model says and keeps the counters, and
// bursts multicast or unicast through the Kernel. It keeps no timer that
// ticks and no echo mode that changes a reply.
type Module struct {
	k *cntest.Kernel

	mu sync.Mutex
	// Stats are the counters the stats operation reports.
	Stats control.Stats
	// Refuse answers every state-changing operation with EPERM, as the
	// module does for a sender without CAP_NET_ADMIN.
	Refuse bool
	// Silent makes the module answer nothing, as if it were not loaded.
	Silent bool
	// Ops are the control operations received, in order.
	Ops      []uint32
	model    *control.Model
	burstSeq map[uint32]uint32
}

// New returns a fake connector whose callback is a fake cnlab module.
func New() (*cntest.Kernel, *Module) {
	m := &Module{
		model:    control.NewModel(control.DefaultEchoID, control.DefaultID),
		burstSeq: map[uint32]uint32{},
	}
	m.k = cntest.New(m.handle)
	return m.k, m
}

// TimerGroup is the group the timer was last started on, 0 if stopped.
func (m *Module) TimerGroup() uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.model.Timer().Group
}

// EchoMode is the echo mode last set.
func (m *Module) EchoMode() wire.EchoMode {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.model.EchoMode()
}

func (m *Module) handle(from uint32, msg connector.Message) ([]connector.Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Silent {
		return nil, nil
	}
	switch {
	case msg.ID == control.DefaultEchoID:
		m.Stats.Received++
		m.Stats.Replied++
	case msg.ID == control.DefaultID:
		return m.control(msg), nil
	case m.model.Slot(msg.ID) >= 0:
		m.Stats.ExtraReceived++
		m.Stats.Extra[m.model.Slot(msg.ID)].Received++
	default:
		return nil, nil
	}
	m.Stats.Dests[0].Sent++
	m.Stats.Dests[0].Ok++
	return []connector.Message{{ID: msg.ID, Seq: msg.Seq, Ack: msg.Seq + 1, Data: msg.Data}}, nil
}

// control answers a request to the control id, with m.mu held.
func (m *Module) control(msg connector.Message) []connector.Message {
	m.Stats.CtlReceived++
	v := m.model.Answer(msg.Data, !m.Refuse)
	if v.Invalid {
		m.Stats.CtlInvalid++
	}
	if v.Refused {
		m.Stats.CtlRefused++
	}
	if v.Silent {
		return nil
	}
	req, _ := control.ParseRequest(msg.Data)
	m.Ops = append(m.Ops, req.Op)
	reply := control.NewReply(req.Op, v.Status)
	if v.Status == 0 {
		reply = control.NewReply(req.Op, 0, m.run(req)...)
	}
	return []connector.Message{{ID: msg.ID, Seq: msg.Seq, Ack: msg.Seq + 1, Data: reply.Data()}}
}

// run does what a request the model took does beyond the model's state,
// and returns its result: a wire struct, or nothing.
func (m *Module) run(req control.Request) []any {
	switch req.Op {
	case wire.OpGetStats:
		return []any{&m.Stats}
	case wire.OpBurst:
		var b wire.Burst
		_ = req.DecodeArgs(&b)
		return []any{m.burst(b)}
	case wire.OpRegister, wire.OpUnregister:
		// The slots the stats show, as the module keeps them: an id
		// unregistered stays in its slot, unused.
		var a wire.IDArg
		_ = req.DecodeArgs(&a)
		id := connector.ID{Idx: a.Idx, Val: a.Val}
		if s := m.model.Slot(id); s >= 0 {
			m.Stats.Extra[s] = control.ExtraStats{Idx: id.Idx, Val: id.Val, Used: 1}
			break
		}
		for i, e := range m.Stats.Extra {
			if e.Used != 0 && e.Idx == id.Idx && e.Val == id.Val {
				m.Stats.Extra[i].Used = 0
			}
		}
	}
	return nil
}

// burst sends b as the module does, with m.mu held: Multicast and Unicast
// take the Kernel's lock, not the module's, and never call back into it.
func (m *Module) burst(b wire.Burst) wire.BurstResult {
	res := wire.BurstResult{Seq: m.burstSeq[b.Group], Count: b.Count}
	for i := uint32(0); i < b.Count; i++ {
		data := control.BcastData(wire.Bcast{Kind: wire.BcastBurst, Group: b.Group}, int(b.Size))
		msg := connector.Message{ID: connector.ID{Idx: wire.Idx, Val: wire.BcastVal}, Seq: res.Seq + i, Data: data}
		var ok bool
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
	return res
}
