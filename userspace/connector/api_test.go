package connector

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"testing"
)

// exportedAPI lists the package's exported functions, methods and types as
// the files built for goos declare them.
func exportedAPI(t *testing.T, goos string) []string {
	t.Helper()
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = goos, "amd64", false
	pkg, err := ctx.ImportDir(".", 0)
	if err != nil {
		t.Fatalf("%s: %v", goos, err)
	}
	var api []string
	fset := token.NewFileSet()
	for _, name := range pkg.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(pkg.Dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				name := d.Name.Name
				if d.Recv != nil {
					recv := d.Recv.List[0].Type
					if star, ok := recv.(*ast.StarExpr); ok {
						recv = star.X
					}
					id, ok := recv.(*ast.Ident)
					if !ok || !id.IsExported() {
						continue
					}
					name = id.Name + "." + name
				}
				api = append(api, name)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.IsExported() {
						api = append(api, "type "+ts.Name.Name)
					}
				}
			}
		}
	}
	slices.Sort(api)
	return api
}

// TestSameAPIEverywhere: the Linux-only methods have stubs elsewhere, so
// that code using them builds on every system (and fails at run time with
// an error that is errors.ErrUnsupported).
func TestSameAPIEverywhere(t *testing.T) {
	linux := exportedAPI(t, "linux")
	for _, goos := range []string{"darwin", "windows", "freebsd"} {
		other := exportedAPI(t, goos)
		for _, name := range linux {
			if !slices.Contains(other, name) {
				t.Errorf("%s on linux, missing on %s", name, goos)
			}
		}
		for _, name := range other {
			if !slices.Contains(linux, name) {
				t.Errorf("%s on %s, missing on linux", name, goos)
			}
		}
	}
}

// TestNoExportedSeam: the way fakes reach a Conn is not part of the API
// (mdlayher/netlink deprecated its exported Socket for the same reasons: a
// second implementation to keep in step, and users who take it for a
// supported extension point). Package cntest reaches it through an internal
// package.
func TestNoExportedSeam(t *testing.T) {
	api := exportedAPI(t, "linux")
	for _, name := range []string{"NewConn", "type Socket", "type GroupSocket"} {
		if slices.Contains(api, name) {
			t.Errorf("%s is exported", name)
		}
	}
}
