package model

import (
	"math"

	"github.com/anima-rt/anima/inference/kernels"
)

// This file holds the small per-token vector operations of the forward
// pass. The heavy lifting (matrix products) is in package kernels.

// rmsNormRows normalises each width-long row of src into dst (which may be
// src): x / sqrt(mean(x²) + eps) · w, as kernels.RMSNorm does. The sum of
// squares is a float32 SIMD dot product: ggml sums in float64, but
// converting each value to float64 made the norms 9% of a prompt's time
// on the embedded model (a per-head q and k norm of 64 values, besides
// the layer norms), and over rows this short float32's 24 bits lose
// nothing the logits show (the reference tests hold to 1e-4).
func rmsNormRows(dst, src, w []float32, eps float32, width int) {
	for r := 0; r+width <= len(src); r += width {
		kernels.RMSNorm(dst[r:r+width], src[r:r+width], w, eps)
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
