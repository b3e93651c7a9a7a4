package vm

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// MaxFuncLines bounds a function of vm/ and its packages, tests included:
// a reader takes in a function at once, and a long one is two ideas.
const MaxFuncLines = 120

// TestFunctionLength fails on any function in vm/ (this directory and
// everything under it) over MaxFuncLines lines, from func to its closing
// brace. make lint runs it.
func TestFunctionLength(t *testing.T) {
	fset := token.NewFileSet()
	var checked int
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			start, end := fset.Position(fd.Pos()), fset.Position(fd.End())
			if n := end.Line - start.Line + 1; n > MaxFuncLines {
				t.Errorf("vm/%s:%d: %s is %d lines, over %d: split it into functions named for what they do", filepath.ToSlash(path), start.Line, funcName(fd), n, MaxFuncLines)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk vm/: %v", err)
	}
	if checked == 0 {
		t.Fatal("no Go file found under vm/: run the test from its package directory")
	}
}

// funcName is a function's name as a reader looks for it: Type.Method or
// Func.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	typ := fd.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if g, ok := typ.(*ast.IndexExpr); ok {
		typ = g.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}
