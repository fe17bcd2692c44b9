package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// This file holds the plain (reference) conversions between float32 and the
// stored types. Kernels keep faster versions and test against these.

// F16ToF32 converts an IEEE 754 half-precision value.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// F32ToF16 converts to half precision, rounding to nearest even.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	if b&0x7fffffff > 0x7f800000 { // NaN
		return sign | 0x7e00
	}
	if exp >= 0x1f {
		return sign | 0x7c00 // overflow and Inf
	}
	if exp <= 0 {
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := uint32(1) << (shift - 1)
		r := mant >> shift
		rem := mant & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is still correct
	}
	return sign | uint16(r)
}

// BF16ToF32 converts a bfloat16 value.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 converts to bfloat16, rounding to nearest even.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// Q8_0 block: a float16 scale d, then 32 int8 quants q; value i is d*q[i].
const q8Block = 32

// QuantizeQ8_0 appends the Q8_0 encoding of src (len a multiple of 32) to
// dst, as ggml's reference quantizer does: d = max|x|/127, q = round(x/d) with halves away from zero (C roundf).
func QuantizeQ8_0(dst []byte, src []float32) []byte {
	for b := 0; b+q8Block <= len(src); b += q8Block {
		blk := src[b : b+q8Block]
		amax := float32(0)
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		id := float32(0)
		if d != 0 {
			id = 1 / d
		}
		dst = binary.LittleEndian.AppendUint16(dst, F32ToF16(d))
		for _, v := range blk {
			dst = append(dst, byte(int8(math.Round(float64(v*id)))))
		}
	}
	return dst
}

// DequantizeRow converts one row of n values of type t from src into dst
// (len n). It supports F32, F16, BF16 and Q8_0.
func DequantizeRow(dst []float32, src []byte, t Type) error {
	n := len(dst)
	rb, err := t.RowBytes(n)
	if err != nil {
		return err
	}
	if len(src) < rb {
		return fmt.Errorf("tensor: row of %d %s values needs %d bytes, have %d", n, t, rb, len(src))
	}
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q8_0:
		for b := 0; b < n/q8Block; b++ {
			blk := src[b*34 : (b+1)*34]
			d := F16ToF32(binary.LittleEndian.Uint16(blk))
			for i := 0; i < q8Block; i++ {
				dst[b*q8Block+i] = d * float32(int8(blk[2+i]))
			}
		}
	default:
		return fmt.Errorf("tensor: dequantizing %s is not supported", t)
	}
	return nil
}

// EncodeRow appends n float32 values encoded as type t (F32, F16, BF16 or
// Q8_0) to dst: what a GGUF writer stores.
func EncodeRow(dst []byte, src []float32, t Type) ([]byte, error) {
	if _, err := t.RowBytes(len(src)); err != nil {
		return dst, err
	}
	switch t {
	case F32:
		for _, v := range src {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
		}
	case F16:
		for _, v := range src {
			dst = binary.LittleEndian.AppendUint16(dst, F32ToF16(v))
		}
	case BF16:
		for _, v := range src {
			dst = binary.LittleEndian.AppendUint16(dst, F32ToBF16(v))
		}
	case Q8_0:
		dst = QuantizeQ8_0(dst, src)
	default:
		return dst, fmt.Errorf("tensor: encoding %s is not supported", t)
	}
	return dst, nil
}
