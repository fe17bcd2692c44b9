//go:build !amd64

package kernels

// defaultImpl is the kernel set NewPool and the vector helpers use: plain Go
// on architectures without assembly kernels.
var defaultImpl = goImpl

func bestImpl() *impl { return goImpl }

// impls lists the kernel sets this machine can run, for tests.
func impls() []*impl { return []*impl{goImpl} }
