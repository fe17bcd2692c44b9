package kernels

// Assembly kernels in kernels_amd64.s. Pointers address the first element;
// counts of values n are multiples of 16, of blocks nb whole Q8_0 blocks.

//go:noescape
func dotF32AVX512(a, b *float32, n int) float32

//go:noescape
func axpyF32AVX512(a float32, x, y *float32, n int)

//go:noescape
func quantizeQ8AVX512(x *float32, u *byte, d, dv *float32, nb int)

//go:noescape
func maxAVX512(x *float32, n int) float32

//go:noescape
func scaleAVX512(x *float32, a float32, n int)

//go:noescape
func expSubAVX512(x *float32, n int, m float32) float32

//go:noescape
func swigluAVX512(dst, gate, up *float32, n int)

//go:noescape
func rowsF32AVX512(y *float32, w *byte, rowBytes, rows int, x *float32, n int)

//go:noescape
func rowsF16AVX512(y *float32, w *byte, rowBytes, rows int, x *float32, n int)

//go:noescape
func rowsBF16AVX512(y *float32, w *byte, rowBytes, rows int, x *float32, n int)

//go:noescape
func rows4F32AVX512(y *float32, w *byte, rowBytes, rows int, x *float32, n int)

//go:noescape
func rows4F16AVX512(y *float32, w *byte, rowBytes, rows int, x *float32, n int)

//go:noescape
func rows4BF16AVX512(y *float32, w *byte, rowBytes, rows int, x *float32, n int)

//go:noescape
func rows4Q8VNNI(y *float32, w *byte, rowBytes, rows int, xu *byte, xd *float32, nb int)

//go:noescape
func rowsQ4VNNI(y *float32, w *byte, rowBytes, rows int, xu *byte, xd *float32, nb int)

//go:noescape
func rowsQ8VNNI(y *float32, w *byte, rowBytes, rows int, xu *byte, xd *float32, nb int)

//go:noescape
func tileQ8VNNI(y *float32, ldy int, w *byte, rowBytes int, xu *byte, ldx int, xd *float32, nb int)

//go:noescape
func tileF32AVX512(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int)

//go:noescape
func tile2F32AVX512(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int)

//go:noescape
func tile2F16AVX512(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int)

//go:noescape
func tile2BF16AVX512(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int)

//go:noescape
func tileF16AVX512(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int)

//go:noescape
func tileBF16AVX512(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int)

// The wrappers below adapt the assembly to the impl signatures: the
// assembly covers whole 16-value (or 4×4-tile) steps and Go finishes the
// ragged edges, which the model's shapes (multiples of 32) rarely have.

func dotAVX512(a, b []float32) float32 {
	n := len(a) &^ 15
	b = b[:len(a)]
	var s float32
	if n > 0 {
		s = dotF32AVX512(&a[0], &b[0], n)
	}
	return s + dotGo(a[n:], b[n:])
}

func axpyAVX512(a float32, x, y []float32) {
	n := len(x) &^ 15
	y = y[:len(x)]
	if n > 0 {
		axpyF32AVX512(a, &x[0], &y[0], n)
	}
	axpyGo(a, x[n:], y[n:])
}

func quantizeQ8ASM(dst *Q8Vec, x []float32) {
	nb := len(x) / q8Block
	if nb == 0 {
		return
	}
	_, _, _ = dst.u[nb*q8Block-1], dst.d[nb-1], dst.dv[8*nb-1]
	quantizeQ8AVX512(&x[0], &dst.u[0], &dst.d[0], &dst.dv[0], nb)
}

// maxASM is maxGo for slices of 16 or more values. VMAXPS returns its
// second operand when either is NaN, unlike the max builtin; Softmax input
// has no NaNs that matter (a NaN logit poisons the sum either way).
func maxASM(x []float32) float32 {
	n := len(x) &^ 15
	if n == 0 {
		return maxGo(x)
	}
	m := maxAVX512(&x[0], n)
	if n < len(x) {
		m = max(m, maxGo(x[n:]))
	}
	return m
}

func scaleASM(x []float32, a float32) {
	n := len(x) &^ 15
	if n > 0 {
		scaleAVX512(&x[0], a, n)
	}
	scaleGo(x[n:], a)
}

func expSubASM(x []float32, m float32) float32 {
	n := len(x) &^ 15
	var s float32
	if n > 0 {
		s = expSubAVX512(&x[0], n, m)
	}
	return s + expSubGo(x[n:], m)
}

