package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDpkgQuery answers as a host would whose packages are all at the
// versions kernels.conf pins, except those FAKE_HELD names (name=version).
const fakeDpkgQuery = `#!/usr/bin/env bash
name=${@: -1}
for h in $FAKE_HELD; do
	if [ "${h%%=*}" = "$name" ]; then v=${h#*=}; fi
done
if [ -z "${v:-}" ]; then
	v=$(awk -v n="$name" '$1 !~ /^#/ && NF >= 3 && ("linux-image-" $2 == n || "linux-headers-" $2 == n) {print $3}' "$FAKE_CONF")
	[ -n "$v" ] || v=1.0
fi
case "$*" in
*Status*) echo "install ok installed|$v" ;;
*) echo "$v" ;;
esac
`

// fakeAptGet writes down every call; download makes a linux-source .deb
// holding the files setup.sh unpacks from it.
const fakeAptGet = `#!/usr/bin/env bash
echo "apt-get $*" >>"$FAKE_DIR/calls"
case " $* " in
*" download "*)
	pkg=${@: -1}
	name=${pkg%%=*} ver=${pkg#*=}
	t=$(mktemp -d)
	mkdir -p "$t/tree/linux-source-6.1/scripts" "$t/tree/linux-source-6.1/tools/testing/kunit" "$t/deb/usr/src" "$t/deb/DEBIAN"
	for f in checkpatch.pl decode_stacktrace.sh spelling.txt const_structs.checkpatch; do echo "$ver" >"$t/tree/linux-source-6.1/scripts/$f"; done
	chmod +x "$t/tree/linux-source-6.1/scripts/checkpatch.pl"
	echo "$ver" >"$t/tree/linux-source-6.1/tools/testing/kunit/kunit.py"
	tar -C "$t/tree" -cJf "$t/deb/usr/src/linux-source-6.1.tar.xz" linux-source-6.1
	printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: x <x@x>\nDescription: x\n' "$name" "$ver" >"$t/deb/DEBIAN/control"
	dpkg-deb -b "$t/deb" "${name}_${ver}_all.deb" >/dev/null
	rm -rf "$t" ;;
esac
`

func TestSetup(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("SKIP: no dpkg-deb on this host: setup.sh is Debian's")
	}
	tests := []struct {
		name string
		held string // packages the host holds at another version than the pin
		// wantInstall: what setup.sh must ask apt-get to install, "" for nothing.
		wantInstall string
		// wantDownload: a pinned package fetched without installing it.
		wantDownload string
	}{
		{name: "everything at the pins", wantDownload: "linux-source-6.1=6.1.192-2"},
		{
			// CI's machine in stop 30: a security update had moved the
			// host's linux-source-6.1, and setup refused to downgrade it.
			name:         "host's linux-source newer than the pin",
			held:         "linux-source-6.1=6.1.192-3",
			wantDownload: "linux-source-6.1=6.1.192-2",
		},
		{
			name:        "a pinned kernel image moved by an upgrade",
			held:        "linux-source-6.1=6.1.192-2 linux-image-6.1.0-56-amd64=6.1.192-3",
			wantInstall: "--allow-downgrades",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			top := filepath.Join(dir, "top")
			bin := filepath.Join(dir, "bin")
			conf := filepath.Join(top, "kernels", "kernels.conf")
			for _, d := range []string{filepath.Join(top, "scripts"), filepath.Dir(conf), bin, filepath.Join(dir, "usr")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for from, to := range map[string]string{
				"setup.sh":                filepath.Join(top, "scripts", "setup.sh"),
				"kernel-info":             filepath.Join(top, "scripts", "kernel-info"),
				"../kernels/kernels.conf": conf,
			} {
				b, err := os.ReadFile(from)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(to, b, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			fakes := map[string]string{
				"dpkg-query": fakeDpkgQuery,
				"apt-get":    fakeAptGet,
				// setup.sh installs only as root; the fake machine is one.
				"id":   "#!/bin/sh\necho 0\n",
				"dpkg": "#!/bin/sh\nexec /usr/bin/dpkg \"$@\"\n",
				"grep": "#!/bin/sh\nexec /bin/grep \"$@\"\n",
			}
			for name, body := range fakes {
				if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(filepath.Join(top, "scripts", "setup.sh"))
			cmd.Env = append(os.Environ(),
				"PATH="+bin+":"+os.Getenv("PATH"),
				"FAKE_DIR="+dir,
				"FAKE_HELD="+tt.held,
				"FAKE_CONF="+conf)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("setup.sh: %v\n%s", err, out)
			}
			calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
			var installs []string
			for _, l := range strings.Split(string(calls), "\n") {
				if strings.Contains(l, " install ") {
					installs = append(installs, l)
				}
			}
			switch {
			case tt.wantInstall == "" && len(installs) > 0:
				t.Errorf("setup.sh installed packages on a host that has what it needs: %q\n%s", installs, out)
			case tt.wantInstall != "" && (len(installs) != 1 || !strings.Contains(installs[0], tt.wantInstall)):
				t.Errorf("setup.sh's installs = %q, want one with %q\n%s", installs, tt.wantInstall, out)
			}
			for _, l := range installs {
				if strings.Contains(l, "linux-source") {
					t.Errorf("setup.sh installs the host's linux-source package (%q): it must only unpack the pinned one in .cache", l)
				}
			}
			if tt.wantDownload != "" && !strings.Contains(string(calls), "download "+tt.wantDownload) &&
				!strings.Contains(string(calls), "download -qq "+tt.wantDownload) {
				t.Errorf("setup.sh did not download %s; apt-get calls:\n%s", tt.wantDownload, calls)
			}
			if tt.wantDownload != "" {
				v := strings.SplitN(tt.wantDownload, "=", 2)[1]
				got, err := os.ReadFile(filepath.Join(top, ".cache/linux-source-6.1/scripts/checkpatch.pl"))
				if first, _, _ := strings.Cut(string(got), "\n"); err != nil || first != v {
					t.Errorf("checkpatch.pl in .cache begins %q (%v), want the pinned %s's", first, err, v)
				}
			}
			// Idempotent: a second run on the same host changes nothing.
			os.Remove(filepath.Join(dir, "calls"))
			cmd2 := exec.Command(cmd.Path)
			cmd2.Env = append(cmd.Env[:len(cmd.Env)-3:len(cmd.Env)-3], "FAKE_DIR="+dir, "FAKE_HELD="+strings.ReplaceAll(tt.held, "linux-image-6.1.0-56-amd64=6.1.192-3", ""), "FAKE_CONF="+conf)
			if out, err := cmd2.CombinedOutput(); err != nil {
				t.Fatalf("setup.sh, second run: %v\n%s", err, out)
			}
			if calls, _ := os.ReadFile(filepath.Join(dir, "calls")); len(calls) > 0 {
				t.Errorf("setup.sh's second run called apt-get:\n%s", calls)
			}
		})
	}
}
