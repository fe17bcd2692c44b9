package kernels

// Q4_0 weights: blocks of 32 values stored as an fp16 scale d and 16 bytes
// of 4-bit quants; byte j holds value j in its low nibble and value j+16 in
// its high nibble, each standing for d·(nibble − 8). As in ggml, a Q4_0
// weight multiplies a Q8_0-quantized input:
// Σ_blocks dw·dx·(Σ nibble·q_x − 8·Σ q_x).
const q4BlockBytes = 18

// dotQ4Go is the dot product of one Q4_0 weight row with a quantized input.
func dotQ4Go(w []byte, xu []byte, xd []float32) float32 {
	var sum float32
	for b, dx := range xd {
		blk := w[b*q4BlockBytes : (b+1)*q4BlockBytes]
		u := xu[b*q8Block : (b+1)*q8Block]
		var acc int32
		for j := range 16 {
			lo, hi := int32(blk[2+j]&0x0f)-8, int32(blk[2+j]>>4)-8
			acc += lo*int32(int8(u[j]^0x80)) + hi*int32(int8(u[j+16]^0x80))
		}
		sum += f16(blk) * dx * float32(acc)
	}
	return sum
}

func rowsQ4Go(y []float32, w []byte, rowBytes int, x q8In) {
	for i := range y {
		y[i] = dotQ4Go(w[i*rowBytes:(i+1)*rowBytes], x.u, x.d)
	}
}

// tileByRows makes a MatMul tile from a rows kernel, one input at a time,
// for kernel sets without a register-tiled MatMul (AVX2; Q4_0 everywhere):
// each weight row is read once per input, from cache when the block of
// rows fits.
func tileByRows(rowsFn func(y []float32, w []byte, rowBytes int, x []float32)) func(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int) {
	return func(y []float32, ldy int, w []byte, rowBytes, rows int, x []float32, ldx, n int) {
		for j := range n {
			rowsFn(y[j*ldy:j*ldy+rows], w[:rows*rowBytes], rowBytes, x[j*ldx:(j+1)*ldx])
		}
	}
}

// tileQ8ByRows is tileByRows for weights with blocks of 32 values in
// blockBytes bytes (Q8_0, Q4_0) against a quantized input.
func tileQ8ByRows(rowsFn func(y []float32, w []byte, rowBytes int, x q8In), blockBytes int) func(y []float32, ldy int, w []byte, rowBytes, rows int, xq *Q8Vec, n int) {
	return func(y []float32, ldy int, w []byte, rowBytes, rows int, xq *Q8Vec, n int) {
		cols := rowBytes / blockBytes * q8Block
		for j := range n {
			rowsFn(y[j*ldy:j*ldy+rows], w[:rows*rowBytes], rowBytes, xq.input(j, cols))
		}
	}
}
