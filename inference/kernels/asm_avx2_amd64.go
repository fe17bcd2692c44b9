package kernels

// AVX2 + FMA kernels in kernels_avx2_amd64.s, for CPUs without AVX-512.
// Counts of values n are multiples of 8.

//go:noescape
func dotF32AVX2(a, b *float32, n int) float32

//go:noescape
func axpyF32AVX2(a float32, x, y *float32, n int)

//go:noescape
func rowsF32AVX2(y *float32, w *byte, rowBytes, rows int, x *float32, n int)

//go:noescape
func rowsF16AVX2(y *float32, w *byte, rowBytes, rows int, x *float32, n int)

//go:noescape
func rowsBF16AVX2(y *float32, w *byte, rowBytes, rows int, x *float32, n int)

//go:noescape
func rowsQ4AVX2(y *float32, w *byte, rowBytes, rows int, xu *byte, xd *float32, nb int)

//go:noescape
func rowsQ8AVX2(y *float32, w *byte, rowBytes, rows int, xu *byte, xd *float32, nb int)

func dotAVX2(a, b []float32) float32 {
	n := len(a) &^ 7
	b = b[:len(a)]
	var s float32
	if n > 0 {
		s = dotF32AVX2(&a[0], &b[0], n)
	}
	return s + dotGo(a[n:], b[n:])
}

func axpyAVX2(a float32, x, y []float32) {
	n := len(x) &^ 7
	y = y[:len(x)]
	if n > 0 {
		axpyF32AVX2(a, &x[0], &y[0], n)
	}
	axpyGo(a, x[n:], y[n:])
}

// rowsAVX2 runs one of the AVX2 rows kernels over len(y) rows and adds
// each row's ragged tail (values past the last multiple of 8) in Go.
func rowsAVX2(kernel func(y *float32, w *byte, rowBytes, rows int, x *float32, n int),
	tail func(y []float32, w []byte, rowBytes int, x []float32), elemBytes int,
	y []float32, w []byte, rowBytes int, x []float32) {
	rows := len(y)
	if rows == 0 {
		return
	}
	_ = w[rows*rowBytes-1]
	n := len(x) &^ 7
	if n == 0 {
		tail(y, w, rowBytes, x)
		return
	}
	kernel(&y[0], &w[0], rowBytes, rows, &x[0], n)
	if n == len(x) {
		return
	}
	for i := range y {
		// The tail writes into y; a temporary array would escape
		// through the func value and allocate on every call.
		head := y[i]
		tail(y[i:i+1], w[i*rowBytes+n*elemBytes:(i+1)*rowBytes], (len(x)-n)*elemBytes, x[n:])
		y[i] += head
	}
}

func rowsF32AVX2Go(y []float32, w []byte, rowBytes int, x []float32) {
	rowsAVX2(rowsF32AVX2, rowsF32Go, 4, y, w, rowBytes, x)
}

func rowsF16AVX2Go(y []float32, w []byte, rowBytes int, x []float32) {
	rowsAVX2(rowsF16AVX2, rowsF16Go, 2, y, w, rowBytes, x)
}

func rowsBF16AVX2Go(y []float32, w []byte, rowBytes int, x []float32) {
	rowsAVX2(rowsBF16AVX2, rowsBF16Go, 2, y, w, rowBytes, x)
}

func rowsQ8AVX2Go(y []float32, w []byte, rowBytes int, x q8In) {
	rows, nb := len(y), len(x.d)
	if rows == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(rows-1)*rowBytes+nb*q8BlockBytes-1]
	_ = x.u[nb*q8Block-1]
	_ = x.dv[nb*8-1]
	rowsQ8AVX2(&y[0], &w[0], rowBytes, rows, &x.u[0], &x.dv[0], nb)
}

func rowsQ4AVX2Go(y []float32, w []byte, rowBytes int, x q8In) {
	rows, nb := len(y), len(x.d)
	if rows == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(rows-1)*rowBytes+nb*q4BlockBytes-1]
	_ = x.u[nb*q8Block-1]
	_ = x.dv[nb*8-1]
	rowsQ4AVX2(&y[0], &w[0], rowBytes, rows, &x.u[0], &x.dv[0], nb)
}
