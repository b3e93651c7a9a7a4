// Package seqgap finds the messages a listener missed from the seqs of those
// it received: kernel-initiated connector messages number each stream (an id
// on a group) with a seq that counts up by one, so a jump is a loss.
package seqgap
