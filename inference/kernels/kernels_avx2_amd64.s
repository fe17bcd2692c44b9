//go:build amd64

#include "textflag.h"

// AVX2 + FMA kernels for CPUs without AVX-512: 8-wide YMM versions of the
// dot product, Axpy and the MatVec rows kernels. F16 weights use
// VCVTPH2PS (F16C, which every AVX2+FMA CPU has); Q8_0 uses VPMADDUBSW on
// |w| and x·sign(w), whose pair sums (at most 2·128·127) fit in int16.

// HSUMY reduces the 8 floats of Y to their sum in the low lane of X, using
// X15 as scratch.
#define HSUMY(Y, X) \
	VEXTRACTF128 $1, Y, X15 \
	VADDPS       X15, X, X \
	VPERMILPS    $0x4e, X, X15 \
	VADDPS       X15, X, X \
	VPERMILPS    $0xb1, X, X15 \
	VADDSS       X15, X, X

// ROWSY is the body of the AVX2 rows kernels: y[i] = dot(row i, x) over
// the first n (a multiple of 8) values, WLOADY(addr, Y) loading 8 weights
// as float32 and WSTEPY the bytes they take.
#define ROWSY \
	MOVQ y+0(FP), DI \
	MOVQ w+8(FP), SI \
	MOVQ rowBytes+16(FP), R8 \
	MOVQ rows+24(FP), R9 \
	MOVQ x+32(FP), DX \
	MOVQ n+40(FP), CX \
yrow: \
	TESTQ R9, R9 \
	JZ    ydone \
	MOVQ  SI, R10 \
	MOVQ  DX, R11 \
	MOVQ  CX, R12 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
y32: \
	CMPQ R12, $32 \
	JB   y8 \
	WLOADY(0(R10), Y4) \
	WLOADY(WSTEPY(R10), Y5) \
	WLOADY((2*WSTEPY)(R10), Y6) \
	WLOADY((3*WSTEPY)(R10), Y7) \
	VFMADD231PS (R11), Y4, Y0 \
	VFMADD231PS 32(R11), Y5, Y1 \
	VFMADD231PS 64(R11), Y6, Y2 \
	VFMADD231PS 96(R11), Y7, Y3 \
	ADDQ $(4*WSTEPY), R10 \
	ADDQ $128, R11 \
	SUBQ $32, R12 \
	JMP  y32 \
y8: \
	CMPQ R12, $8 \
	JB   ysum \
	WLOADY(0(R10), Y4) \
	VFMADD231PS (R11), Y4, Y0 \
	ADDQ $WSTEPY, R10 \
	ADDQ $32, R11 \
	SUBQ $8, R12 \
	JMP  y8 \
ysum: \
	VADDPS Y1, Y0, Y0 \
	VADDPS Y3, Y2, Y2 \
	VADDPS Y2, Y0, Y0 \
	HSUMY(Y0, X0) \
	VMOVSS X0, (DI) \
	ADDQ   $4, DI \
	ADDQ   R8, SI \
	DECQ   R9 \
	JMP    yrow \
ydone: \
	VZEROUPPER \
	RET

// func dotF32AVX2(a, b *float32, n int) float32
// n is a multiple of 8.
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

d32:
	CMPQ        CX, $32
	JB          d8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         d32

d8:
	CMPQ        CX, $8
	JB          ddone
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         d8

ddone:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	HSUMY(Y0, X0)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func axpyF32AVX2(a float32, x, y *float32, n int)
// y[i] += a*x[i] for n (a multiple of 8) values.
TEXT ·axpyF32AVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS a+0(FP), Y0
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         n+24(FP), CX

