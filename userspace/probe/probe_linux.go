//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/cnlab/cnlab/userspace/connector"
)

// Probe is the attached probes and their ring buffer.
type Probe struct {
	coll   *ebpf.Collection
	maps   struct{ events, stats, slots, counters *ebpf.Map }
	progs  []attached
	links  []link.Link
	reader *ringbuf.Reader
	sample ringbuf.Record // reused by ReadInto
	closed bool
	err    error // Close's, for a second Close
}

type attached struct {
	what string
	prog *ebpf.Program
}

var genModes = map[Mode]cnprobeCnprobeMode{
	ModeCounters: cnprobeCnprobeModeCNPROBE_MODE_COUNTERS,
	ModeLosses:   cnprobeCnprobeModeCNPROBE_MODE_LOSSES,
	ModeAll:      cnprobeCnprobeModeCNPROBE_MODE_ALL,
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
	fv, err := f.vars()
	if err != nil {
		return nil, fmt.Errorf("start probes: %w", err)
	}
	opts := &ebpf.CollectionOptions{}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, fmt.Errorf("start probes: the kernel has no BTF (%w): CONFIG_DEBUG_INFO_BTF is needed", err)
	}
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("start probes: the running kernel's BTF: %w", err)
	}
	spec, err := loadCnprobe()
	if err != nil {
		return nil, fmt.Errorf("start probes: %w", err)
	}
	if btfPath != "" {
		given, err := btf.LoadSpec(btfPath)
		if err != nil {
			return nil, fmt.Errorf("start probes: BTF file %s: %w", btfPath, err)
		}
		if err := CheckBTF(given, kernel); err != nil {
			return nil, fmt.Errorf("start probes: BTF file %s: %w", btfPath, err)
		}
		opts.Programs.KernelTypes = given
	}
	var fn *btf.Func
	want := programsFor(f, kernel.TypeByName("netlink_broadcast_filtered", &fn) == nil)
	// Where the probes go must be whole functions: a copy of one that
	// some callers call instead (gcc's .part, .isra, .constprop) is a
	// path the probes would miss without a word.
	ksyms, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, fmt.Errorf("start probes: %w (the probes need the kernel's symbols)", err)
	}
	var fns []string
	for _, what := range want {
		fns = append(fns, what[strings.IndexByte(what, ' ')+1:])
	}
	_, clones, err := kernelText(ksyms, fns...)
	ksyms.Close()
	if err != nil {
		return nil, fmt.Errorf("start probes: %w", err)
	}
	if err := wholeFunctions(want, clones); err != nil {
		return nil, fmt.Errorf("start probes: %w", err)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("start probes: %w", err)
	}
	var vars cnprobeVariableSpecs
	if err := spec.Assign(&vars); err != nil {
		return nil, fmt.Errorf("start probes: %w", err)
	}
	for _, v := range []struct {
		spec *ebpf.VariableSpec
		val  any
	}{
		{vars.Mode, uint32(genModes[fv.mode])}, {vars.FilterId, fv.id}, {vars.FilterIdx, fv.idx}, {vars.FilterVal, fv.val},
		{vars.FilterPortid, fv.portid}, {vars.FilterGroup, fv.group},
		{vars.FilterSeq, fv.seq}, {vars.FilterSeqLo, fv.seqLo}, {vars.FilterSeqHi, fv.seqHi},
	} {
		if err := v.spec.Set(v.val); err != nil {
			return nil, fmt.Errorf("start probes: set %s: %w", v.spec.Name, err)
		}
	}
	// Only the programs this filter attaches are loaded: a program's
	// attach point must be in the kernel's BTF for it to load.
	for name := range spec.Programs {
		if _, ok := want[name]; !ok {
			delete(spec.Programs, name)
		}
	}
	p := &Probe{}
	p.coll, err = ebpf.NewCollectionWithOptions(spec, *opts)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("start probes: the verifier refused them: %+v", ve)
		}
		return nil, fmt.Errorf("start probes: load: %w", err)
	}
	p.maps.events, p.maps.stats = p.coll.Maps["events"], p.coll.Maps["stats"]
	p.maps.slots, p.maps.counters = p.coll.Maps["counter_slots"], p.coll.Maps["counters"]
	for _, a := range attachPoints {
		what, ok := want[a.prog]
		if !ok {
			continue
		}
		prog := p.coll.Programs[a.prog]
		l, err := link.AttachTracing(link.TracingOptions{Program: prog})
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("start probes: attach %s: %w (the kernel needs CONFIG_FUNCTION_TRACER and CONFIG_DEBUG_INFO_BTF, and the function in its BTF)", what, err)
		}
		p.links = append(p.links, l)
		p.progs = append(p.progs, attached{what, prog})
	}
	p.reader, err = ringbuf.NewReader(p.maps.events)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("start probes: ring buffer: %w", err)
	}
	return p, nil
}

