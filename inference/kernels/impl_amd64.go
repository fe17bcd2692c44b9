package kernels

import "golang.org/x/sys/cpu"

// defaultImpl is the kernel set NewPool and the vector helpers use, chosen
// once from the CPU's features: logically a constant.
var defaultImpl = bestImpl()

// hasAVX512 reports the AVX-512 subsets the float kernels use (F for the
// arithmetic, BW and VL for the 256-bit and word forms); x/sys/cpu also
// checks that the OS saves the AVX-512 registers.
func hasAVX512() bool {
	return cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasFMA
}

// avx512Impl is the assembly kernel set; Q8_0 falls back to Go unless the
// CPU also has AVX-512 VNNI.
func avx512Impl() *impl {
	im := *goImpl
	im.name = "avx512"
	im.rowsF32, im.rowsF16, im.rowsBF16 = rowsF32ASM, rowsF16ASM, rowsBF16ASM
	im.tileF32, im.tileF16, im.tileBF16 = tileF32ASM, tileF16ASM, tileBF16ASM
	im.dot, im.axpy = dotAVX512, axpyAVX512
	im.expSub, im.swiglu = expSubASM, swigluASM
	im.max, im.scale = maxASM, scaleASM
	if cpu.X86.HasAVX512VNNI {
		im.rowsQ8, im.tileQ8 = rowsQ8ASM, tileQ8ASM
		im.quantizeQ8 = quantizeQ8ASM
	}
	return &im
}

func bestImpl() *impl {
	if hasAVX512() {
		return avx512Impl()
	}
	return goImpl
}

// impls lists the kernel sets this machine can run, for tests.
func impls() []*impl {
	if hasAVX512() {
		return []*impl{goImpl, avx512Impl()}
	}
	return []*impl{goImpl}
}
