package kernels

// defaultImpl is the kernel set NewPool and the vector helpers use, chosen
// once from the CPU's features: logically a constant.
var defaultImpl = bestImpl()

func bestImpl() *impl { return goImpl }

// impls lists the kernel sets this machine can run, for tests.
func impls() []*impl { return []*impl{goImpl} }
