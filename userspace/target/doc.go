// Package target reads target files: what a driver author tells cnlab about
// a connector module of their own, so that the lab builds it, loads it
// instead of cnlab's module and points its generic suite at it.
//
// A target file is small line-based text, "key = value" a line, versioned
// by its first line (docs/targets.md is the format's reference):
//
//	version = 1
//	module = cn_buggy
//	source = .
//	ids = 17:0x1
//	params = bug=leak
//	reply = seqack
//	unload-under-traffic = yes
//	senders = anyone
//
// The runner reads it with Read, which also checks that the source
// directory is there; the suites in the guest read the same file with
// Parse, which checks only the text. A file that does not parse is an
// *Error that names the file and the line.
package target
