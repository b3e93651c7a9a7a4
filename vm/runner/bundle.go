package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// writeBundle writes a bug report: a gzipped tar with the command line, the
// project's revision and its exact source (git archive of HEAD and the
// uncommitted diff), each kernel's release, package and config, the
// module's build log, the console and run logs, the results, the probes'
// record of every connector message, and replay.sh,
// which rebuilds the same run from that source on a machine with the same
// kernel packages.
func writeBundle(o *options, results []*kernelResult) error {
	var files []bundleFile
	add := func(name string, data []byte, mode int64) {
		files = append(files, bundleFile{name, data, mode})
	}
	addFile := func(name, path string) {
		if b, err := os.ReadFile(path); err == nil {
			add(name, b, 0o644)
		}
	}

	add("cmdline.txt", []byte(shellJoin(os.Args)+"\n"), 0o644)
	rev := gitOut(o.src, "rev-parse", "HEAD")
	status := gitOut(o.src, "status", "--porcelain", "--untracked-files=no")
	add("revision.txt", []byte(fmt.Sprintf("%s\nuncommitted changes:\n%s", rev, status)), 0o644)
	archive, err := exec.Command("git", "-C", o.src, "archive", "--format=tar", "HEAD").Output()
	if err != nil {
		return fmt.Errorf("git archive of %s: %w (a bundle needs the source in git)", o.src, err)
	}
	add("source.tar", archive, 0o644)
	add("source.diff", []byte(gitOut(o.src, "diff", "HEAD")), 0o644)

	var kernels strings.Builder
	for _, r := range results {
		pkg := strings.TrimSpace(cmdOut("dpkg-query", "-S", r.t.Image))
		ver := ""
		if name, _, ok := strings.Cut(pkg, ":"); ok {
			ver = strings.TrimSpace(cmdOut("dpkg-query", "-W", "-f=${Version}", name))
		}
		fmt.Fprintf(&kernels, "%s\t%s\t%s\t%s %s\n", r.t.Name, r.t.Release, r.t.Image, pkg, ver)
		d := r.t.Release + "/"
		addFile(d+"config", r.t.Config)
		addFile(d+"module-build.log", filepath.Join(r.dir, "kmod", "build.log"))
		for _, f := range []string{"console.log", "run.log", "results.ktap", "results.junit.xml", "e2e-report.json", "summary.json", "probe-records.jsonl.gz"} {
			addFile(d+f, filepath.Join(r.dir, f))
		}
	}
	add("kernels.txt", []byte(kernels.String()), 0o644)
	add("replay.sh", []byte(replayScript(os.Args[1:])), 0o755)

	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	now := time.Now()
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "cnlab-bundle/" + f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: now}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(o.bundle, buf.Bytes(), 0o644)
}

type bundleFile struct {
	name string
	data []byte
	mode int64
}

// replayScript rebuilds the run: the bundled source, the set-up, the
// runner, and the same arguments but those that name this machine's
// source tree or bundle.
func replayScript(args []string) string {
	var keep []string
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		name, _, hasValue := strings.Cut(a, "=")
		if name == "src" || name == "bundle" {
			if !hasValue {
				i++ // its value is the next argument
			}
			continue
		}
		keep = append(keep, args[i])
	}
	return `#!/bin/sh
# Replays a cnlab run from its bug report bundle: the same source, the same
# kernels (installed by make setup-all at the versions the source pins; see
# kernels.txt for what the original run used), the same arguments.
# Exit code: the runner's (0 passed, 1 failed, 2 kernel failure, 3 could not run).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
tar -C "$work" -xf "$here/source.tar"
if [ -s "$here/source.diff" ]; then
	(cd "$work" && git apply "$here/source.diff")
fi
cd "$work"
make -s setup-all build/cnlab-vm
set +e
build/cnlab-vm ` + shellJoin(keep) + `
code=$?
echo "replay: the runner exited with $code; the replayed run's files are in $work/build"
exit $code
`
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func gitOut(dir string, args ...string) string {
	return cmdOut("git", append([]string{"-C", dir}, args...)...)
}

func cmdOut(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return fmt.Sprintf("(%s %s: %v)", name, strings.Join(args, " "), err)
	}
	return string(out)
}
