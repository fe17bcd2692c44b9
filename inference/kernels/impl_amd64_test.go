package kernels

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// The default build must get the assembly wherever the CPU allows it.
func TestDefaultPoolUsesAssemblyWhenCPUAllows(t *testing.T) {
	p := NewPool(1)
	defer p.Close()
	want := "go"
	switch {
	case hasAVX512():
		want = "avx512"
	case hasAVX2():
		want = "avx2"
	}
	if got := p.Impl(); got != want {
		t.Errorf("NewPool(1).Impl() = %q; want %q (AVX-512 F/BW/VL: %v)", got, want, hasAVX512())
	}
	if hasAVX512() && cpu.X86.HasAVX512VNNI && defaultImpl.tileQ8 == nil {
		t.Error("CPU has AVX-512 VNNI but the Q8_0 kernels are missing")
	}
}
