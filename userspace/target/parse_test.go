package target

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cnlab/cnlab/userspace/connector"
)

// good is a complete file; each error case below breaks one thing of it.
const good = `# cn_buggy with its leak planted
version = 1
module = cn_buggy
source = .
ids = 17:0x1 17:2
params = bug=leak verbose
reply = seqack   # seq kept, ack = seq + 1
unload-under-traffic = yes
senders = anyone
`

func TestParse(t *testing.T) {
	got, err := Parse("good.target", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	want := &Target{File: "good.target", Module: "cn_buggy", Source: ".",
		IDs:        []connector.ID{{Idx: 17, Val: 1}, {Idx: 17, Val: 2}},
		Params:     []string{"bug=leak", "verbose"},
		Promises:   Promises{Reply: ReplySeqAck, UnloadUnderTraffic: true, Senders: SendersAnyone},
		sourceLine: 4}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", got, want)
	}
	if s := got.ParamString(); s != "bug=leak verbose" {
		t.Errorf("ParamString = %q", s)
	}
}

func TestParseKernelSource(t *testing.T) {
	in := "version = 1\nmodule = cn-test\nkernel-source = samples/connector/cn_test.c include/x.h\nids = 14:0x456, 14:0x457\nreply = none\nunload-under-traffic = no\nsenders = root\n"
	got, err := Parse("cn_test.target", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.KernelSource, []string{"samples/connector/cn_test.c", "include/x.h"}) || got.Source != "" {
		t.Errorf("KernelSource %q, Source %q", got.KernelSource, got.Source)
	}
	if got.KernelName() != "cn_test" {
		t.Errorf("KernelName = %q, want cn_test", got.KernelName())
	}
	want := Promises{Reply: ReplyNone, UnloadUnderTraffic: false, Senders: SendersRoot}
	if got.Promises != want {
		t.Errorf("Promises = %+v, want %+v", got.Promises, want)
	}
	if !got.HasID(connector.ID{Idx: 14, Val: 0x457}) || got.HasID(connector.ID{Idx: 14, Val: 0x458}) {
		t.Errorf("HasID disagrees with ids %v", got.IDs)
	}
}

