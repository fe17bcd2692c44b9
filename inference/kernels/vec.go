package kernels

import (
	"fmt"
	"math"
)

// This file holds the per-token vector helpers of the forward pass. Each
// runs once or a few times per layer per token, so they are cheap next to
// the matrix products, but not free: attention's softmax alone runs over
// every cached position of every head.

// Dot returns Σ a[i]·b[i]; len(b) must be at least len(a).
func Dot(a, b []float32) float32 {
	if len(b) < len(a) {
		panic("kernels: Dot: len(b) < len(a)")
	}
	return defaultImpl.dot(a, b[:len(a)])
}

// Axpy sets y[i] += a·x[i]; len(y) must be at least len(x).
func Axpy(a float32, x, y []float32) {
	if len(y) < len(x) {
		panic("kernels: Axpy: len(y) < len(x)")
	}
	defaultImpl.axpy(a, x, y[:len(x)])
}

// DotRows sets y[r] = Dot(a[r·stride : r·stride+len(x)], x) for each of
// len(y) rows laid out stride values apart in a: a matrix-vector product
// over plain float32s with any row stride, as attention's weighted sum over
// a (HeadDim, positions) value cache is. It runs on the calling goroutine.
func DotRows(y, a []float32, stride int, x []float32) {
	rows, cols := len(y), len(x)
	if rows == 0 {
		return
	}
	if stride < cols || len(a) < (rows-1)*stride+cols {
		panic(fmt.Sprintf("kernels: DotRows: %d rows of %d values, stride %d, need more than len(a) = %d", rows, cols, stride, len(a)))
	}
	// The rows kernels want every row's whole stride present; the last row
	// may end right after its cols values.
	full := rows - 1
	if len(a) >= rows*stride {
		full = rows
	}
	if full > 0 && cols > 0 {
		defaultImpl.rowsF32(y[:full], f32Bytes(a[:full*stride]), stride*4, x)
	}
	for r := full; r < rows; r++ {
		y[r] = defaultImpl.dot(a[r*stride:r*stride+cols], x)
	}
}

// DotRowsN is DotRows for n inputs at once: for j < n, y[j·ldy+r] =
// Dot(a[r·stride : r·stride+cols], x[j·cols : (j+1)·cols]) for r < rows.
// It runs the MatMul tiles, which load each row of a once for four (or
// two) inputs rather than once per input: attention's weighted sum over a
// (HeadDim, positions) value cache for a block of prompt tokens or the
// query heads of one KV head. As in DotRows the last row may end right
// after its cols values. It runs on the calling goroutine.
func DotRowsN(y []float32, ldy, rows int, a []float32, stride int, x []float32, cols, n int) {
	if rows == 0 || n == 0 {
		return
	}
	if cols < 1 || stride < cols || len(a) < (rows-1)*stride+cols || len(x) < n*cols || ldy < rows || len(y) < (n-1)*ldy+rows {
		panic(fmt.Sprintf("kernels: DotRowsN: %d rows of %d values, stride %d, %d inputs, ldy %d: len(a) = %d, len(x) = %d, len(y) = %d too short",
			rows, cols, stride, n, ldy, len(a), len(x), len(y)))
	}
	// The tiles want every row's whole stride present.
	full := rows
	if len(a) < rows*stride {
		full = rows - 1
	}
	if full > 0 {
		defaultImpl.tileF32(y, ldy, f32Bytes(a[:full*stride]), stride*4, full, x[:n*cols], cols, n)
	}
	for r := full; r < rows; r++ {
		for j := range n {
			y[j*ldy+r] = defaultImpl.dot(a[r*stride:r*stride+cols], x[j*cols:(j+1)*cols])
		}
	}
}

// AxpyRows sets y[c] += Σ_r x[r]·a[r·stride+c] for c < len(y), r <
// len(x): Axpy of each row of a, scaled by x[r], into y — attention's
// scores q·K over a (HeadDim, positions) key cache. It is one Axpy per row:
// a kernel keeping strips of y in registers across rows measured no faster
// (the rows stream from L2 either way), so it was not kept.
func AxpyRows(y, a []float32, stride int, x []float32) {
	if len(x) == 0 || len(y) == 0 {
		return
	}
	if stride < len(y) || len(a) < (len(x)-1)*stride+len(y) {
		panic(fmt.Sprintf("kernels: AxpyRows: %d rows of %d values, stride %d, need more than len(a) = %d", len(x), len(y), stride, len(a)))
	}
	defaultImpl.axpyRows(y, a, stride, x)
}

