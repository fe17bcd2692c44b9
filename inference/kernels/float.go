package kernels

import (
	"math"
	"unsafe"

	"github.com/anima-rt/anima/inference/tensor"
)

// This file holds the plain-Go kernels for float weights: the fallback where
// no assembly applies, and the middle ground the assembly is tested against
// besides the references in ref.go.

// f32s views b (len a multiple of 4) as float32s without copying. Weight
// data is little-endian like every machine Go runs the decoder on, and Go
// allows unaligned loads on the architectures it supports.
func f32s(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// f32Bytes views f as its bytes without copying, for the rows kernels.
func f32Bytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

// u16s views b (len even) as uint16s without copying.
func u16s(b []byte) []uint16 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}

// dotGo is the float32 dot product with four accumulators, which lets the
// CPU overlap the adds (about twice as fast as one in plain Go).
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGo(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// f16to32 is tensor.F16ToF32 with a branch-free path for normal numbers
// (re-biasing the exponent is one add), the case of almost every weight;
// zeros, subnormals, infinities and NaNs take the reference conversion.
func f16to32(h uint16) float32 {
	if e := h & 0x7c00; e != 0 && e != 0x7c00 {
		return math.Float32frombits(uint32(h&0x8000)<<16 | (uint32(h&0x7fff)<<13 + (127-15)<<23))
	}
	return tensor.F16ToF32(h)
}

func dotF16Go(h []uint16, x []float32) float32 {
	x = x[:len(h)]
	var s0, s1 float32
	i := 0
	for ; i+2 <= len(h); i += 2 {
		s0 += f16to32(h[i]) * x[i]
		s1 += f16to32(h[i+1]) * x[i+1]
	}
	for ; i < len(h); i++ {
		s0 += f16to32(h[i]) * x[i]
	}
	return s0 + s1
}

func dotBF16Go(h []uint16, x []float32) float32 {
	x = x[:len(h)]
	var s0, s1 float32
	i := 0
	for ; i+2 <= len(h); i += 2 {
		s0 += math.Float32frombits(uint32(h[i])<<16) * x[i]
		s1 += math.Float32frombits(uint32(h[i+1])<<16) * x[i+1]
	}
	for ; i < len(h); i++ {
		s0 += math.Float32frombits(uint32(h[i])<<16) * x[i]
	}
	return s0 + s1
}

// The rows kernels read len(x) values of each row; rowBytes may be more
// (DotRows passes a stride).

func rowsF32Go(y []float32, w []byte, rowBytes int, x []float32) {
	for i := range y {
		y[i] = dotGo(f32s(w[i*rowBytes:i*rowBytes+4*len(x)]), x)
	}
}

func rowsF16Go(y []float32, w []byte, rowBytes int, x []float32) {
	for i := range y {
		y[i] = dotF16Go(u16s(w[i*rowBytes:i*rowBytes+2*len(x)]), x)
	}
}

func rowsBF16Go(y []float32, w []byte, rowBytes int, x []float32) {
	for i := range y {
		y[i] = dotBF16Go(u16s(w[i*rowBytes:i*rowBytes+2*len(x)]), x)
	}
}

func tileF32Go(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int) {
	for i := range rows {
		// A row has ldx values; rowBytes may be more (DotRowsN's stride).
		row := f32s(w[i*rowBytes : i*rowBytes+ldx*4])
		for j := range n {
			y[j*ldy+i] = dotGo(row, x[j*ldx:j*ldx+len(row)])
		}
	}
}

// tileHalfGo is the MatMul tile for 16-bit weights: it widens a row once, a
// segment at a time, and reuses it for all n inputs.
func tileHalfGo(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int, widen func(uint16) float32) {
	var buf [256]float32
	for i := range rows {
		row := u16s(w[i*rowBytes : (i+1)*rowBytes])
		for j := range n {
			y[j*ldy+i] = 0
		}
		for c := 0; c < len(row); c += len(buf) {
			seg := buf[:min(len(buf), len(row)-c)]
			for k := range seg {
				seg[k] = widen(row[c+k])
			}
			for j := range n {
				y[j*ldy+i] += dotGo(seg, x[j*ldx+c:j*ldx+c+len(seg)])
			}
		}
	}
}

func tileF16Go(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int) {
	tileHalfGo(y, ldy, w, rowBytes, rows, x, ldx, n, f16to32)
}

func tileBF16Go(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int) {
	tileHalfGo(y, ldy, w, rowBytes, rows, x, ldx, n, tensor.BF16ToF32)
}