// edit returns good with the line that starts with old replaced by repl
// (or dropped, when repl is empty).
func edit(old, repl string) string {
	var out []string
	for _, l := range strings.Split(good, "\n") {
		if strings.HasPrefix(l, old) {
			if repl == "" {
				continue
			}
			l = repl
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // the whole message, file:line: what
	}{
		{"empty", "", "t: empty: a target file starts with version = 1"},
		{"comments only", "# nothing\n\n", "t: empty: a target file starts with version = 1"},
		{"no equals sign", edit("module", "module cn_buggy"), `t:3: "module cn_buggy": want key = value`},
		{"unknown key", edit("senders", "sender = anyone"), `t:9: unknown key "sender" (version 1 knows ids, kernel-source, module, params, reply, senders, source, unload-under-traffic, version)`},
		{"version not first", "module = x\nversion = 1\n", "t:1: the first line must say the format's version: version = 1"},
		{"version not a number", edit("version", "version = one"), `t:2: version "one": want a number: version = 1`},
		{"a newer version", edit("version", "version = 2"), "t:2: version 2: this cnlab reads version 1 only (is the file for a newer cnlab?)"},
		{"a key twice", good + "reply = none\n", "t:10: reply given twice (first on line 7)"},
		{"no value", edit("params", "params ="), "t:6: params has no value: want the module's parameters: params = name=value ..."},
		{"module name with a dot", edit("module", "module = cn_buggy.ko"), `t:3: module "cn_buggy.ko": want the module's name, at most 55 letters, digits, '_' or '-', as its .ko is named without .ko`},
		{"module name too long", edit("module", "module = "+strings.Repeat("m", 56)), `t:3: module "` + strings.Repeat("m", 56) + `": want the module's name, at most 55 letters, digits, '_' or '-', as its .ko is named without .ko`},
		{"source and kernel-source", edit("source", "source = .\nkernel-source = samples/connector/cn_test.c"), "t:5: source and kernel-source both say where the module comes from: give one"},
		{"kernel-source and source", edit("source", "kernel-source = samples/connector/cn_test.c\nsource = ."), "t:5: source and kernel-source both say where the module comes from: give one"},
		{"kernel-source absolute", edit("source", "kernel-source = /usr/src/cn_test.c"), `t:4: kernel-source "/usr/src/cn_test.c": want a path inside the kernel's source tree, such as samples/connector/cn_test.c`},
		{"kernel-source outside the tree", edit("source", "kernel-source = ../cn_test.c"), `t:4: kernel-source "../cn_test.c": want a path inside the kernel's source tree, such as samples/connector/cn_test.c`},
		{"kernel-source not clean", edit("source", "kernel-source = samples//cn_test.c"), `t:4: kernel-source "samples//cn_test.c": want a path inside the kernel's source tree, such as samples/connector/cn_test.c`},
		{"kernel-source not C", edit("source", "kernel-source = samples/connector/Makefile"), `t:4: kernel-source "samples/connector/Makefile": want .c and .h files`},
		{"kernel-source twice the same", edit("source", "kernel-source = a.c a.c"), `t:4: kernel-source "a.c" given twice`},
		{"kernel-source headers only", edit("source", "kernel-source = a.h"), `t:4: kernel-source "a.h": no .c file to build`},
		{"an id without val", edit("ids", "ids = 17"), `t:5: ids: parse id "17": want idx:val, as in 14:0x456`},
		{"an id that is no number", edit("ids", "ids = 17:x1"), `t:5: ids: parse id "17:x1": val: strconv.ParseUint: parsing "x1": invalid syntax`},
		{"an id over 32 bits", edit("ids", "ids = 4294967296:1"), `t:5: ids: parse id "4294967296:1": idx: strconv.ParseUint: parsing "4294967296": value out of range`},
		{"an id twice", edit("ids", "ids = 17:1 17:0x1"), "t:5: ids: 17:0x1 given twice"},
		{"ids that are only commas", edit("ids", "ids = ,,"), `t:5: ids ",,": no id: want idx:val, as in ids = 14:0x456 14:0x457`},
		{"a parameter with a blank in its value", edit("params", `params = name="a b"`), `t:6: params: "b\"": want name=value (or a bare name for a bool), separated by blanks`},
		{"a parameter with no name", edit("params", "params = =1"), `t:6: params: "=1": want name=value (or a bare name for a bool), separated by blanks`},
		{"an unknown reply rule", edit("reply", "reply = echo"), `t:7: reply "echo": want seqack or none`},
		{"unload not yes or no", edit("unload", "unload-under-traffic = true"), `t:8: unload-under-traffic "true": want yes or no`},
		{"unknown senders", edit("senders", "senders = users"), `t:9: senders "users": want root or anyone`},
		{"missing ids", edit("ids", ""), "t: missing ids (the connector ids the module registers, idx:val: ids = 14:0x456 14:0x457)"},
		{"missing promises", edit("reply", "") + "", "t: missing reply (how the module replies: reply = seqack (seq kept, ack = seq + 1, to the sender) or reply = none)"},
		{"missing several", "version = 1\nmodule = m\n", "t: missing ids (the connector ids the module registers, idx:val: ids = 14:0x456 14:0x457); " +
			"reply (how the module replies: reply = seqack (seq kept, ack = seq + 1, to the sender) or reply = none); " +
			"unload-under-traffic (whether the module may be unloaded while messages arrive: unload-under-traffic = yes or no); " +
			"senders (who may send to its ids: senders = root (CAP_NET_ADMIN) or anyone); " +
			"source or kernel-source (where the module's source is)"},
		{"missing the source", edit("source", ""), "t: missing source or kernel-source (where the module's source is)"},
		{"a line too long", "version = 1\nparams = " + strings.Repeat("p", 70000) + "\n", "t:2: bufio.Scanner: token too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("t", strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("Parse = %+v, want the error %q", got, tt.want)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Errorf("error %T is not a *target.Error", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) string {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("mod/Kbuild", "obj-m += cn_buggy.o\n")
	write("make/Makefile", "obj-m += cn_buggy.o\n")
	if err := os.MkdirAll(filepath.Join(dir, "nothing"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, source string
		wantDir      string // the absolute source on success
		wantErr      string // after the file's name
	}{
		{"a Kbuild beside the file", "mod", filepath.Join(dir, "mod"), ""},
		{"a Makefile", "make", filepath.Join(dir, "make"), ""},
		{"relative to the file, not the working directory", "./mod/", filepath.Join(dir, "mod"), ""},
		{"no such directory", "absent", "", ":4: source absent: no such directory (" + filepath.Join(dir, "absent") + "; a source directory is relative to the target file)"},
		{"a file, not a directory", "mod/Kbuild", "", ":4: source mod/Kbuild: no such directory"},
		{"no Kbuild or Makefile", "nothing", "", ":4: source nothing: " + filepath.Join(dir, "nothing") + " has no Kbuild or Makefile to build the module with (obj-m += cn_buggy.o)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(tt.name+".target", edit("source", "source = "+tt.source))
			got, err := Read(p)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), p+tt.wantErr) {
					t.Fatalf("Read = %v, want an error starting %q", err, p+tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Source != tt.wantDir {
				t.Errorf("Source = %q, want %q", got.Source, tt.wantDir)
			}
		})
	}
	if _, err := Read(filepath.Join(dir, "absent.target")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Read of a missing file = %v, want it to say so", err)
	}
	ks := write("ks.target", edit("source", "kernel-source = samples/connector/cn_test.c"))
	if got, err := Read(ks); err != nil || got.Source != "" {
		t.Errorf("Read of a kernel-source target = %+v, %v; want no source directory and no error", got, err)
	}
}