func axpyRowsGo(y, a []float32, stride int, x []float32) {
	for r, xr := range x {
		axpyGo(xr, a[r*stride:r*stride+len(y)], y)
	}
}

// Scale sets x[i] *= a.
func Scale(x []float32, a float32) { defaultImpl.scale(x, a) }

func scaleGo(x []float32, a float32) {
	for i := range x {
		x[i] *= a
	}
}

// Add sets dst[i] = a[i] + b[i]; dst may alias a or b.
func Add(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// Mul sets dst[i] = a[i]·b[i]; dst may alias a or b.
func Mul(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

// RMSNorm sets dst[i] = x[i]·weight[i] / sqrt(mean(x²) + eps), as
// llama.cpp's RMS norm followed by the norm weight; dst may alias x.
func RMSNorm(dst, x, weight []float32, eps float32) {
	x, weight = x[:len(dst)], weight[:len(dst)]
	if len(x) == 0 {
		return
	}
	ss := Dot(x, x)
	s := float32(1 / math.Sqrt(float64(ss/float32(len(x))+eps)))
	for i := range dst {
		dst[i] = x[i] * s * weight[i]
	}
}

// Softmax replaces x with exp(x[i]-max) / Σ exp(x[j]-max): subtracting the
// maximum keeps every exponent ≤ 0, so nothing overflows.
func Softmax(x []float32) { softmax(defaultImpl, x) }

func softmax(im *impl, x []float32) {
	if len(x) == 0 {
		return
	}
	m := im.max(x)
	im.scale(x, 1/im.expSub(x, m))
}

// maxGo returns the largest value of x (len ≥ 1).
func maxGo(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	return m
}

// expSubGo sets x[i] = e^(x[i]-m) and returns the sum.
func expSubGo(x []float32, m float32) float32 {
	var sum float32
	for i, v := range x {
		e := exp32(v - m)
		x[i] = e
		sum += e
	}
	return sum
}

// SiLU sets dst[i] = x[i]·sigmoid(x[i]); dst may alias x.
func SiLU(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = v / (1 + exp32(-v))
	}
}

// SwiGLU sets dst[i] = silu(gate[i])·up[i], the gated activation of a
// SwiGLU feed-forward layer; dst may alias gate or up.
func SwiGLU(dst, gate, up []float32) {
	defaultImpl.swiglu(dst, gate[:len(dst)], up[:len(dst)])
}

func swigluGo(dst, gate, up []float32) {
	gate, up = gate[:len(dst)], up[:len(dst)]
	for i, g := range gate {
		dst[i] = g / (1 + exp32(-g)) * up[i]
	}
}

// ArgMax returns the index of the largest value (the first if tied), or -1
// for an empty slice. NaNs are never chosen over numbers.
func ArgMax(x []float32) int {
	if len(x) == 0 {
		return -1
	}
	// The vector max, then the first index holding it: about a tenth of a
	// scalar scan that compares every value with the best so far (0.5 µs
	// against 4.5 for a 6k vocabulary). The vector max may lose a lane's
	// values to a NaN, so it is trusted only when the sum of squares, NaN
	// if any value is, says there is none.
	if ss := defaultImpl.dot(x, x); ss == ss {
		m := defaultImpl.max(x)
		for i, v := range x {
			if v == m {
				return i
			}
		}
	}
	return argMaxNaN(x)
}

// argMaxNaN is ArgMax for values that include NaNs, skipping them.
func argMaxNaN(x []float32) int {
	best := -1
	for i, v := range x {
		if v == v && (best < 0 || v > x[best]) {
			best = i
		}
	}
	return best
}

// exp32 is e^x in float32, within 2 ulp of math.Exp for the range that
// matters here, several times faster than converting to float64 and back.
// It splits x = k·ln2 + r with |r| ≤ ln2/2 and evaluates e^r by a degree-6
// polynomial (Taylor coefficients, accurate to float32 on that interval),
// then scales by 2^k through the exponent bits.
func exp32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -87.33654: // below the smallest normal float32
		return 0
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375 // ln2 split so k·ln2hi is exact
		ln2lo = -2.12194440e-4
	)
	k := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - k*ln2hi - k*ln2lo
	p := float32(1.0 / 720)
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	ki := int32(k)
	if ki >= 128 { // x just under the overflow bound: scale in two steps
		return p * 2 * math.Float32frombits(uint32(ki-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(ki+127)<<23)
}
