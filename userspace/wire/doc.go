// Package wire holds cnlab's wire format as Go sees it: the ids, limits,
// control operations and structures that kmod/cnlab_wire.h defines, and the
// size of the kernel's struct cn_msg.
//
// zdefs.go is generated from that header by "go generate" (go tool cgo
// -godefs over defs.go) and never edited; TestGeneratedMatchesHeader fails
// when the header and zdefs.go drift apart.
package wire

//go:generate sh -c "go tool cgo -godefs -- -I../../kmod defs.go | gofmt > zdefs.go; rm -rf _obj"