func swigluASM(dst, gate, up []float32) {
	n := len(dst) &^ 15
	gate, up = gate[:len(dst)], up[:len(dst)]
	if n > 0 {
		swigluAVX512(&dst[0], &gate[0], &up[0], n)
	}
	swigluGo(dst[n:], gate[n:], up[n:])
}

// rowsAVX512 runs one of the rows kernels over len(y) rows and adds each
// row's ragged tail, whose values take elemBytes bytes each.
func rowsAVX512(kernel4, kernel func(y *float32, w *byte, rowBytes, rows int, x *float32, n int),
	tail func(y []float32, w []byte, rowBytes int, x []float32), elemBytes int,
	y []float32, w []byte, rowBytes int, x []float32) {
	rows := len(y)
	if rows == 0 {
		return
	}
	_ = w[rows*rowBytes-1]
	n := len(x) &^ 15
	if n == 0 {
		tail(y, w, rowBytes, x)
		return
	}
	// Four rows at a time share each load of x; the rest go one by one.
	if rows4 := rows &^ 3; rows4 > 0 {
		kernel4(&y[0], &w[0], rowBytes, rows4, &x[0], n)
	}
	if rows4 := rows &^ 3; rows4 < rows {
		kernel(&y[rows4], &w[rows4*rowBytes], rowBytes, rows-rows4, &x[0], n)
	}
	if n == len(x) {
		return
	}
	// Each row's tail is computed into y[i] itself and the vector part
	// added back: a local [1]float32 would escape through the tail func
	// value and cost an allocation per call (attention's DotRows over T
	// positions lands here whenever T is not a multiple of 16).
	for i := range y {
		head := y[i]
		tail(y[i:i+1], w[i*rowBytes+n*elemBytes:(i+1)*rowBytes], (len(x)-n)*elemBytes, x[n:])
		y[i] += head
	}
}

func rowsF32ASM(y []float32, w []byte, rowBytes int, x []float32) {
	rowsAVX512(rows4F32AVX512, rowsF32AVX512, rowsF32Go, 4, y, w, rowBytes, x)
}

func rowsF16ASM(y []float32, w []byte, rowBytes int, x []float32) {
	rowsAVX512(rows4F16AVX512, rowsF16AVX512, rowsF16Go, 2, y, w, rowBytes, x)
}

func rowsBF16ASM(y []float32, w []byte, rowBytes int, x []float32) {
	rowsAVX512(rows4BF16AVX512, rowsBF16AVX512, rowsBF16Go, 2, y, w, rowBytes, x)
}

// inputBlock is how many inputs a MatMul block takes against each 4-row
// tile before moving to the next rows: enough to reuse each weight row many
// times, few enough (64×cols floats) that the inputs stay in L2 while all
// of the block's rows stream past them once.
const inputBlock = 64

// tileAVX512 covers a MatMul block with 4×4 assembly tiles, the inputs
// left over in pairs with 4×2 tiles (kernel2), the last odd input and the
// leftover rows with the rows kernel, and the tiles' ragged column tails
// in Go. Which kernel multiplies an input depends only on its index mod 4
// and n mod 4, so a MatMul split into blocks of a multiple of 4 inputs
// gives the same bits as one call.
func tileAVX512(kernel, kernel2 func(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int),
	rowsFn func(y []float32, w []byte, rowBytes int, x []float32),
	tail func(y []float32, w []byte, rowBytes int, x []float32), elemBytes int,
	y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int) {
	cols := ldx
	c16 := cols &^ 15
	rows4, n4 := rows&^3, n&^3
	n2 := n4 + (n-n4)&^1 // inputs the 4×4 and 4×2 tiles cover
	if c16 == 0 || rows4 == 0 {
		rows4, n4, n2 = 0, 0, 0
	}
	if n2 > 0 {
		_ = w[rows4*rowBytes-1]
		_ = x[(n2-1)*ldx+cols-1]
		_ = y[(n2-1)*ldy+rows4-1]
	}
	for j0 := 0; j0 < n4; j0 += inputBlock {
		for i := 0; i < rows4; i += 4 {
			for j := j0; j < min(j0+inputBlock, n4); j += 4 {
				kernel(&y[j*ldy+i], ldy, &w[i*rowBytes], rowBytes, &x[j*ldx], ldx, c16)
			}
		}
	}
	if n2 > n4 {
		for i := 0; i < rows4; i += 4 {
			kernel2(&y[n4*ldy+i], ldy, &w[i*rowBytes], rowBytes, &x[n4*ldx], ldx, c16)
		}
	}
	if n2 > 0 && c16 != cols {
		// The tail writes its dot product into y; added to what the
		// tiles left there (a temporary array would escape through
		// the func value and allocate on every call).
		for j := range n2 {
			xt := x[j*ldx+c16 : j*ldx+cols]
			for i := range rows4 {
				k := j*ldy + i
				head := y[k]
				tail(y[k:k+1], w[i*rowBytes+c16*elemBytes:(i+1)*rowBytes], (cols-c16)*elemBytes, xt)
				y[k] += head
			}
		}
	}
	for j := range n {
		xj := x[j*ldx : j*ldx+cols]
		if j >= n2 {
			rowsFn(y[j*ldy:j*ldy+rows4], w[:rows4*rowBytes], rowBytes, xj)
		}
		if rows4 < rows {
			rowsFn(y[j*ldy+rows4:j*ldy+rows], w[rows4*rowBytes:rows*rowBytes], rowBytes, xj)
		}
	}
}