// ErrTimeout is returned by Read when nothing arrived before the deadline.
var ErrTimeout = errors.New("no probe event before the deadline")

// pollInterval bounds how long an event can wait in the ring: the probes
// wake the reader when a record follows a quiet spell or the unread
// records pass 64 KiB (bpf/cnprobe.bpf.c, emit), not for every record.
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
	switch kind := cnprobeCnprobeKind(*(*uint32)(unsafe.Pointer(&b[0]))); kind {
	case cnprobeCnprobeKindCNPROBE_SEND:
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
		flags := cnprobeCnprobeFlag(raw.Flags)
		r := &ev.send
		*r = Record{Time: time.Duration(raw.Ts),
			ID: connector.ID{Idx: raw.Idx, Val: raw.Val}, Seq: raw.Seq, Ack: raw.Ack, Len: raw.Len,
			PortID: raw.Portid, Group: raw.Group, Ret: raw.Ret, Delivered: raw.Delivered, Dropped: raw.Dropped, Failed: raw.Failed,
			GroupResolved:   flags&cnprobeCnprobeFlagCNPROBE_F_GROUP_RESOLVED != 0,
			BroadcastMissed: flags&cnprobeCnprobeFlagCNPROBE_F_BROADCAST != 0,
			LossesOnly:      flags&cnprobeCnprobeFlagCNPROBE_F_LOSSES_ONLY != 0,
			Receivers:       r.Receivers[:0]}
		for i := 0; i < listed; i++ {
			rc := raw.Receivers[i]
			r.Receivers = append(r.Receivers, Receiver{PortID: rc.Portid, Outcome: receiverOutcome(rc.Outcome),
				Congested: rc.Congested != 0, Drops: rc.Drops, RcvBuf: rc.Rcvbuf, RmemAlloc: rc.Rmem})
		}
		if listed == 0 {
			r.Receivers = nil
		}
		ev.Send = r
		return nil
	case cnprobeCnprobeKindCNPROBE_INBOUND:
		var raw cnprobeCnprobeInbound
		if len(b) < int(unsafe.Sizeof(raw)) {
			return fmt.Errorf("inbound record of %d bytes, want %d", len(b), unsafe.Sizeof(raw))
		}
		raw = *(*cnprobeCnprobeInbound)(unsafe.Pointer(&b[0]))
		ev.in = Inbound{Time: time.Duration(raw.Ts), ID: connector.ID{Idx: raw.Idx, Val: raw.Val}, Seq: raw.Seq, Ack: raw.Ack,
			Len: raw.Len, NlmsgLen: raw.NlmsgLen, PortID: raw.Portid, NlmsgPid: raw.NlmsgPid}
		ev.Inbound = &ev.in
		return nil
	default:
		return fmt.Errorf("probe event of unknown kind %d", kind)
	}
}

func receiverOutcome(o uint8) Outcome {
	switch cnprobeCnprobeOutcome(o) {
	case cnprobeCnprobeOutcomeCNPROBE_DELIVERED:
		return Delivered
	case cnprobeCnprobeOutcomeCNPROBE_DROPPED:
		return QueueFull
	case cnprobeCnprobeOutcomeCNPROBE_NOCLONE:
		return NoClone
	case cnprobeCnprobeOutcomeCNPROBE_FILTERED:
		return Filtered
	}
	return Outcome(fmt.Sprintf("outcome %d", o))
}

// Skips returns what the probes could not record so far.
func (p *Probe) Skips() (Skips, error) {
	var s Skips
	for stat, dst := range map[cnprobeCnprobeStat]*uint64{
		cnprobeCnprobeStatCNPROBE_STAT_RINGBUF: &s.RingBuffer, cnprobeCnprobeStatCNPROBE_STAT_DEPTH: &s.TooDeep,
		cnprobeCnprobeStatCNPROBE_STAT_STORAGE: &s.NoStorage, cnprobeCnprobeStatCNPROBE_STAT_UNATTRIBUTED: &s.Unattributed,
		cnprobeCnprobeStatCNPROBE_STAT_COUNTERS_FULL: &s.CountersFull, cnprobeCnprobeStatCNPROBE_STAT_USER: &s.UserSpace,
	} {
		var per []uint64
		if err := p.maps.stats.Lookup(uint32(stat), &per); err != nil {
			return s, fmt.Errorf("read the probes' skips: %w", err)
		}
		for _, v := range per {
			*dst += v
		}
	}
	for _, a := range p.progs {
		st, err := a.prog.Stats()
		if err != nil {
			return s, fmt.Errorf("read the %s program's skipped runs: %w", a.what, err)
		}
		s.Recursion += st.RecursionMisses
		if st.RecursionMisses > 0 {
			if s.Skipped == nil {
				s.Skipped = map[string]uint64{}
			}
			s.Skipped[a.what] += st.RecursionMisses
		}
	}
	return s, nil
}

