package kernels

import (
	"math"

	"github.com/anima-rt/anima/inference/tensor"
)

// This file holds the plain reference implementations that every fast path
// is tested against: straightforward loops in float64 over values decoded by
// the tensor package's reference conversions. They are slow on purpose.

// dequantizeRow is tensor.DequantizeRow extended to Q4_0, which the tensor
// package does not decode.
func dequantizeRow(dst []float32, src []byte, t tensor.Type) error {
	if t != tensor.Q4_0 {
		return tensor.DequantizeRow(dst, src, t)
	}
	for b := range len(dst) / q8Block {
		blk := src[b*q4BlockBytes : (b+1)*q4BlockBytes]
		d := f16(blk)
		for j := range 16 {
			dst[b*q8Block+j] = d * float32(int(blk[2+j]&0x0f)-8)
			dst[b*q8Block+j+16] = d * float32(int(blk[2+j]>>4)-8)
		}
	}
	return nil
}

// matVecRef is MatVec by dequantizing each row and summing in float64.
func matVecRef(w *tensor.Tensor, x []float32) []float64 {
	rows, cols := w.Shape[1], w.Shape[0]
	y := make([]float64, rows)
	row := make([]float32, cols)
	for r := range rows {
		if err := dequantizeRow(row, w.Row(r), w.Type); err != nil {
			panic(err)
		}
		for c, v := range row {
			y[r] += float64(v) * float64(x[c])
		}
	}
	return y
}

// matVecQ8Ref is MatVec for Q8_0 (or Q4_0) weights as ggml defines it: x
// quantized to Q8_0 by the tensor package's reference quantizer, then per
// block dw·dx·Σ q_w·q_x with the inner sum exact.
func matVecQ8Ref(w *tensor.Tensor, x []float32) []float64 {
	rows, cols := w.Shape[1], w.Shape[0]
	xq := tensor.QuantizeQ8_0(nil, x)
	y := make([]float64, rows)
	for r := range rows {
		row := w.Row(r)
		for b := range cols / q8Block {
			xb := xq[b*q8BlockBytes : (b+1)*q8BlockBytes]
			var acc int64
			var dw float32
			if w.Type == tensor.Q4_0 {
				wb := row[b*q4BlockBytes : (b+1)*q4BlockBytes]
				dw = f16(wb)
				for j := range 16 {
					acc += int64(int(wb[2+j]&0x0f)-8) * int64(int8(xb[2+j]))
					acc += int64(int(wb[2+j]>>4)-8) * int64(int8(xb[2+j+16]))
				}
			} else {
				wb := row[b*q8BlockBytes : (b+1)*q8BlockBytes]
				dw = f16(wb)
				for i := range q8Block {
					acc += int64(int8(wb[2+i])) * int64(int8(xb[2+i]))
				}
			}
			y[r] += float64(dw) * float64(f16(xb)) * float64(acc)
		}
	}
	return y
}

func dotRef(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func rmsNormRef(x, weight []float32, eps float32) []float64 {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	s := 1 / math.Sqrt(ss/float64(len(x))+float64(eps))
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v) * s * float64(weight[i])
	}
	return out
}

func softmaxRef(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, float64(v))
	}
	out := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		out[i] = math.Exp(float64(v) - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func siluRef(v float32) float64 { return float64(v) / (1 + math.Exp(-float64(v))) }
