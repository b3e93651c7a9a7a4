//go:build linux && (386 || amd64)

package probe

import (
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/cnlab/cnlab/userspace/connector"
)

// Filter narrows the records the probes send; the per-id counters see
// everything. Zero fields match anything.
type Filter struct {
	ID           *connector.ID
	PortID       uint32
	Group        uint32
	SeqLo, SeqHi uint32 // with SeqHi nonzero: seqs in [SeqLo, SeqHi]
}

// Probe is the attached probes and their ring buffer.
type Probe struct {
	objs   cnprobeObjects
	links  []link.Link
	reader *ringbuf.Reader
	sample ringbuf.Record // reused by ReadInto
}

// attachPoints are where the probes go (fentry, or fexit), all present in
// the BTF of 6.1 and 6.12; the programs name their functions.
var attachPoints = []struct {
	what string
	prog func(o *cnprobeObjects) *ebpf.Program
}{
	{"fentry cn_netlink_send_mult", func(o *cnprobeObjects) *ebpf.Program { return o.SendEnter }},
	{"fexit cn_netlink_send_mult", func(o *cnprobeObjects) *ebpf.Program { return o.SendExit }},
	{"fentry __netlink_sendskb", func(o *cnprobeObjects) *ebpf.Program { return o.Sendskb }},
	{"fentry netlink_overrun", func(o *cnprobeObjects) *ebpf.Program { return o.Overrun }},
	{"fentry cn_rx_skb", func(o *cnprobeObjects) *ebpf.Program { return o.Rx }},
}

// Start loads the probes, relocated against the running kernel's BTF, and
// attaches them.
func Start(f Filter) (*Probe, error) { return StartBTF(f, "") }

// StartBTF is Start relocating against a BTF file (a raw blob, or an ELF
// with a .BTF section) instead of the running kernel's. The file is checked
// against the running kernel's BTF first, since a wrong one loads silently
// and gives wrong answers; without kernel BTF there is nothing to check
// against, and StartBTF refuses rather than trust the file blindly.
func StartBTF(f Filter, btfPath string) (*Probe, error) {
	var opts *ebpf.CollectionOptions
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, fmt.Errorf("start probes: the kernel has no BTF (%w): CONFIG_DEBUG_INFO_BTF is needed", err)
	}
	if btfPath != "" {
		given, err := btf.LoadSpec(btfPath)
		if err != nil {
			return nil, fmt.Errorf("start probes: BTF file %s: %w", btfPath, err)
		}
		kernel, err := btf.LoadKernelSpec()
		if err != nil {
			return nil, fmt.Errorf("start probes: the running kernel's BTF, to check %s against: %w", btfPath, err)
		}
		if err := CheckBTF(given, kernel); err != nil {
			return nil, fmt.Errorf("start probes: BTF file %s: %w", btfPath, err)
		}
		opts = &ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: given}}
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("start probes: %w", err)
	}
	spec, err := loadCnprobe()
	if err != nil {
		return nil, fmt.Errorf("start probes: %w", err)
	}
	vars := map[string]uint32{"filter_portid": f.PortID, "filter_group": f.Group, "filter_seq_lo": f.SeqLo, "filter_seq_hi": f.SeqHi}
	if f.ID != nil {
		vars["filter_id"], vars["filter_idx"], vars["filter_val"] = 1, f.ID.Idx, f.ID.Val
	}
	for name, v := range vars {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("start probes: set %s: %w", name, err)
		}
	}
	p := &Probe{}
	if err := spec.LoadAndAssign(&p.objs, opts); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("start probes: the verifier refused them: %+v", ve)
		}
		return nil, fmt.Errorf("start probes: load: %w", err)
	}
	for _, a := range attachPoints {
		l, err := link.AttachTracing(link.TracingOptions{Program: a.prog(&p.objs)})
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("start probes: attach %s: %w (the kernel needs CONFIG_FUNCTION_TRACER and CONFIG_DEBUG_INFO_BTF, and the function in its BTF)", a.what, err)
		}
		p.links = append(p.links, l)
	}
	p.reader, err = ringbuf.NewReader(p.objs.Events)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("start probes: ring buffer: %w", err)
	}
	return p, nil
}

// ErrTimeout is returned by Read when nothing arrived before the deadline.
var ErrTimeout = errors.New("no probe event before the deadline")

// pollInterval bounds how long an event can wait in the ring: the probes
// wake the reader only when the ring fills up.
const pollInterval = 20 * time.Millisecond

// Read returns the next event, a *Record or an *Inbound, waiting until the
// deadline (the zero time: forever). Read and ReadInto are not safe for
// concurrent use.
func (p *Probe) Read(deadline time.Time) (any, error) {
	var ev Event
	if err := p.ReadInto(&ev, deadline); err != nil {
		return nil, err
	}
	if ev.Send != nil {
		return ev.Send, nil
	}
	return ev.Inbound, nil
}

// ReadInto is Read without allocating: it fills ev, reusing its memory, and
// what it fills stays valid until the next call with the same ev.
func (p *Probe) ReadInto(ev *Event, deadline time.Time) error {
	for {
		wait := time.Now().Add(pollInterval)
		if !deadline.IsZero() && deadline.Before(wait) {
			wait = deadline
		}
		p.reader.SetDeadline(wait)
		err := p.reader.ReadInto(&p.sample)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if !deadline.IsZero() && !time.Now().Before(deadline) {
				return ErrTimeout
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read probe event: %w", err)
		}
		return decode(p.sample.RawSample, ev)
	}
}