a8:
	CMPQ        CX, $8
	JB          adone
	VMOVUPS     (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         a8

adone:
	VZEROUPPER
	RET

#define WLOADY(addr, Y) VMOVUPS addr, Y
#define WSTEPY 32

// func rowsF32AVX2(y *float32, w *byte, rowBytes, rows int, x *float32, n int)
TEXT ·rowsF32AVX2(SB), NOSPLIT, $0-48
	ROWSY

#undef WLOADY
#undef WSTEPY
#define WLOADY(addr, Y) VCVTPH2PS addr, Y
#define WSTEPY 16

// func rowsF16AVX2(y *float32, w *byte, rowBytes, rows int, x *float32, n int)
TEXT ·rowsF16AVX2(SB), NOSPLIT, $0-48
	ROWSY

#undef WLOADY
#define WLOADY(addr, Y) VPMOVZXWD addr, Y; VPSLLD $16, Y, Y

// func rowsBF16AVX2(y *float32, w *byte, rowBytes, rows int, x *float32, n int)
TEXT ·rowsBF16AVX2(SB), NOSPLIT, $0-48
	ROWSY

#undef WLOADY
#undef WSTEPY

// func rowsQ8AVX2(y *float32, w *byte, rowBytes, rows int, xu *byte, xd *float32, nb int)
// The Q8_0 rows kernel with AVX2: per block, |w|·(x·sign(w)) by VPMADDUBSW
// (unsigned × signed bytes to int16 pairs), VPMADDWD against ones to int32,
// then scaled by dw·dx. xd holds each block's scale 8 times.
TEXT ·rowsQ8AVX2(SB), NOSPLIT, $0-56
	MOVQ         y+0(FP), DI
	MOVQ         w+8(FP), SI
	MOVQ         rowBytes+16(FP), R8
	MOVQ         rows+24(FP), R9
	MOVQ         xu+32(FP), DX
	MOVQ         xd+40(FP), BX
	MOVQ         nb+48(FP), CX
	MOVL         $0x80808080, AX
	MOVQ         AX, X13
	VPBROADCASTD X13, Y13
	MOVL         $0x00010001, AX
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14

qyrow:
	TESTQ  R9, R9
	JZ     qydone
	MOVQ   SI, R10
	MOVQ   DX, R11
	MOVQ   BX, R12
	MOVQ   CX, R13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

qyblk2:
	CMPQ         R13, $2
	JB           qyblk1
	VMOVDQU      2(R10), Y2
	VPSIGNB      Y2, Y2, Y3
	VPXOR        (R11), Y13, Y4
	VPSIGNB      Y2, Y4, Y4
	VPMADDUBSW   Y4, Y3, Y4
	VPMADDWD     Y14, Y4, Y4
	VCVTDQ2PS    Y4, Y4
	VPBROADCASTW (R10), X5
	VCVTPH2PS    X5, Y5
	VMULPS       (R12), Y5, Y5
	VFMADD231PS  Y5, Y4, Y0
	VMOVDQU      36(R10), Y6
	VPSIGNB      Y6, Y6, Y7
	VPXOR        32(R11), Y13, Y8
	VPSIGNB      Y6, Y8, Y8
	VPMADDUBSW   Y8, Y7, Y8
	VPMADDWD     Y14, Y8, Y8
	VCVTDQ2PS    Y8, Y8
	VPBROADCASTW 34(R10), X9
	VCVTPH2PS    X9, Y9
	VMULPS       32(R12), Y9, Y9
	VFMADD231PS  Y9, Y8, Y1
	ADDQ         $68, R10
	ADDQ         $64, R11
	ADDQ         $64, R12
	SUBQ         $2, R13
	JMP          qyblk2

qyblk1:
	TESTQ        R13, R13
	JZ           qysum
	VMOVDQU      2(R10), Y2
	VPSIGNB      Y2, Y2, Y3
	VPXOR        (R11), Y13, Y4
	VPSIGNB      Y2, Y4, Y4
	VPMADDUBSW   Y4, Y3, Y4
	VPMADDWD     Y14, Y4, Y4
	VCVTDQ2PS    Y4, Y4
	VPBROADCASTW (R10), X5
	VCVTPH2PS    X5, Y5
	VMULPS       (R12), Y5, Y5
	VFMADD231PS  Y5, Y4, Y0

qysum:
	VADDPS Y1, Y0, Y0
	HSUMY(Y0, X0)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   R9
	JMP    qyrow

qydone:
	VZEROUPPER
	RET

// func rowsQ4AVX2(y *float32, w *byte, rowBytes, rows int, xu *byte, xd *float32, nb int)
// The Q4_0 rows kernel with AVX2: nibbles spread to 32 unsigned bytes in
// value order, VPMADDUBSW against the signed input quants, minus the same
// against bytes of 8 (the nibbles' offset), pairs summed to int32 and
// scaled by dw·dx. Pair sums stay below 2·15·127, far from int16 limits.
TEXT ·rowsQ4AVX2(SB), NOSPLIT, $0-56
	MOVQ         y+0(FP), DI
	MOVQ         w+8(FP), SI
	MOVQ         rowBytes+16(FP), R8
	MOVQ         rows+24(FP), R9
	MOVQ         xu+32(FP), DX
	MOVQ         xd+40(FP), BX
	MOVQ         nb+48(FP), CX
	MOVL         $0x80808080, AX
	MOVQ         AX, X13
	VPBROADCASTD X13, Y13
	MOVL         $0x00010001, AX
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14
	MOVL         $0x0f0f0f0f, AX
	MOVQ         AX, X12
	VPBROADCASTD X12, Y12
	MOVL         $0x08080808, AX
	MOVQ         AX, X11
	VPBROADCASTD X11, Y11

q4yrow:
	TESTQ  R9, R9
	JZ     q4ydone
	MOVQ   SI, R10
	MOVQ   DX, R11
	MOVQ   BX, R12
	MOVQ   CX, R13
	VXORPS Y0, Y0, Y0

q4yblk:
	TESTQ        R13, R13
	JZ           q4ysum
	VMOVDQU      2(R10), X2
	VPSRLW       $4, X2, X3
	VINSERTI128  $1, X3, Y2, Y2
	VPAND        Y12, Y2, Y2
	VPXOR        (R11), Y13, Y4
	VPMADDUBSW   Y4, Y2, Y5
	VPMADDUBSW   Y4, Y11, Y6
	VPSUBW       Y6, Y5, Y5
	VPMADDWD     Y14, Y5, Y5
	VCVTDQ2PS    Y5, Y5
	VPBROADCASTW (R10), X7
	VCVTPH2PS    X7, Y7
	VMULPS       (R12), Y7, Y7
	VFMADD231PS  Y7, Y5, Y0
	ADDQ         $18, R10
	ADDQ         $32, R11
	ADDQ         $32, R12
	DECQ         R13
	JMP          q4yblk

q4ysum:
	HSUMY(Y0, X0)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R8, SI
	DECQ   R9
	JMP    q4yrow

q4ydone:
	VZEROUPPER
	RET
