package target

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/cnlab/cnlab/userspace/connector"
)

// Error is a target file that cannot be used: File:Line: Msg, or File: Msg
// when no one line is at fault (a key that is missing).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// keys are the keys of version 1, each with what its value is, for the
// message that names an unknown key or a missing one.
var keys = map[string]string{
	"version":              "the format's version: version = 1",
	"module":               "the module's name, as its .ko is named: module = cn_test",
	"source":               "the module's source directory, relative to this file: source = .",
	"kernel-source":        "files of the kernel's own source tree, built as the module: kernel-source = samples/connector/cn_test.c",
	"ids":                  "the connector ids the module registers, idx:val: ids = 14:0x456 14:0x457",
	"params":               "the module's parameters: params = name=value ...",
	"reply":                "how the module replies: reply = seqack (seq kept, ack = seq + 1, to the sender) or reply = none",
	"unload-under-traffic": "whether the module may be unloaded while messages arrive: unload-under-traffic = yes or no",
	"senders":              "who may send to its ids: senders = root (CAP_NET_ADMIN) or anyone",
}

// required are the keys every file has, in the order the message for a
// missing one asks for them; source or kernel-source is checked apart.
var required = []string{"module", "ids", "reply", "unload-under-traffic", "senders"}

var (
	moduleRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	paramRE  = regexp.MustCompile(`^[A-Za-z0-9_]+(=\S*)?$`)
)

// moduleNameMax is the longest module name the kernel takes:
// MODULE_NAME_LEN (64 - sizeof(unsigned long)) less its NUL.
const moduleNameMax = 55

// Parse reads a target file's text; name is the file's name for messages.
// It checks the text only: Source stays as written, relative to the
// file. Use Read for a file on the host, whose source must be there.
func Parse(name string, r io.Reader) (*Target, error) {
	p := parser{t: &Target{File: name}, seen: map[string]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		if err := p.line(n, sc.Text()); err != nil {
			return nil, &Error{File: name, Line: n, Msg: err.Error()}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: name, Line: n + 1, Msg: err.Error()}
	}
	if err := p.complete(); err != nil {
		return nil, &Error{File: name, Msg: err.Error()}
	}
	return p.t, nil
}

// Read reads the target file at path, and makes its source directory
// absolute against the file's and checks that it holds a Kbuild or a
// Makefile.
func Read(path string) (*Target, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	defer f.Close()
	t, err := Parse(path, f)
	if err != nil {
		return nil, err
	}
	if t.Source == "" {
		return t, nil
	}
	dir := t.Source
	if !filepath.IsAbs(dir) {
		abs, err := filepath.Abs(filepath.Join(filepath.Dir(path), dir))
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		dir = abs
	}
	line := t.sourceLine
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, &Error{File: path, Line: line, Msg: fmt.Sprintf("source %s: no such directory (%s; a source directory is relative to the target file)", t.Source, dir)}
	}
	if !exists(filepath.Join(dir, "Kbuild")) && !exists(filepath.Join(dir, "Makefile")) {
		return nil, &Error{File: path, Line: line, Msg: fmt.Sprintf("source %s: %s has no Kbuild or Makefile to build the module with (obj-m += %s.o)", t.Source, dir, t.Module)}
	}
	t.Source = dir
	return t, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

type parser struct {
	t    *Target
	seen map[string]int // key -> the line it was on
}

// line reads line n.
func (p *parser) line(n int, raw string) error {
	s := stripComment(raw)
	if s == "" {
		return nil
	}
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("%q: want key = value", s)
	}
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if _, known := keys[k]; !known {
		return fmt.Errorf("unknown key %q (version %d knows %s)", k, Version, knownKeys())
	}
	if len(p.seen) == 0 && k != "version" {
		return fmt.Errorf("the first line must say the format's version: version = %d", Version)
	}
	if first, dup := p.seen[k]; dup {
		return fmt.Errorf("%s given twice (first on line %d)", k, first)
	}
	p.seen[k] = n
	if v == "" {
		return fmt.Errorf("%s has no value: want %s", k, keys[k])
	}
	return p.value(k, v)
}

