package gcov

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cnlab/cnlab/vm/tail"
)

// Coverage is the module's line and function coverage from one run.
type Coverage struct {
	Lines, LinesHit         int
	Functions, FunctionsHit int
	// Uncovered lists the lines no spec reached, "file.c:123", in order.
	Uncovered []string
	HTML      string // the report's index.html
}

// LinePercent is the share of the module's lines that ran.
func (c *Coverage) LinePercent() float64 { return percent(c.LinesHit, c.Lines) }

// FunctionPercent is the share of the module's functions that ran.
func (c *Coverage) FunctionPercent() float64 { return percent(c.FunctionsHit, c.Functions) }

func percent(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// String is one line: line and function coverage and where the report is.
func (c *Coverage) String() string {
	return fmt.Sprintf("module coverage: lines %.1f%% (%d of %d), functions %.1f%% (%d of %d): %s",
		c.LinePercent(), c.LinesHit, c.Lines, c.FunctionPercent(), c.FunctionsHit, c.Functions, c.HTML)
}

// ModuleCoverage puts the module's gcov data (.gcda files from the guest's
// /sys/kernel/debug/gcov, keyed by their path there) beside the .gcno files
// of its build in kmodDir, and writes an lcov trace (lcov.info) and an HTML
// report (index.html) with Debian's lcov and genhtml into outDir.
func ModuleCoverage(ctx context.Context, kmodDir string, gcda map[string][]byte, outDir string) (*Coverage, error) {
	if len(gcda) == 0 {
		return nil, fmt.Errorf("coverage: the guest sent no .gcda file (was the module built with GCOV_PROFILE=y on a kernel with GCOV_KERNEL?)")
	}
	for _, tool := range []string{"lcov", "genhtml"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("coverage: %s not found: install Debian's lcov (apt-get install lcov)", tool)
		}
	}
	for name, data := range gcda {
		if err := os.WriteFile(filepath.Join(kmodDir, filepath.Base(name)), data, 0o644); err != nil {
			return nil, fmt.Errorf("coverage: %w", err)
		}
	}
	if err := os.RemoveAll(outDir); err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	info := filepath.Join(outDir, "lcov.info")
	log := filepath.Join(outDir, "lcov.log")
	steps := [][]string{
		{"lcov", "--capture", "--directory", kmodDir, "--output-file", info},
		{"genhtml", "--output-directory", outDir, "--title", "cnlab module", info},
	}
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		out, err := cmd.CombinedOutput()
		f, _ := os.OpenFile(log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if f != nil {
			fmt.Fprintf(f, "$ %s\n%s\n", strings.Join(s, " "), out)
			f.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("coverage: %s: %v (log: %s): %s", s[0], err, log, tail.Lines(string(out), 3))
		}
	}
	c, err := readLcovInfo(info, kmodDir)
	if err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	c.HTML = filepath.Join(outDir, "index.html")
	return c, nil
}

// readLcovInfo counts an lcov trace file's lines (DA) and functions
// (FN, FNDA) of the files in dir, the module's own (lcov 1.16 writes no
// LF/LH totals), and lists the lines with a zero count.
func readLcovInfo(path, dir string) (*Coverage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	abs, _ := filepath.Abs(dir)
	c := &Coverage{}
	type line struct {
		file string
		n    int
	}
	var zero []line
	file, mine := "", false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		if k == "SF" {
			file, mine = filepath.Base(v), filepath.Dir(v) == abs || filepath.Dir(v) == dir
			continue
		}
		if !mine {
			continue
		}
		switch k {
		case "FN":
			c.Functions++
		case "FNDA":
			if n, _, _ := strings.Cut(v, ","); n != "0" {
				c.FunctionsHit++
			}
		case "DA":
			ln, count, _ := strings.Cut(v, ",")
			c.Lines++
			if count == "0" {
				n, _ := strconv.Atoi(ln)
				zero = append(zero, line{file, n})
			} else {
				c.LinesHit++
			}
		}
	}
	sort.Slice(zero, func(i, j int) bool {
		if zero[i].file != zero[j].file {
			return zero[i].file < zero[j].file
		}
		return zero[i].n < zero[j].n
	})
	for _, z := range zero {
		c.Uncovered = append(c.Uncovered, fmt.Sprintf("%s:%d", z.file, z.n))
	}
	return c, sc.Err()
}
