package runner

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
// project's revision and its exact source (every file git tracks or would
// track, as it is on disk: committed, changed and untracked alike), the
// files given with -add, each kernel's release, package and config, the
// module's build log, the console and run logs, the results and
// summary.json (with the seed), the probes' record of every connector
// message, and replay.sh, which rebuilds the same run from that source on a
// machine with the same kernel packages.
func writeBundle(o *Options, results []*kernelResult) error {
	var files []bundleFile
	add := func(name string, data []byte, mode int64) {
		files = append(files, bundleFile{name, data, mode})
	}
	addFile := func(name, path string) {
		if b, err := os.ReadFile(path); err == nil {
			add(name, b, 0o644)
		}
	}

	add("cmdline.txt", []byte(shellJoin(o.Args)+"\n"), 0o644)
	rev := gitOut(o.Src, "rev-parse", "HEAD")
	status := gitOut(o.Src, "status", "--porcelain")
	add("revision.txt", []byte(fmt.Sprintf("%s\nchanged and untracked files (all in source.tar as they were):\n%s", rev, status)), 0o644)
	source, err := sourceTar(o.Src)
	if err != nil {
		return err
	}
	add("source.tar", source, 0o644)
	add("source.diff", []byte(gitOut(o.Src, "diff", "HEAD")), 0o644)

	added := map[string]string{} // -add value -> its value in the replay
	for i, a := range o.Add {
		host, guestPath, _ := strings.Cut(a, ":")
		b, err := os.ReadFile(host)
		if err != nil {
			return fmt.Errorf("bundle the -add file: %w", err)
		}
		name := fmt.Sprintf("added/%d-%s", i+1, filepath.Base(host))
		add(name, b, 0o755)
		added[a] = "$here/" + name + ":" + guestPath
	}

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
	add("replay.sh", []byte(replayScript(o.args(), o.Seed, added)), 0o755)

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
	return os.WriteFile(o.Bundle, buf.Bytes(), 0o644)
}

type bundleFile struct {
	name string
	data []byte
	mode int64
}

// replayScript rebuilds the run: the bundled source, the set-up, the
// runner, and the same arguments but those that name this machine's
// source tree or bundle, with the bundled copies of -add files and the
// run's seed.
func replayScript(args []string, seed int64, added map[string]string) string {
	var keep []string
	hasSeed := false
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		name, value, hasValue := strings.Cut(a, "=")
		switch name {
		case "src", "bundle", "out":
			if !hasValue {
				i++ // its value is the next argument
			}
			continue
		case "add":
			if !hasValue && i+1 < len(args) {
				i++
				value = args[i]
			}
			keep = append(keep, "-add", added[value])
			continue
		case "seed":
			hasSeed = true
		}
		keep = append(keep, args[i])
	}
	if !hasSeed && seed != 0 {
		keep = append(keep, "-seed", fmt.Sprint(seed))
	}
	// The bundled -add files are named from where the bundle is unpacked.
	quoted := strings.ReplaceAll(shellJoin(keep), "'$here/", `"$here"'/`)
	return `#!/bin/sh
# Replays a cnlab run from its bug report bundle: the same source, the same
# kernels (installed by make setup-all at the versions the source pins; see
# kernels.txt for what the original run used), the same arguments, files
# and seed.
# Exit code: the runner's (0 passed, 1 failed, 2 kernel failure, 3 could
# not run, 4 module does not build, 5 bad arguments, 130 interrupted).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
tar -C "$work" -xf "$here/source.tar"
cd "$work"
make -s setup-all build/cnlab-vm
set +e
build/cnlab-vm ` + quoted + `
code=$?
echo "replay: the runner exited with $code; the replayed run's files are in $work/build"
exit $code
`
}

// sourceTar packs the source tree as it is on disk: every file git tracks
// or would track (not what .gitignore excludes).
func sourceTar(src string) ([]byte, error) {
	list, err := exec.Command("git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return nil, fmt.Errorf("list the source files of %s: %w (a bundle needs the source in git)", src, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, name := range strings.Split(string(list), "\x00") {
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		path := filepath.Join(src, name)
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, or not a file
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("bundle the source: %w", err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), Size: int64(len(b)), ModTime: fi.ModTime()}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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