// Lost returns how many events are missing: Skips().Total().
func (p *Probe) Lost() (uint64, error) {
	s, err := p.Skips()
	return s.Total(), err
}

// Counters are the always-on counts for one id.
type Counters struct {
	Sent, Failed uint64 // sends, and those that returned an error
	// ByErrno counts the sends by the errno they returned (0: success);
	// errnos other than those the connector returns are only in Failed.
	ByErrno map[syscall.Errno]uint64
	// Sockets: Delivered (mode ModeAll only), Dropped at a full queue, and
	// Unreached (a failed clone, or a filter in mode ModeLosses).
	Delivered, Dropped, Unreached uint64
	Inbound                       uint64 // with Filter.Inbound
}

var retErrno = map[cnprobeCnprobeRet]syscall.Errno{
	cnprobeCnprobeRetCNPROBE_RET_OK: 0, cnprobeCnprobeRetCNPROBE_RET_ESRCH: syscall.ESRCH,
	cnprobeCnprobeRetCNPROBE_RET_EAGAIN: syscall.EAGAIN, cnprobeCnprobeRetCNPROBE_RET_ECONNREFUSED: syscall.ECONNREFUSED,
	cnprobeCnprobeRetCNPROBE_RET_ENOMEM: syscall.ENOMEM, cnprobeCnprobeRetCNPROBE_RET_ENOBUFS: syscall.ENOBUFS,
	cnprobeCnprobeRetCNPROBE_RET_EMSGSIZE: syscall.EMSGSIZE, cnprobeCnprobeRetCNPROBE_RET_ENODEV: syscall.ENODEV,
}

// Counters returns the per-id counts, summed over CPUs and over the two
// places the probes keep them: a per-CPU table of slots and, for ids whose
// slot another id holds, a hash.
func (p *Probe) Counters() (map[connector.ID]Counters, error) {
	out := map[connector.ID]Counters{}
	add := func(id connector.ID, v *cnprobeCnprobeCounters) {
		c := out[id]
		if c.ByErrno == nil {
			c.ByErrno = map[syscall.Errno]uint64{}
		}
		for i, n := range v.Ret {
			c.Sent += n
			if cnprobeCnprobeRet(i) != cnprobeCnprobeRetCNPROBE_RET_OK {
				c.Failed += n
			}
			if e, ok := retErrno[cnprobeCnprobeRet(i)]; ok && n > 0 {
				c.ByErrno[e] += n
			}
		}
		c.Delivered += v.Delivered
		c.Dropped += v.Dropped
		c.Unreached += v.Failed
		c.Inbound += v.Inbound
		out[id] = c
	}
	var slots []cnprobeCnprobeSlot
	for i := uint32(0); i < p.maps.slots.MaxEntries(); i++ {
		if err := p.maps.slots.Lookup(i, &slots); err != nil {
			return nil, fmt.Errorf("read probe counters, slot %d: %w", i, err)
		}
		for _, s := range slots {
			if s.Used == uint32(cnprobeCnprobeSlotStateCNPROBE_SLOT_READY) {
				add(connector.ID{Idx: s.Id.Idx, Val: s.Id.Val}, &s.C)
			}
		}
	}
	var key cnprobeCnprobeId
	var per []cnprobeCnprobeCounters
	it := p.maps.counters.Iterate()
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

// Close detaches the probes and frees them. A second Close does nothing
// and returns the first one's error.
func (p *Probe) Close() error {
	if p.closed {
		return p.err
	}
	p.closed = true
	var errs []error
	if p.reader != nil {
		if err := p.reader.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the ring buffer reader: %w", err))
		}
	}
	for i, l := range p.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach %s: %w", p.progs[i].what, err))
		}
	}
	if p.coll != nil {
		p.coll.Close()
	}
	p.err = errors.Join(errs...)
	return p.err
}
