package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestF16RoundTripsEveryHalf(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if f != f { // NaN: only the class must survive
			if g := F16ToF32(F32ToF16(f)); g == g {
				t.Fatalf("F32ToF16(NaN from %#04x) lost NaN", h)
			}
			continue
		}
		if got := F32ToF16(f); got != uint16(h) {
			t.Fatalf("F32ToF16(F16ToF32(%#04x) = %g) = %#04x", h, f, got)
		}
	}
}

func TestF16RoundsToNearest(t *testing.T) {
	tests := []struct {
		in   float32
		want float32
	}{
		{1, 1}, {-2.5, -2.5}, {65504, 65504}, {1e6, float32(math.Inf(1))},
		{1 + 1.0/4096, 1}, // below half an ulp (1/1024)
		{1 + 3.0/2048, 1 + 2.0/1024},
		{6e-8, 5.960464477539063e-08}, // smallest subnormal
	}
	for _, tt := range tests {
		if got := F16ToF32(F32ToF16(tt.in)); got != tt.want {
			t.Errorf("F16 round trip of %g = %g; want %g", tt.in, got, tt.want)
		}
	}
}

func TestBF16(t *testing.T) {
	for _, v := range []float32{0, 1, -3.5, 0x1p100, 1.0078125} {
		if got := BF16ToF32(F32ToBF16(v)); got != v {
			t.Errorf("BF16 round trip of %g = %g", v, got)
		}
	}
	if got := BF16ToF32(F32ToBF16(1.001)); got != 1 {
		t.Errorf("BF16(1.001) = %g; want 1", got)
	}
}

func TestQ8_0WithinHalfAStep(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]float32, 32*7)
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	src[5] = 0
	enc, err := EncodeRow(nil, src, Q8_0)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) != 7*34 {
		t.Fatalf("Q8_0 of 224 values is %d bytes; want %d", len(enc), 7*34)
	}
	dst := make([]float32, len(src))
	if err := DequantizeRow(dst, enc, Q8_0); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 7; b++ {
		amax := 0.0
		for _, v := range src[b*32 : b*32+32] {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		step := amax / 127
		for i := b * 32; i < b*32+32; i++ {
			if d := math.Abs(float64(dst[i] - src[i])); d > step*0.51+1e-3*step {
				t.Fatalf("value %d: %g decoded as %g, off by %g > half a step %g", i, src[i], dst[i], d, step/2)
			}
		}
	}
}

func TestValidateRejectsMismatchedData(t *testing.T) {
	tests := []struct {
		name string
		t    Tensor
	}{
		{"short", Tensor{Name: "w", Type: F32, Shape: []int{4, 2}, Data: make([]byte, 31)}},
		{"partial block", Tensor{Name: "w", Type: Q8_0, Shape: []int{33}, Data: make([]byte, 34)}},
		{"zero dim", Tensor{Name: "w", Type: F32, Shape: []int{4, 0}}},
		{"unknown type", Tensor{Name: "w", Type: 99, Shape: []int{1}, Data: make([]byte, 4)}},
		{"huge", Tensor{Name: "w", Type: F32, Shape: []int{1 << 30, 1 << 30, 1 << 30}}},
	}
	for _, tt := range tests {
		if err := tt.t.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil; want an error", tt.name)
		}
	}
	ok := Tensor{Name: "w", Type: Q8_0, Shape: []int{64, 3, 2}, Data: make([]byte, 2*34*3*2)}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(%v) = %v", ok.Shape, err)
	}
	e1, err := ok.Slice(1)
	if err != nil || len(e1.Data) != 2*34*3 || e1.Rows() != 3 || e1.Cols() != 64 {
		t.Fatalf("Slice(1) = %v, %v", e1, err)
	}
}