// stripComment drops a comment: a line whose first non-blank is '#', or
// the rest of a line from a '#' after a blank.
func stripComment(s string) string {
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "#") {
		return ""
	}
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			s = s[:i]
			break
		}
	}
	return strings.TrimSpace(s)
}

func knownKeys() string {
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

// value reads the value of key k.
func (p *parser) value(k, v string) error {
	t := p.t
	switch k {
	case "version":
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("version %q: want a number: version = %d", v, Version)
		}
		if n != Version {
			return fmt.Errorf("version %d: this cnlab reads version %d only (is the file for a newer cnlab?)", n, Version)
		}
	case "module":
		if !moduleRE.MatchString(v) || len(v) > moduleNameMax {
			return fmt.Errorf("module %q: want the module's name, at most %d letters, digits, '_' or '-', as its .ko is named without .ko", v, moduleNameMax)
		}
		t.Module = v
	case "source", "kernel-source":
		_, source := p.seen["source"]
		_, kernelSource := p.seen["kernel-source"]
		if source && kernelSource {
			return fmt.Errorf("source and kernel-source both say where the module comes from: give one")
		}
		if k == "kernel-source" {
			return p.kernelSource(v)
		}
		t.Source, t.sourceLine = v, p.seen[k]
	case "ids":
		return p.ids(v)
	case "params":
		for _, f := range strings.Fields(v) {
			if !paramRE.MatchString(f) {
				return fmt.Errorf("params: %q: want name=value (or a bare name for a bool), separated by blanks", f)
			}
			t.Params = append(t.Params, f)
		}
	case "reply":
		switch r := Reply(v); r {
		case ReplySeqAck, ReplyNone:
			t.Promises.Reply = r
		default:
			return fmt.Errorf("reply %q: want seqack or none", v)
		}
	case "unload-under-traffic":
		switch v {
		case "yes":
			t.Promises.UnloadUnderTraffic = true
		case "no":
		default:
			return fmt.Errorf("unload-under-traffic %q: want yes or no", v)
		}
	case "senders":
		switch s := Senders(v); s {
		case SendersRoot, SendersAnyone:
			t.Promises.Senders = s
		default:
			return fmt.Errorf("senders %q: want root or anyone", v)
		}
	}
	return nil
}

func (p *parser) ids(v string) error {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	for _, f := range fields {
		id, err := connector.ParseID(f)
		if err != nil {
			return fmt.Errorf("ids: %w", err)
		}
		if p.t.HasID(id) {
			return fmt.Errorf("ids: %s given twice", id)
		}
		p.t.IDs = append(p.t.IDs, id)
	}
	if len(fields) == 0 {
		return fmt.Errorf("ids %q: no id: want idx:val, as in ids = 14:0x456 14:0x457", v)
	}
	return nil
}

func (p *parser) kernelSource(v string) error {
	hasC := false
	for _, f := range strings.Fields(v) {
		if filepath.IsAbs(f) || filepath.Clean(f) != f || strings.HasPrefix(f, "..") {
			return fmt.Errorf("kernel-source %q: want a path inside the kernel's source tree, such as samples/connector/cn_test.c", f)
		}
		switch filepath.Ext(f) {
		case ".c":
			hasC = true
		case ".h":
		default:
			return fmt.Errorf("kernel-source %q: want .c and .h files", f)
		}
		if slices.Contains(p.t.KernelSource, f) {
			return fmt.Errorf("kernel-source %q given twice", f)
		}
		p.t.KernelSource = append(p.t.KernelSource, f)
	}
	if !hasC {
		return fmt.Errorf("kernel-source %q: no .c file to build", v)
	}
	return nil
}

// complete checks that the file said everything it must.
func (p *parser) complete() error {
	if len(p.seen) == 0 {
		return fmt.Errorf("empty: a target file starts with version = %d", Version)
	}
	var missing []string
	for _, k := range required {
		if _, ok := p.seen[k]; !ok {
			missing = append(missing, fmt.Sprintf("%s (%s)", k, keys[k]))
		}
	}
	_, src := p.seen["source"]
	_, ksrc := p.seen["kernel-source"]
	if !src && !ksrc {
		missing = append(missing, "source or kernel-source (where the module's source is)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, "; "))
	}
	return nil
}
