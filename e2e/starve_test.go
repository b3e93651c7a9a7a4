package e2e

// -cnlab.starve-rt: issue 29's loss on demand. During the fork storm a
// helper spins at SCHED_FIFO 10, and each CPU's fair server (6.12's
// deadline server, the only thing that lets CFS tasks run under a spinning
// RT task when CONFIG_RT_GROUP_SCHED is off: no RT throttling) is raised
// from 50 ms to 900 ms a second: CFS tasks (the storm's parent and children)
// keep about 90% of the CPU, while the SCHED_FIFO 1 kthreads (irq_work/N,
// rcuc/N, the RCU grace period kthread) get none, since the spinner outranks
// them whenever the fair server leaves the CPU to the RT class. On PREEMPT_RT bpf_mem_alloc's refill is a lazy irq_work
// (kernel/bpf/memalloc.c irq_work_raise -> kernel/irq_work.c
// __irq_work_queue_local: rt_lazy_work, run by irq_work/N), and a reaped
// task's storage goes back to the free list only from free_task, which runs
// from an RCU callback (rcuc/N). So the per-CPU free list of task storage
// elements empties and stays empty, and every bpf_task_storage_get(...,
// F_CREATE) from a fentry program (GFP_ATOMIC: no kmalloc fallback in
// bpf_mem_cache_alloc_flags) returns NULL for a task that has none yet.

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

var starveRT = flag.Bool("cnlab.starve-rt", false, "during the fork storm, a SCHED_FIFO 10 spinner and the fair servers at 900 ms a second: the SCHED_FIFO 1 kthreads (irq_work/N, rcuc/N) get no CPU while CFS tasks keep about 90%")

const (
	starveFlagPath = "/tmp/cnlab-starve-flag"
	fairServers    = "/sys/kernel/debug/sched/fair_server/cpu*/runtime"
	starveRuntime  = "900000000" // ns of every 1 s period
	starveDrain    = 40          // forks that empty the free lists before the storm
)

type starver struct {
	cmd        *exec.Cmd
	in         io.WriteCloser
	out        *bufio.Reader
	stop       *uint32
	oldRuntime map[string]string // fair server runtime files
}

// startStarver starts the spinner's process, still SCHED_OTHER and waiting,
// so that its own fork, exec and threads come before the spec's window. It
// returns nil without -cnlab.starve-rt.
func startStarver() *starver {
	GinkgoHelper()
	if !*starveRT {
		return nil
	}
	f, err := os.OpenFile(starveFlagPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	Expect(err).NotTo(HaveOccurred())
	Expect(f.Truncate(4096)).To(Succeed())
	mem, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	Expect(err).NotTo(HaveOccurred())
	f.Close()
	if _, err := os.Stat("/sys/kernel/debug/sched"); err != nil {
		Expect(unix.Mount("debugfs", "/sys/kernel/debug", "debugfs", 0, "")).To(Succeed())
	}
	files, err := filepath.Glob(fairServers)
	Expect(err).NotTo(HaveOccurred())
	Expect(files).NotTo(BeEmpty(), "the fair servers in debugfs")
	s := &starver{stop: (*uint32)(unsafe.Pointer(&mem[0])), oldRuntime: map[string]string{}}
	for _, f := range files {
		old, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		s.oldRuntime[f] = strings.TrimSpace(string(old))
	}
	s.cmd = helperCmd("hog:" + starveFlagPath)
	// No async preemption signals and no syscall in the spin: nothing
	// makes the spinner sleep, so a FIFO 1 thread never gets the CPU.
	s.cmd.Env = append(s.cmd.Env, "GODEBUG=asyncpreemptoff=1", "GOMAXPROCS=1")
	s.in, err = s.cmd.StdinPipe()
	Expect(err).NotTo(HaveOccurred())
	out, err := s.cmd.StdoutPipe()
	Expect(err).NotTo(HaveOccurred())
	s.out = bufio.NewReader(out)
	s.cmd.Stderr = GinkgoWriter
	Expect(s.cmd.Start()).To(Succeed())
	Expect(s.line()).To(Equal("ready"))
	DeferCleanup(func() {
		atomic.StoreUint32(s.stop, 1)
		s.in.Close()
		s.cmd.Wait()
		s.setRuntime(false)
		unix.Munmap(mem)
	})
	return s
}

func (s *starver) line() string {
	GinkgoHelper()
	l, err := s.out.ReadString('\n')
	Expect(err).NotTo(HaveOccurred(), "the spinner: %q", l)
	return strings.TrimSpace(l)
}

// on makes the spinner SCHED_FIFO 10, then forks starveDrain children,
// which take what the free lists hold.
func (s *starver) on() {
	GinkgoHelper()
	if s == nil {
		return
	}
	Expect(s.setRuntime(true)).To(Succeed())
	_, err := s.in.Write([]byte("g"))
	Expect(err).NotTo(HaveOccurred())
	Expect(s.line()).To(Equal("on"))
	for range starveDrain {
		pid, _ := forkChild(childExit, 0, 0)
		reap(pid)
	}
}

// off stops the spinner and puts the fair servers back; it returns the
// spinner's report.
func (s *starver) off() string {
	GinkgoHelper()
	if s == nil {
		return "not starving"
	}
	atomic.StoreUint32(s.stop, 1)
	l := s.line()
	Expect(s.setRuntime(false)).To(Succeed())
	return l
}

// setRuntime sets every fair server's runtime to starveRuntime, or back.
func (s *starver) setRuntime(starve bool) error {
	for f, old := range s.oldRuntime {
		v := old
		if starve {
			v = starveRuntime
		}
		if err := os.WriteFile(f, []byte(v), 0); err != nil {
			return err
		}
	}
	return nil
}

// hogHelper is the spinner (helper "hog:<flag file>").
func hogHelper(path string) int {
	runtime.LockOSThread()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	stop := (*uint32)(unsafe.Pointer(&mem[0]))
	fmt.Println("ready")
	var b [1]byte
	if n, _ := os.Stdin.Read(b[:]); n != 1 {
		return 1
	}
	// SCHED_FIFO 10: above the FIFO 1 kthreads, below the irq threads (50).
	param := struct{ prio int32 }{10}
	if _, _, e := unix.RawSyscall(unix.SYS_SCHED_SETSCHEDULER, 0, unix.SCHED_FIFO, uintptr(unsafe.Pointer(&param))); e != 0 {
		fmt.Println("sched_setscheduler:", e)
		return 1
	}
	fmt.Println("on")
	start := time.Now()
	capped := false
	// At most 15 s: the RCU grace-period kthread starves too, and a stall
	// is reported at 21 s.
	for i := 0; atomic.LoadUint32(stop) == 0; i++ {
		if i&0xfffff == 0 && time.Since(start) > 15*time.Second {
			capped = true
			break
		}
	}
	took := time.Since(start)
	param.prio = 0
	unix.RawSyscall(unix.SYS_SCHED_SETSCHEDULER, 0, 0 /* SCHED_OTHER */, uintptr(unsafe.Pointer(&param)))
	fmt.Printf("off after %v (capped at 15s: %v)\n", took.Round(time.Millisecond), capped)
	io.Copy(io.Discard, os.Stdin) // until the spec closes it
	return 0
}
