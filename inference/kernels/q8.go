package kernels

import (
	"encoding/binary"
	"math"

	"github.com/anima-rt/anima/inference/tensor"
)

// q8Block is the number of values in one Q8_0 block; q8BlockBytes its size
// in a weight (fp16 scale, then 32 int8 quants).
const (
	q8Block      = 32
	q8BlockBytes = 34
)

// Q8Vec is one or more activation vectors quantized to Q8_0 blocks for
// products with Q8_0 weights. The zero value is empty; QuantizeQ8 fills it,
// reusing its memory.
type Q8Vec struct {
	// u holds the quants offset by 128 (q XOR 0x80, so 0..254): the VNNI
	// instruction multiplies unsigned by signed bytes, and the offset is
	// taken back out with each weight block's sum. len(u) is the number of
	// values.
	u []byte
	// d holds each block's scale, rounded to fp16 as ggml stores it and
	// widened back, so products match ggml's bit for bit in the scales.
	d []float32 // len(u)/32
	// dv repeats each block's scale 8 times, so the assembly scales a
	// register of per-lane sums from one aligned load.
	dv []float32 // 8·len(d)
}

// q8In is one input vector of a Q8Vec: sub-slices of its fields.
type q8In struct {
	u     []byte
	d, dv []float32
}

// input returns values [j·cols, (j+1)·cols) of v as one input.
func (v *Q8Vec) input(j, cols int) q8In {
	nb := cols / q8Block
	return q8In{u: v.u[j*cols : (j+1)*cols], d: v.d[j*nb : (j+1)*nb], dv: v.dv[8*j*nb : 8*(j+1)*nb]}
}

// Len is the number of values quantized.
func (v *Q8Vec) Len() int { return len(v.u) }

// Quant returns value i's int8 quant and its block's scale: value i stands
// for Scale·Quant.
func (v *Q8Vec) Quant(i int) (q int8, scale float32) {
	return int8(v.u[i] ^ 0x80), v.d[i/q8Block]
}

// QuantizeQ8 quantizes x (len a multiple of 32) into dst as ggml's
// quantize_row_q8_0 does: per 32 values d = max|x|/127, q = round(x/d) with
// halves away from zero, d stored as fp16.
func QuantizeQ8(dst *Q8Vec, x []float32) { quantizeQ8(defaultImpl, dst, x) }

func quantizeQ8(im *impl, dst *Q8Vec, x []float32) {
	if len(x)%q8Block != 0 {
		panic("kernels: QuantizeQ8: length not a multiple of 32")
	}
	if cap(dst.u) < len(x) {
		dst.u = make([]byte, len(x))
		dst.d = make([]float32, len(x)/q8Block)
		dst.dv = make([]float32, len(x)/q8Block*8)
	}
	dst.u = dst.u[:len(x)]
	dst.d = dst.d[:len(x)/q8Block]
	dst.dv = dst.dv[:len(x)/q8Block*8]
	im.quantizeQ8(dst, x)
}

func quantizeQ8Go(dst *Q8Vec, x []float32) {
	for b := range dst.d {
		blk := x[b*q8Block : (b+1)*q8Block]
		u := dst.u[b*q8Block : (b+1)*q8Block]
		amax := float32(0)
		for _, v := range blk {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		id := float32(0)
		if d != 0 {
			id = 1 / d
		}
		dst.d[b] = tensor.F16ToF32(tensor.F32ToF16(d))
		for i := range 8 {
			dst.dv[8*b+i] = dst.d[b]
		}
		for i, v := range blk {
			u[i] = byte(int8(math.Round(float64(v*id)))) ^ 0x80
		}
	}
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// f16 reads the fp16 value at b[0:2].
func f16(b []byte) float32 { return tensor.F16ToF32(binary.LittleEndian.Uint16(b)) }

// dotQ8Go is the dot product of one Q8_0 weight row with a quantized input
// of the same length: Σ_blocks dw·dx·Σ q_w·q_x, the inner sum in integers.
func dotQ8Go(w []byte, xu []byte, xd []float32) float32 {
	var sum float32
	for b, dx := range xd {
		blk := w[b*q8BlockBytes : (b+1)*q8BlockBytes]
		q := blk[2 : 2+q8Block]
		u := xu[b*q8Block : (b+1)*q8Block]
		var acc int32
		for i := range q8Block {
			acc += int32(int8(q[i])) * int32(int8(u[i]^0x80))
		}
		sum += f16(blk) * dx * float32(acc)
	}
	return sum
}

func rowsQ8Go(y []float32, w []byte, rowBytes int, x q8In) {
	for i := range y {
		y[i] = dotQ8Go(w[i*rowBytes:(i+1)*rowBytes], x.u, x.d)
	}
}

func tileQ8Go(y []float32, ldy int, w []byte, rowBytes, rows int, xq *Q8Vec, n int) {
	cols := rowBytes / q8BlockBytes * q8Block
	for i := range rows {
		row := w[i*rowBytes : (i+1)*rowBytes]
		for j := range n {
			x := xq.input(j, cols)
			y[j*ldy+i] = dotQ8Go(row, x.u, x.d)
		}
	}
}