func decode(b []byte, ev *Event) error {
	ev.Send, ev.Inbound = nil, nil
	if len(b) < 4 {
		return fmt.Errorf("probe event of %d bytes", len(b))
	}
	switch kind := *(*uint32)(unsafe.Pointer(&b[0])); kind {
	case 1:
		// The probes send only the receivers they list.
		var raw cnprobeCnprobeRecord
		head := int(unsafe.Offsetof(raw.Receivers))
		if len(b) < head {
			return fmt.Errorf("send record of %d bytes, want at least %d", len(b), head)
		}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&raw)), unsafe.Sizeof(raw)), b)
		listed := min(int(raw.Nreceivers), len(raw.Receivers))
		if want := head + listed*int(unsafe.Sizeof(raw.Receivers[0])); len(b) < want {
			return fmt.Errorf("send record of %d bytes listing %d receivers, want %d", len(b), listed, want)
		}
		r := &ev.send
		*r = Record{Time: time.Duration(raw.Ts),
			ID: connector.ID{Idx: raw.Idx, Val: raw.Val}, Seq: raw.Seq, Ack: raw.Ack, Len: raw.Len,
			PortID: raw.Portid, Group: raw.Group, Ret: raw.Ret, Delivered: raw.Delivered, Dropped: raw.Dropped,
			Receivers: r.Receivers[:0]}
		for i := 0; i < listed; i++ {
			rc := raw.Receivers[i]
			o := Delivered
			if rc.Outcome == 2 {
				o = QueueFull
			}
			r.Receivers = append(r.Receivers, Receiver{PortID: rc.Portid, Outcome: o, Congested: rc.Congested != 0, Drops: rc.Drops, RcvBuf: rc.Rcvbuf})
		}
		if listed == 0 {
			r.Receivers = nil
		}
		ev.Send = r
		return nil
	case 2:
		var raw cnprobeCnprobeInbound
		if len(b) < int(unsafe.Sizeof(raw)) {
			return fmt.Errorf("inbound record of %d bytes, want %d", len(b), unsafe.Sizeof(raw))
		}
		raw = *(*cnprobeCnprobeInbound)(unsafe.Pointer(&b[0]))
		ev.in = Inbound{Time: time.Duration(raw.Ts), ID: connector.ID{Idx: raw.Idx, Val: raw.Val}, Seq: raw.Seq, Ack: raw.Ack,
			Len: raw.Len, NlmsgLen: raw.NlmsgLen, PortID: raw.Portid}
		ev.Inbound = &ev.in
		return nil
	default:
		return fmt.Errorf("probe event of unknown kind %d", kind)
	}
}

// Lost returns how many events are missing from the ring buffer: those it
// could not take, sends nested too deep to follow, and runs of the programs
// the kernel skipped because a BPF program was already running on the CPU
// (an interrupt).
func (p *Probe) Lost() (uint64, error) {
	var per []uint64
	if err := p.objs.Lost.Lookup(uint32(0), &per); err != nil {
		return 0, fmt.Errorf("read lost events: %w", err)
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	for _, a := range attachPoints {
		st, err := a.prog(&p.objs).Stats()
		if err != nil {
			return 0, fmt.Errorf("read the %s program's skipped runs: %w", a.what, err)
		}
		n += st.RecursionMisses
	}
	return n, nil
}

// Counters are the always-on counts for one id.
type Counters struct {
	Sent, Failed, Delivered, Dropped, Inbound uint64
}

// Counters returns the per-id counts, summed over CPUs and over the two
// places the probes keep them: a per-CPU table of slots and, for ids whose
// slot another id holds, a hash.
func (p *Probe) Counters() (map[connector.ID]Counters, error) {
	out := map[connector.ID]Counters{}
	add := func(id connector.ID, v *cnprobeCnprobeCounters) {
		c := out[id]
		c.Sent += v.Sent
		c.Failed += v.Failed
		c.Delivered += v.Delivered
		c.Dropped += v.Dropped
		c.Inbound += v.Inbound
		out[id] = c
	}
	var slots []cnprobeCnprobeSlot
	for i := uint32(0); i < uint32(p.objs.CounterSlots.MaxEntries()); i++ {
		if err := p.objs.CounterSlots.Lookup(i, &slots); err != nil {
			return nil, fmt.Errorf("read probe counters, slot %d: %w", i, err)
		}
		for _, s := range slots {
			if s.Used != 0 {
				add(connector.ID{Idx: s.Id.Idx, Val: s.Id.Val}, &s.C)
			}
		}
	}
	var key cnprobeCnprobeId
	var per []cnprobeCnprobeCounters
	it := p.objs.Counters.Iterate()
	for it.Next(&key, &per) {
		for i := range per {
			add(connector.ID{Idx: key.Idx, Val: key.Val}, &per[i])
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read probe counters: %w", err)
	}
	return out, nil
}

// Close detaches the probes and frees them.
func (p *Probe) Close() error {
	if p.reader != nil {
		p.reader.Close()
	}
	for _, l := range p.links {
		l.Close()
	}
	return p.objs.Close()
}
