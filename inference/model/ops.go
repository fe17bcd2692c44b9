package model

import "math"

// This file holds the small per-token vector operations of the forward
// pass. The heavy lifting (matrix products) is in package kernels.

// rmsNormRows normalises each width-long row of src into dst (which may be
// src): x / sqrt(mean(x²) + eps) · w. The sum of squares is taken in
// float64, as ggml does, so long rows lose nothing to rounding.
func rmsNormRows(dst, src, w []float32, eps float32, width int) {
	for r := 0; r+width <= len(src); r += width {
		x, y := src[r:r+width], dst[r:r+width]
		sum := 0.0
		for _, v := range x {
			sum += float64(v * v)
		}
		scale := float32(1 / math.Sqrt(sum/float64(width)+float64(eps)))
		for i, v := range x {
			y[i] = v * scale * w[i]
		}
	}
}

// add sets x += y.
func add(x, y []float32) {
	y = y[:len(x)]
	for i := range x {
		x[i] += y[i]
	}
}

// softmax replaces x with its softmax, the sum taken in float64 as ggml does.
func softmax(x []float32) {
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	sum := 0.0
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
		x[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}
