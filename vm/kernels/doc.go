// Package kernels builds the kernels of cnlab's matrix that come from
// source: a Debian linux-source package at a pinned version, configured
// with `make tinyconfig` and config fragments committed in the repository
// (kernels/*.config), built out of tree into a cache.
//
// A build lives in a directory of the cache named for the kernel, the
// source version and a hash of everything that goes into it (package,
// version, release, the fragments' contents, the recipe), so that changing
// any of them builds anew and nothing else does. The directory holds the
// image (bzImage), a prepared build tree for modules (build, with .config,
// Module.symvers and vmlinux), the config and the installed modules
// (modules/lib/modules/<release>); it is relocatable: its build tree refers
// to its source by relative paths. A build is written to a temporary
// directory and renamed into place when complete, with a marker file
// (cnlab-kernel.json) inside; a directory without the marker, or a
// temporary one left by an interrupted build, is removed and built again,
// never used.
//
// The source package is taken from /usr/src when dpkg has that version
// installed, else downloaded with apt-get using a sources list of the
// project's own (kernels/apt.list) and state directories in the cache:
// nothing is added to the host's apt sources.
//
// SourceFiles takes a few files of a source package's tree out of its
// tarball (samples/connector/cn_test.c, for a target file's kernel-source)
// into the cache, once per package version, with the tarball found the same
// way, or in a directory of packages already downloaded (make setup's
// .cache/debs).
package kernels
