package connector

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
)

// TestPointersOnlyToSystemCalls: a pointer converted to uintptr in a call's
// arguments is kept alive, and where it is, only when the callee is one of
// the system call functions the compiler knows (x/sys's and syscall's
// body-less or //go:uintptrkeepalive calls). Through a function variable
// the uintptr is a plain integer: the object it points to may move (a
// goroutine's stack grows in the callee's prologue) or be freed before the
// kernel writes to it. So every such call must name unix.* or syscall.*
// directly.
func TestPointersOnlyToSystemCalls(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			for _, arg := range call.Args {
				if !isUintptrOfPointer(arg) {
					continue
				}
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
					if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "unix" || pkg.Name == "syscall") {
						continue
					}
				}
				t.Errorf("%s: uintptr(unsafe.Pointer(...)) passed to %s, not to a unix or syscall function", fset.Position(arg.Pos()), funcName(call.Fun))
			}
			return true
		})
	}
}

func isUintptrOfPointer(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return false
	}
	if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "uintptr" {
		return false
	}
	inner, ok := call.Args[0].(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := inner.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Pointer"
}

// funcName names a call's function as written.
func funcName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return funcName(e.X) + "." + e.Sel.Name
	}
	return "a function value"
}