func tileF32ASM(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int) {
	tileAVX512(tileF32AVX512, tile2F32AVX512, rowsF32ASM, rowsF32Go, 4, y, ldy, w, rowBytes, rows, x, ldx, n)
}

func tileF16ASM(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int) {
	tileAVX512(tileF16AVX512, tile2F16AVX512, rowsF16ASM, rowsF16Go, 2, y, ldy, w, rowBytes, rows, x, ldx, n)
}

func tileBF16ASM(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int) {
	tileAVX512(tileBF16AVX512, tile2BF16AVX512, rowsBF16ASM, rowsBF16Go, 2, y, ldy, w, rowBytes, rows, x, ldx, n)
}

func rowsQ8ASM(y []float32, w []byte, rowBytes int, x q8In) {
	rows, nb := len(y), len(x.d)
	if rows == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[rows*rowBytes-1]
	_ = w[(rows-1)*rowBytes+nb*q8BlockBytes-1]
	_ = x.u[nb*q8Block-1]
	_ = x.dv[nb*8-1]
	// Four rows at a time share each load of the input; the rest go one by
	// one.
	rows4 := rows &^ 3
	if rows4 > 0 {
		rows4Q8VNNI(&y[0], &w[0], rowBytes, rows4, &x.u[0], &x.dv[0], nb)
	}
	if rows4 < rows {
		rowsQ8VNNI(&y[rows4], &w[rows4*rowBytes], rowBytes, rows-rows4, &x.u[0], &x.dv[0], nb)
	}
}

// tileQ8ASM covers a MatMul block with 4×4 assembly tiles and the leftover
// rows and inputs with the rows kernel.
func tileQ8ASM(y []float32, ldy int, w []byte, rowBytes, rows int, xq *Q8Vec, n int) {
	nb := rowBytes / q8BlockBytes
	cols := nb * q8Block
	rows4, n4 := rows&^3, n&^3
	if nb == 0 {
		rows4, n4 = 0, 0
	}
	if rows4 > 0 && n4 > 0 {
		_ = w[rows4*rowBytes-1]
		_ = xq.u[n4*cols-1]
		_ = xq.dv[n4*nb*8-1]
		_ = y[(n4-1)*ldy+rows4-1]
		for j0 := 0; j0 < n4; j0 += inputBlock {
			for i := 0; i < rows4; i += 4 {
				for j := j0; j < min(j0+inputBlock, n4); j += 4 {
					tileQ8VNNI(&y[j*ldy+i], ldy, &w[i*rowBytes], rowBytes, &xq.u[j*cols], cols, &xq.dv[j*nb*8], nb)
				}
			}
		}
	}
	for j := range n {
		x := xq.input(j, cols)
		if j >= n4 {
			rowsQ8ASM(y[j*ldy:j*ldy+rows4], w[:rows4*rowBytes], rowBytes, x)
		}
		if rows4 < rows {
			rowsQ8ASM(y[j*ldy+rows4:j*ldy+rows], w[rows4*rowBytes:rows*rowBytes], rowBytes, x)
		}
	}
}

func rowsQ4ASM(y []float32, w []byte, rowBytes int, x q8In) {
	rows, nb := len(y), len(x.d)
	if rows == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(rows-1)*rowBytes+nb*q4BlockBytes-1]
	_ = x.u[nb*q8Block-1]
	_ = x.dv[nb*8-1]
	rowsQ4VNNI(&y[0], &w[0], rowBytes, rows, &x.u[0], &x.dv[0], nb)
}
