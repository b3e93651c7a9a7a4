// Package scripts holds the host tests of cnlab's shell scripts: each runs
// a copy of a script against fake system tools (dpkg-query, apt-get) in a
// temporary tree, so that what the script does to a machine is checked
// without touching this one.
package scripts
