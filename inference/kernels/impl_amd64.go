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

// hasAVX2 reports AVX2 with FMA. Every such CPU also has F16C (VCVTPH2PS),
// which x/sys/cpu does not report separately.
func hasAVX2() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// avx2Impl is the AVX2 kernel set: MatVec, Dot and Axpy in assembly, MatMul
// as one MatVec per input, the rest in Go.
func avx2Impl() *impl {
	im := *goImpl
	im.name = "avx2"
	im.rowsF32, im.rowsF16, im.rowsBF16 = rowsF32AVX2Go, rowsF16AVX2Go, rowsBF16AVX2Go
	im.tileF32, im.tileF16, im.tileBF16 = tileByRows(rowsF32AVX2Go), tileByRows(rowsF16AVX2Go), tileByRows(rowsBF16AVX2Go)
	im.rowsQ8, im.tileQ8 = rowsQ8AVX2Go, tileQ8ByRows(rowsQ8AVX2Go, q8BlockBytes)
	im.rowsQ4 = rowsQ4AVX2Go
	im.dot, im.axpy = dotAVX2, axpyAVX2
	im.axpyRows = func(y, a []float32, stride int, x []float32) {
		for r, xr := range x {
			axpyAVX2(xr, a[r*stride:r*stride+len(y)], y)
		}
	}
	return &im
}

// avx512Impl is the AVX-512 kernel set; Q8_0 falls back to the AVX2 kernel
// unless the CPU also has AVX-512 VNNI.
func avx512Impl() *impl {
	im := *goImpl
	im.name = "avx512"
	im.rowsF32, im.rowsF16, im.rowsBF16 = rowsF32ASM, rowsF16ASM, rowsBF16ASM
	im.tileF32, im.tileF16, im.tileBF16 = tileF32ASM, tileF16ASM, tileBF16ASM
	im.dot, im.axpy = dotAVX512, axpyAVX512
	im.expSub, im.swiglu = expSubASM, swigluASM
	im.max, im.scale = maxASM, scaleASM
	im.axpyRows = func(y, a []float32, stride int, x []float32) {
		for r, xr := range x {
			axpyAVX512(xr, a[r*stride:r*stride+len(y)], y)
		}
	}
	if cpu.X86.HasAVX512VNNI {
		im.rowsQ8, im.tileQ8 = rowsQ8ASM, tileQ8ASM
		im.quantizeQ8 = quantizeQ8ASM
		im.rowsQ4 = rowsQ4ASM
	} else {
		im.rowsQ8, im.tileQ8 = rowsQ8AVX2Go, tileQ8ByRows(rowsQ8AVX2Go, q8BlockBytes)
		im.rowsQ4 = rowsQ4AVX2Go
	}
	return &im
}

func bestImpl() *impl {
	switch {
	case hasAVX512():
		return avx512Impl()
	case hasAVX2():
		return avx2Impl()
	}
	return goImpl
}

// impls lists the kernel sets this machine can run, for tests.
func impls() []*impl {
	list := []*impl{goImpl}
	if hasAVX2() {
		list = append(list, avx2Impl())
	}
	if hasAVX512() {
		list = append(list, avx512Impl())
	}
	return list
}
