package kernels

// MarkerName is the file that makes a directory a complete kernel: its
// Info, as JSON.
const MarkerName = markerName

// Open reads a kernel directory (a build of the cache, or one exported by
// cnlab-vm -export-kernel, moved anywhere): the image, the prepared build
// tree with Module.symvers, the config and the modules. A directory without
// the marker, or without one of these, is refused.
func Open(dir string) (Build, error) { return open(dir) }
