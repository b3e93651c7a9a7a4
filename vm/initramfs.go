package vm

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// File is one entry of an initramfs: a host file copied in, bytes given
// here, a directory, or a character device.
type File struct {
	Path     string // in the guest, absolute
	HostPath string // copied from here, if set
	Data     []byte // else this
	Mode     os.FileMode
	// For a character device: Mode has os.ModeCharDevice|os.ModeDevice.
	Major, Minor uint32
}

// Initramfs is the list of entries of a newc cpio archive.
type Initramfs struct {
	files []File
}

// Add adds an entry; the directories it is in are made as needed.
func (r *Initramfs) Add(f File) { r.files = append(r.files, f) }

// AddHostFile adds a host file under guestPath, executable or not as on the
// host.
func (r *Initramfs) AddHostFile(guestPath, hostPath string) error {
	st, err := os.Stat(hostPath)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	r.Add(File{Path: guestPath, HostPath: hostPath, Mode: st.Mode().Perm()})
	return nil
}

// WriteFile writes the archive, gzip-compressed, to path. It needs no
// privileges: owners, modes and device numbers are written as given.
func (r *Initramfs) WriteFile(dst string) error {
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("write initramfs: %w", err)
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	err = r.write(zw)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write initramfs %s: %w", dst, err)
	}
	return nil
}

func (r *Initramfs) write(w io.Writer) error {
	cw := &cpioWriter{w: w, ino: 1}
	dirs := map[string]bool{"/": true}
	entries := append([]File(nil), r.files...)
	for _, f := range r.files {
		for d := path.Dir(f.Path); !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			entries = append(entries, File{Path: d, Mode: os.ModeDir | 0o755})
		}
		if f.Mode.IsDir() {
			dirs[f.Path] = true
		}
	}
	// Parents sort before their children, so the kernel sees each
	// directory before what is in it.
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	for _, f := range entries {
		if err := cw.add(f); err != nil {
			return err
		}
	}
	return cw.trailer()
}

// cpioWriter writes the "newc" format the kernel unpacks
// (Documentation/driver-api/early-userspace/buffer-format.rst).
type cpioWriter struct {
	w   io.Writer
	ino uint32
	n   int64
}

func (c *cpioWriter) add(f File) error {
	name := strings.TrimPrefix(f.Path, "/")
	var mode uint32
	var size int64
	var body io.Reader
	switch {
	case f.Mode.IsDir():
		mode = 0o040000
	case f.Mode&os.ModeCharDevice != 0:
		mode = 0o020000
	default:
		mode = 0o100000
		if f.HostPath != "" {
			h, err := os.Open(f.HostPath)
			if err != nil {
				return fmt.Errorf("initramfs: %w", err)
			}
			defer h.Close()
			st, err := h.Stat()
			if err != nil {
				return fmt.Errorf("initramfs: %w", err)
			}
			size, body = st.Size(), h
		} else {
			size, body = int64(len(f.Data)), strings.NewReader(string(f.Data))
		}
	}
	mode |= uint32(f.Mode.Perm())
	nlink := 1
	if f.Mode.IsDir() {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, f.Major, f.Minor, len(name)+1, 0)
	c.ino++
	if err := c.put([]byte(hdr + name + "\x00")); err != nil {
		return err
	}
	if body != nil {
		n, err := io.Copy(c.w, body)
		if err != nil {
			return fmt.Errorf("initramfs: copy %s: %w", f.HostPath, err)
		}
		if n != size {
			return fmt.Errorf("initramfs: %s changed while being copied", f.HostPath)
		}
		c.n += n
		return c.pad()
	}
	return nil
}

// put writes b and pads to 4 bytes, as newc wants after header+name and data.
func (c *cpioWriter) put(b []byte) error {
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	c.n += int64(len(b))
	return c.pad()
}

func (c *cpioWriter) pad() error {
	if p := (4 - c.n%4) % 4; p > 0 {
		if _, err := c.w.Write(make([]byte, p)); err != nil {
			return err
		}
		c.n += p
	}
	return nil
}

func (c *cpioWriter) trailer() error {
	if err := c.add(File{Path: "TRAILER!!!"}); err != nil {
		return err
	}
	// The kernel reads the archive in 512-byte blocks.
	if p := (512 - c.n%512) % 512; p > 0 {
		_, err := c.w.Write(make([]byte, p))
		return err
	}
	return nil
}
