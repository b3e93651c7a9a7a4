package runner

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/cnlab/cnlab/vm/kernels"
)

// ListedKernel is one kernel of a kernels.conf, as a forge's job matrix
// takes it (GitHub Actions' fromJSON, GitLab's parallel:matrix).
type ListedKernel struct {
	Name    string `json:"name"`
	Release string `json:"release"`
	// From is "debian" for Debian's prebuilt packages, or "source" for a
	// kernel built from a Debian linux-source package.
	From    string `json:"from"`
	Package string `json:"package"` // the source package, or the image package
	Version string `json:"version"`
	MayFail bool   `json:"may_fail"`
}

// ListKernels reads a kernels.conf and writes its kernels: a JSON array
// with asJSON, else one line each.
func ListKernels(w io.Writer, conf string, asJSON bool) error {
	ks, err := kernels.ReadConf(conf)
	if err != nil {
		return err
	}
	list := []ListedKernel{}
	for _, k := range ks {
		l := ListedKernel{Name: k.Name, Release: k.Release, From: "debian", Package: "linux-image-" + k.Release, Version: k.Version, MayFail: k.MayFail}
		if k.FromSource() {
			l.From, l.Package = "source", k.Package
		}
		list = append(list, l)
	}
	if asJSON {
		b, err := json.Marshal(list)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	for _, l := range list {
		mayFail := ""
		if l.MayFail {
			mayFail = " (may fail)"
		}
		if _, err := fmt.Fprintf(w, "%-10s %-28s %-6s %s=%s%s\n", l.Name, l.Release, l.From, l.Package, l.Version, mayFail); err != nil {
			return err
		}
	}
	return nil
}
