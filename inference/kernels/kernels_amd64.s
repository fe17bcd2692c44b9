//go:build amd64

#include "textflag.h"

// q8scaleidx picks words 0 (8 times) and 17 (8 times) of two Q8_0 blocks
// 34 bytes apart: their fp16 scales.
DATA q8scaleidx<>+0(SB)/8, $0
DATA q8scaleidx<>+8(SB)/8, $0
DATA q8scaleidx<>+16(SB)/8, $0x0011001100110011
DATA q8scaleidx<>+24(SB)/8, $0x0011001100110011
GLOBL q8scaleidx<>(SB), RODATA|NOPTR, $32

// AVX-512 kernels. Register use follows one plan throughout: Z0–Z15 hold
// accumulators (so the VEX-only horizontal adds can reach them at the end),
// Z16 and up hold loaded operands and temporaries.

// HSUM reduces the 16 floats of Z to their sum in the low lane of X, using
// Z16 as scratch.
#define HSUM(Z, Y, X) \
	VEXTRACTF64X4 $1, Z, Y16 \
	VADDPS        Y16, Y, Y \
	VEXTRACTF32X4 $1, Y, X16 \
	VADDPS        X16, X, X \
	VPERMILPS     $0x4e, X, X16 \
	VADDPS        X16, X, X \
	VPERMILPS     $0xb1, X, X16 \
	VADDSS        X16, X, X

// ROWS is the body of rowsF32/F16/BF16: for each of rows rows of w
// (rowBytes apart) y[i] = dot(row i, x) over the first n (a multiple of 16)
// values. WLOAD(addr, Z) loads 16 weights widened to float32 and WSTEP is
// the bytes 16 weights take. Four accumulators hide the FMA latency.
#define ROWS \
	MOVQ y+0(FP), DI \
	MOVQ w+8(FP), SI \
	MOVQ rowBytes+16(FP), R8 \
	MOVQ rows+24(FP), R9 \
	MOVQ x+32(FP), DX \
	MOVQ n+40(FP), CX \
rowloop: \
	TESTQ R9, R9 \
	JZ    rowsdone \
	MOVQ  SI, R10 \
	MOVQ  DX, R11 \
	MOVQ  CX, R12 \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
row64: \
	CMPQ R12, $64 \
	JB   row16 \
	WLOAD(0(R10), Z16) \
	WLOAD(WSTEP(R10), Z17) \
	WLOAD((2*WSTEP)(R10), Z18) \
	WLOAD((3*WSTEP)(R10), Z19) \
	VFMADD231PS (R11), Z16, Z0 \
	VFMADD231PS 64(R11), Z17, Z1 \
	VFMADD231PS 128(R11), Z18, Z2 \
	VFMADD231PS 192(R11), Z19, Z3 \
	ADDQ $(4*WSTEP), R10 \
	ADDQ $256, R11 \
	SUBQ $64, R12 \
	JMP  row64 \
row16: \
	CMPQ R12, $16 \
	JB   rowsum \
	WLOAD(0(R10), Z16) \
	VFMADD231PS (R11), Z16, Z0 \
	ADDQ $WSTEP, R10 \
	ADDQ $64, R11 \
	SUBQ $16, R12 \
	JMP  row16 \
rowsum: \
	VADDPS Z1, Z0, Z0 \
	VADDPS Z3, Z2, Z2 \
	VADDPS Z2, Z0, Z0 \
	HSUM(Z0, Y0, X0) \
	VMOVSS X0, (DI) \
	ADDQ   $4, DI \
	ADDQ   R8, SI \
	DECQ   R9 \
	JMP    rowloop \
rowsdone: \
	VZEROUPPER \
	RET

// REDUCE4 sums each of four accumulators A, B, C, D (Z registers below 16,
// with Y and X names) and stores the four sums, in order, at addr: four
// consecutive rows of one MatMul output.
#define REDUCE4(ZA, YA, XA, ZB, YB, XB, ZC, YC, XC, ZD, YD, XD, addr) \
	VEXTRACTF64X4 $1, ZA, Y16 \
	VADDPS        Y16, YA, YA \
	VEXTRACTF64X4 $1, ZB, Y17 \
	VADDPS        Y17, YB, YB \
	VEXTRACTF64X4 $1, ZC, Y18 \
	VADDPS        Y18, YC, YC \
	VEXTRACTF64X4 $1, ZD, Y19 \
	VADDPS        Y19, YD, YD \
	REDUCE4Y(YA, XA, YB, XB, YC, XC, YD, XD, addr)

// REDUCE4Y is REDUCE4 for Y accumulators.
#define REDUCE4Y(YA, XA, YB, XB, YC, XC, YD, XD, addr) \
	VEXTRACTF32X4 $1, YA, X16 \
	VADDPS        X16, XA, XA \
	VEXTRACTF32X4 $1, YB, X17 \
	VADDPS        X17, XB, XB \
	VEXTRACTF32X4 $1, YC, X18 \
	VADDPS        X18, XC, XC \
	VEXTRACTF32X4 $1, YD, X19 \
	VADDPS        X19, XD, XD \
	VHADDPS       XB, XA, XA \
	VHADDPS       XD, XC, XC \
	VHADDPS       XC, XA, XA \
	VMOVUPS       XA, addr


// PREFETCH8 asks for the weights eight rows ahead of the four rows a rows4
// kernel (ROWS4, rows4Q8VNNI) is reading (rows i..i+3 at R10 and R11 = R10 +
// 2·rowBytes, with R8 = rowBytes and AX = 9·rowBytes), off bytes into them:
// a matrix's rows follow one another in memory, so that is what the kernel
// reads next but one. A decode step streams weights that are in no cache,
// and with the hardware prefetcher alone one core's Q8_0 kernel read them at
// about 14 GB/s; these hints cut its CPU time per product by about a
// quarter (BenchmarkMatVecCold), and the F32 kernel's per decode step of
// the tiny bench model by about as much.
#define PREFETCH8(off) \
	PREFETCHT0 off(R10)(R8*8) \
	PREFETCHT0 off(R10)(AX*1) \
	PREFETCHT0 off(R11)(R8*8) \
	PREFETCHT0 off(R11)(AX*1)

// ROWS4 is ROWS for four rows at a time: each load of x serves four rows,
// and the four sums are reduced together and stored with one instruction.
// Two sets of accumulators (Z0–Z3, Z4–Z7) hide the FMA latency. rows is a
// multiple of 4.
#define ROWS4 \
	MOVQ y+0(FP), DI \
	MOVQ w+8(FP), SI \
	MOVQ rowBytes+16(FP), R8 \
	MOVQ rows+24(FP), R9 \
	MOVQ x+32(FP), DX \
	MOVQ n+40(FP), CX \
	LEAQ (R8)(R8*8), AX \
r4loop: \
	TESTQ R9, R9 \
	JZ    r4done \
	MOVQ  SI, R10 \
	LEAQ  (SI)(R8*2), R11 \
	MOVQ  DX, R12 \
	MOVQ  CX, R13 \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
r4step32: \
	CMPQ R13, $32 \
	JB   r4step16 \
	WPREFETCH \
	VMOVUPS (R12), Z16 \
	VMOVUPS 64(R12), Z17 \
	WLOAD(0(R10), Z18) \
	WLOAD(WSTEP(R10), Z19) \
	VFMADD231PS Z16, Z18, Z0 \
	VFMADD231PS Z17, Z19, Z4 \
	WLOAD(0(R10)(R8*1), Z20) \
	WLOAD(WSTEP(R10)(R8*1), Z21) \
	VFMADD231PS Z16, Z20, Z1 \
	VFMADD231PS Z17, Z21, Z5 \
	WLOAD(0(R11), Z22) \
	WLOAD(WSTEP(R11), Z23) \
	VFMADD231PS Z16, Z22, Z2 \
	VFMADD231PS Z17, Z23, Z6 \
	WLOAD(0(R11)(R8*1), Z24) \
	WLOAD(WSTEP(R11)(R8*1), Z25) \
	VFMADD231PS Z16, Z24, Z3 \
	VFMADD231PS Z17, Z25, Z7 \
	ADDQ $(2*WSTEP), R10 \
	ADDQ $(2*WSTEP), R11 \
	ADDQ $128, R12 \
	SUBQ $32, R13 \
	JMP  r4step32 \
r4step16: \
	CMPQ R13, $16 \
	JB   r4sum \
	VMOVUPS (R12), Z16 \
	WLOAD(0(R10), Z18) \
	WLOAD(0(R10)(R8*1), Z20) \
	WLOAD(0(R11), Z22) \
	WLOAD(0(R11)(R8*1), Z24) \
	VFMADD231PS Z16, Z18, Z0 \
	VFMADD231PS Z16, Z20, Z1 \
	VFMADD231PS Z16, Z22, Z2 \
	VFMADD231PS Z16, Z24, Z3 \
r4sum: \
	VADDPS Z4, Z0, Z0 \
	VADDPS Z5, Z1, Z1 \
	VADDPS Z6, Z2, Z2 \
	VADDPS Z7, Z3, Z3 \
	REDUCE4(Z0, Y0, X0, Z1, Y1, X1, Z2, Y2, X2, Z3, Y3, X3, (DI)) \
	ADDQ $16, DI \
	LEAQ (SI)(R8*4), SI \
	SUBQ $4, R9 \
	JMP  r4loop \
r4done: \
	VZEROUPPER \
	RET

// TILEARGS loads the arguments of a tile kernel (TILE, TILE2): y at DI,
// ldy·4 in R10, rows 0 and 2 at DX and CX (rowBytes in R8), inputs at AX
// (ldx·4 in R9), the values to multiply in R12.
#define TILEARGS \
	MOVQ y+0(FP), DI \
	MOVQ ldy+8(FP), R10 \
	SHLQ $2, R10 \
	MOVQ w+16(FP), DX \
	MOVQ rowBytes+24(FP), R8 \
	MOVQ x+32(FP), AX \
	MOVQ ldx+40(FP), R9 \
	SHLQ $2, R9 \
	MOVQ n+48(FP), R12 \
	LEAQ (DX)(R8*2), CX

// TILE is the body of tileF32/F16/BF16: a 4-row × 4-input block of a
// MatMul over the first n (a multiple of 16) values. Each step loads 16
// values of each of the 4 inputs once and of each of the 4 rows once, for
// 16 FMAs. Accumulator Z(4j+i) holds row i × input j.
#define TILE \
	TILEARGS \
	LEAQ (AX)(R9*2), BX \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15 \
tileloop: \
	CMPQ R12, $16 \
	JB   tiledone \
	WLOAD(0(DX), Z16) \
	WLOAD(0(DX)(R8*1), Z17) \
	WLOAD(0(CX), Z18) \
	WLOAD(0(CX)(R8*1), Z19) \
	VMOVUPS (AX), Z20 \
	VFMADD231PS Z20, Z16, Z0 \
	VFMADD231PS Z20, Z17, Z1 \
	VFMADD231PS Z20, Z18, Z2 \
	VFMADD231PS Z20, Z19, Z3 \
	VMOVUPS (AX)(R9*1), Z21 \
	VFMADD231PS Z21, Z16, Z4 \
	VFMADD231PS Z21, Z17, Z5 \
	VFMADD231PS Z21, Z18, Z6 \
	VFMADD231PS Z21, Z19, Z7 \
	VMOVUPS (BX), Z22 \
	VFMADD231PS Z22, Z16, Z8 \
	VFMADD231PS Z22, Z17, Z9 \
	VFMADD231PS Z22, Z18, Z10 \
	VFMADD231PS Z22, Z19, Z11 \
	VMOVUPS (BX)(R9*1), Z23 \
	VFMADD231PS Z23, Z16, Z12 \
	VFMADD231PS Z23, Z17, Z13 \
	VFMADD231PS Z23, Z18, Z14 \
	VFMADD231PS Z23, Z19, Z15 \
	ADDQ $WSTEP, DX \
	ADDQ $WSTEP, CX \
	ADDQ $64, AX \
	ADDQ $64, BX \
	SUBQ $16, R12 \
	JMP  tileloop \
tiledone: \
	LEAQ (DI)(R10*2), SI \
	REDUCE4(Z0, Y0, X0, Z1, Y1, X1, Z2, Y2, X2, Z3, Y3, X3, (DI)) \
	REDUCE4(Z4, Y4, X4, Z5, Y5, X5, Z6, Y6, X6, Z7, Y7, X7, (DI)(R10*1)) \
	REDUCE4(Z8, Y8, X8, Z9, Y9, X9, Z10, Y10, X10, Z11, Y11, X11, (SI)) \
	REDUCE4(Z12, Y12, X12, Z13, Y13, X13, Z14, Y14, X14, Z15, Y15, X15, (SI)(R10*1)) \
	VZEROUPPER \
	RET


// TILE2 is TILE for a 4-row × 2-input block: a MatMul's inputs left over
// after its 4-input tiles, two at a time (attention's two query heads of
// one KV head, or a block's last two tokens), so each row loaded serves
// two inputs rather than one. Accumulator Z(4j+i) holds row i × input j.
#define TILE2 \
	TILEARGS \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
tile2loop: \
	CMPQ R12, $16 \
	JB   tile2done \
	WLOAD(0(DX), Z16) \
	WLOAD(0(DX)(R8*1), Z17) \
	WLOAD(0(CX), Z18) \
	WLOAD(0(CX)(R8*1), Z19) \
	VMOVUPS (AX), Z20 \
	VFMADD231PS Z20, Z16, Z0 \
	VFMADD231PS Z20, Z17, Z1 \
	VFMADD231PS Z20, Z18, Z2 \
	VFMADD231PS Z20, Z19, Z3 \
	VMOVUPS (AX)(R9*1), Z21 \
	VFMADD231PS Z21, Z16, Z4 \
	VFMADD231PS Z21, Z17, Z5 \
	VFMADD231PS Z21, Z18, Z6 \
	VFMADD231PS Z21, Z19, Z7 \
	ADDQ $WSTEP, DX \
	ADDQ $WSTEP, CX \
	ADDQ $64, AX \
	SUBQ $16, R12 \
	JMP  tile2loop \
tile2done: \
	REDUCE4(Z0, Y0, X0, Z1, Y1, X1, Z2, Y2, X2, Z3, Y3, X3, (DI)) \
	REDUCE4(Z4, Y4, X4, Z5, Y5, X5, Z6, Y6, X6, Z7, Y7, X7, (DI)(R10*1)) \
	VZEROUPPER \
	RET

// Q8 kernels. Activations come as u = q+128 (unsigned) because VPDPBUSD
// multiplies unsigned by signed bytes; Σ u·w = Σ q·w + 128·Σ w, so each
// weight block's 128·Σ w (one more VPDPBUSD against a vector of 128s) is
// subtracted before the integer sum is scaled by dw·dx and accumulated.

// Q8ROW does one weight row's block for the four inputs of a 4×4 tile:
// Y16–Y19 hold the inputs' quants, Y20–Y23 their scales, Y24 bytes of 128,
// Y30 zero. WD and WQ address the row's block scale and quants.
#define Q8ROW(WD, WQ, A0, A1, A2, A3) \
	VPBROADCASTW WD, X26 \
	VCVTPH2PS    X26, Y26 \
	VMOVDQU32    WQ, Y27 \
	VPXORD       Y25, Y25, Y25 \
	VPDPBUSD     Y27, Y24, Y25 \
	VPSUBD       Y25, Y30, Y25 \
	Q8PAIR(Y16, Y20, A0) \
	Q8PAIR(Y17, Y21, A1) \
	Q8PAIR(Y18, Y22, A2) \
	Q8PAIR(Y19, Y23, A3)

// Q8PAIR accumulates one (row, input) block: A += dw·dx·(Σ u·w − 128·Σ w).
#define Q8PAIR(XU, XD, A) \
	VMOVDQA32   Y25, Y28 \
	VPDPBUSD    Y27, XU, Y28 \
	VCVTDQ2PS   Y28, Y28 \
	VMULPS      XD, Y26, Y29 \
	VFMADD231PS Y29, Y28, A

// Q8BLOCK accumulates one block of one row against one input into A:
// scale, quants and activation at WD, WQ, XU, XS. Uses Y16–Y20; Y23
// holds bytes of 128.
#define Q8BLOCK(WD, WQ, XU, XS, A) \
	VPBROADCASTW WD, X16 \
	VCVTPH2PS    X16, Y16 \
	VMULPS.BCST  XS, Y16, Y16 \
	VMOVDQU32    WQ, Y17 \
	VPXORD       Y19, Y19, Y19 \
	VPDPBUSD     Y17, Y23, Y19 \
	VMOVDQU32    XU, Y18 \
	VPXORD       Y20, Y20, Y20 \
	VPDPBUSD     Y17, Y18, Y20 \
	VPSUBD       Y19, Y20, Y20 \
	VCVTDQ2PS    Y20, Y20 \
	VFMADD231PS  Y20, Y16, A


// EXPCONST loads the constants EXP uses into Z2–Z11.
#define EXPCONST \
	MOVL         $0x3fb8aa3b, AX \
	VPBROADCASTD AX, Z2 \
	MOVL         $0x3f318000, AX \
	VPBROADCASTD AX, Z3 \
	MOVL         $0xb95e8083, AX \
	VPBROADCASTD AX, Z4 \
	MOVL         $0xc2d00000, AX \
	VPBROADCASTD AX, Z5 \
	MOVL         $0x3ab60b61, AX \
	VPBROADCASTD AX, Z6 \
	MOVL         $0x3c088889, AX \
	VPBROADCASTD AX, Z7 \
	MOVL         $0x3d2aaaab, AX \
	VPBROADCASTD AX, Z8 \
	MOVL         $0x3e2aaaab, AX \
	VPBROADCASTD AX, Z9 \
	MOVL         $0x3f000000, AX \
	VPBROADCASTD AX, Z10 \
	MOVL         $0x3f800000, AX \
	VPBROADCASTD AX, Z11

// EXP sets ZO = e^ZI for 16 floats, as exp32 does: ZI = k·ln2 + r with
// k = round(ZI·log2e) (Z2; ln2 split in Z3 and Z4 so k·ln2hi is exact),
// e^r by its degree-6 Taylor polynomial (coefficients Z6–Z11), times 2^k by
// VSCALEFPS. Inputs are first clamped to -104 (Z5), below which the result
// is 0 in float32 anyway, so -Inf gives 0 rather than NaN. Clobbers ZI, Z17.
#define EXP(ZI, ZO) \
	VMAXPS       Z5, ZI, ZI \
	VMULPS       Z2, ZI, Z17 \
	VRNDSCALEPS  $0, Z17, Z17 \
	VFNMADD231PS Z3, Z17, ZI \
	VFNMADD231PS Z4, Z17, ZI \
	VMOVAPS      Z6, ZO \
	VFMADD213PS  Z7, ZI, ZO \
	VFMADD213PS  Z8, ZI, ZO \
	VFMADD213PS  Z9, ZI, ZO \
	VFMADD213PS  Z10, ZI, ZO \
	VFMADD213PS  Z11, ZI, ZO \
	VFMADD213PS  Z11, ZI, ZO \
	VSCALEFPS    Z17, ZO, ZO


// Q8DW2 sets Z26 = [dw_a ×8, dw_b ×8], the fp16 scales of two consecutive
// weight blocks widened, to scale a ZMM holding the two blocks' integer
// sums. WA addresses the first block; one 64-byte VPERMW from there picks
// both scales (words 0 and 17) by the index vector in Z31 (Q8IDX), which
// takes fewer shuffle-port µops than two broadcasts and an insert. WB, the
// second block's scale, is named for the reader only.
#define Q8DW2(WA, WB) \
	VPERMW    WA, Z31, Z26 \
	VCVTPH2PS Y26, Z26

// Q8IDX loads Q8DW2's index vector into Z31.
#define Q8IDX VMOVDQU16 q8scaleidx<>(SB), Y31

// Q8W2 loads two consecutive weight blocks' quants (at WQ, 34 bytes apart)
// into Z27 and sets Z25 = -128·Σw per 4-byte group (Z24: bytes of 128,
// Z30: zero).
#define Q8W2(WQ, WQ2) \
	VMOVDQU32    WQ, Y27 \
	VINSERTI64X4 $1, WQ2, Z27, Z27 \
	VPXORD       Z25, Z25, Z25 \
	VPDPBUSD     Z27, Z24, Z25 \
	VPSUBD       Z25, Z30, Z25

// Q8ROW2 is Q8ROW for two blocks at once in ZMM registers: inputs' quants in
// Z16–Z19, their scales (8 copies per block) in Z20–Z23.
#define Q8ROW2(WD, WD2, WQ, WQ2, A0, A1, A2, A3) \
	Q8DW2(WD, WD2) \
	Q8W2(WQ, WQ2) \
	Q8PAIR2(Z16, Z20, A0) \
	Q8PAIR2(Z17, Z21, A1) \
	Q8PAIR2(Z18, Z22, A2) \
	Q8PAIR2(Z19, Z23, A3)

#define Q8PAIR2(XU, XD, A) \
	VMOVDQA32   Z25, Z28 \
	VPDPBUSD    Z27, XU, Z28 \
	VCVTDQ2PS   Z28, Z28 \
	VMULPS      XD, Z26, Z29 \
	VFMADD231PS Z29, Z28, A


// Q8ROWX1 accumulates two blocks of one weight row against one input whose
// quants are in Z19 and scales (8 copies per block) in Z20, into A.
#define Q8ROWX1(WD, WD2, WQ, WQ2, A) \
	Q8DW2(WD, WD2) \
	VMULPS      Z20, Z26, Z26 \
	Q8W2(WQ, WQ2) \
	VPDPBUSD    Z27, Z19, Z25 \
	VCVTDQ2PS   Z25, Z25 \
	VFMADD231PS Z26, Z25, A

// FOLD adds the upper half of Z into its lower half Y, leaving a YMM
// accumulator.
#define FOLD(Z, Y) \
	VEXTRACTF64X4 $1, Z, Y16 \
	VADDPS        Y16, Y, Y

// func dotF32AVX512(a, b *float32, n int) float32
// n is a multiple of 16.
TEXT ·dotF32AVX512(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

dot64:
	CMPQ        CX, $64
	JB          dot16
	VMOVUPS     (SI), Z16
	VMOVUPS     64(SI), Z17
	VMOVUPS     128(SI), Z18
	VMOVUPS     192(SI), Z19
	VFMADD231PS (DI), Z16, Z0
	VFMADD231PS 64(DI), Z17, Z1
	VFMADD231PS 128(DI), Z18, Z2
	VFMADD231PS 192(DI), Z19, Z3
	ADDQ        $256, SI
	ADDQ        $256, DI
	SUBQ        $64, CX
	JMP         dot64

dot16:
	CMPQ        CX, $16
	JB          dotdone
	VMOVUPS     (SI), Z16
	VFMADD231PS (DI), Z16, Z0
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         dot16

dotdone:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	HSUM(Z0, Y0, X0)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func axpyF32AVX512(a float32, x, y *float32, n int)
// y[i] += a*x[i] for n (a multiple of 16) values.
TEXT ·axpyF32AVX512(SB), NOSPLIT, $0-32
	VBROADCASTSS a+0(FP), Z0
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         n+24(FP), CX

axpy32:
	CMPQ        CX, $32
	JB          axpy16
	VMOVUPS     (DI), Z16
	VMOVUPS     64(DI), Z17
	VFMADD231PS (SI), Z0, Z16
	VFMADD231PS 64(SI), Z0, Z17
	VMOVUPS     Z16, (DI)
	VMOVUPS     Z17, 64(DI)
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         axpy32

axpy16:
	CMPQ        CX, $16
	JB          axpydone
	VMOVUPS     (DI), Z16
	VFMADD231PS (SI), Z0, Z16
	VMOVUPS     Z16, (DI)

axpydone:
	VZEROUPPER
	RET

#define WLOAD(addr, Z) VMOVUPS addr, Z
#define WSTEP 64
#define WPREFETCH PREFETCH8(0); PREFETCH8(64)

// func rowsF32AVX512(y *float32, w *byte, rowBytes, rows int, x *float32, n int)
TEXT ·rowsF32AVX512(SB), NOSPLIT, $0-48
	ROWS

// func rows4F32AVX512(y *float32, w *byte, rowBytes, rows int, x *float32, n int)
TEXT ·rows4F32AVX512(SB), NOSPLIT, $0-48
	ROWS4

#undef WLOAD
#undef WSTEP
#undef WPREFETCH
#define WLOAD(addr, Z) VCVTPH2PS addr, Z
#define WSTEP 32
#define WPREFETCH PREFETCH8(0)

// func rowsF16AVX512(y *float32, w *byte, rowBytes, rows int, x *float32, n int)
TEXT ·rowsF16AVX512(SB), NOSPLIT, $0-48
	ROWS

// func rows4F16AVX512(y *float32, w *byte, rowBytes, rows int, x *float32, n int)
TEXT ·rows4F16AVX512(SB), NOSPLIT, $0-48
	ROWS4

#undef WLOAD
#define WLOAD(addr, Z) VPMOVZXWD addr, Z; VPSLLD $16, Z, Z

// func rowsBF16AVX512(y *float32, w *byte, rowBytes, rows int, x *float32, n int)
TEXT ·rowsBF16AVX512(SB), NOSPLIT, $0-48
	ROWS

// func rows4BF16AVX512(y *float32, w *byte, rowBytes, rows int, x *float32, n int)
TEXT ·rows4BF16AVX512(SB), NOSPLIT, $0-48
	ROWS4

#undef WLOAD
#undef WSTEP
#undef WPREFETCH

#define WLOAD(addr, Z) VMOVUPS addr, Z
#define WSTEP 64

// func tileF32AVX512(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int)
TEXT ·tileF32AVX512(SB), NOSPLIT, $0-56
	TILE

// func tile2F32AVX512(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int)
TEXT ·tile2F32AVX512(SB), NOSPLIT, $0-56
	TILE2

#undef WLOAD
#undef WSTEP
#define WLOAD(addr, Z) VCVTPH2PS addr, Z
#define WSTEP 32

// func tileF16AVX512(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int)
TEXT ·tileF16AVX512(SB), NOSPLIT, $0-56
	TILE

// func tile2F16AVX512(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int)
TEXT ·tile2F16AVX512(SB), NOSPLIT, $0-56
	TILE2

#undef WLOAD
#define WLOAD(addr, Z) VPMOVZXWD addr, Z; VPSLLD $16, Z, Z

// func tileBF16AVX512(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int)
TEXT ·tileBF16AVX512(SB), NOSPLIT, $0-56
	TILE

// func tile2BF16AVX512(y *float32, ldy int, w *byte, rowBytes int, x *float32, ldx, n int)
TEXT ·tile2BF16AVX512(SB), NOSPLIT, $0-56
	TILE2

#undef WLOAD
#undef WSTEP

// func expSubAVX512(x *float32, n int, m float32) float32
// x[i] = e^(x[i]-m) for n (a multiple of 16) values; returns their sum.
TEXT ·expSubAVX512(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Z1
	EXPCONST
	VPXORD       Z0, Z0, Z0

exploop:
	CMPQ    CX, $16
	JB      expdone
	VMOVUPS (SI), Z16
	VSUBPS  Z1, Z16, Z16
	EXP(Z16, Z18)
	VMOVUPS Z18, (SI)
	VADDPS  Z18, Z0, Z0
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     exploop

expdone:
	HSUM(Z0, Y0, X0)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func swigluAVX512(dst, gate, up *float32, n int)
// dst[i] = gate[i]/(1+e^-gate[i])·up[i] for n (a multiple of 16) values.
TEXT ·swigluAVX512(SB), NOSPLIT, $0-32
	MOVQ   dst+0(FP), DI
	MOVQ   gate+8(FP), SI
	MOVQ   up+16(FP), DX
	MOVQ   n+24(FP), CX
	EXPCONST
	VPXORD Z0, Z0, Z0

swiloop:
	CMPQ    CX, $16
	JB      swidone
	VMOVUPS (SI), Z19
	VSUBPS  Z19, Z0, Z16
	EXP(Z16, Z18)
	VADDPS  Z11, Z18, Z18
	VDIVPS  Z18, Z19, Z19
	VMULPS  (DX), Z19, Z19
	VMOVUPS Z19, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     swiloop

swidone:
	VZEROUPPER
	RET

// func rowsQ8VNNI(y *float32, w *byte, rowBytes, rows int, xu *byte, xd *float32, nb int)
// y[i] = Σ over nb blocks of row i of w (rowBytes apart) · the input, whose
// block scales xd hold 8 copies each. Two blocks per step fill a ZMM; an odd
// last block runs in a YMM.
TEXT ·rowsQ8VNNI(SB), NOSPLIT, $0-56
	MOVQ         y+0(FP), DI
	MOVQ         w+8(FP), SI
	MOVQ         rowBytes+16(FP), R8
	MOVQ         rows+24(FP), R9
	MOVQ         xu+32(FP), DX
	MOVQ         xd+40(FP), BX
	MOVQ         nb+48(FP), CX
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Z24
	VPBROADCASTD AX, Y23
	VPXORD       Z30, Z30, Z30
	Q8IDX

q8row:
	TESTQ  R9, R9
	JZ     q8done
	MOVQ   SI, R10
	MOVQ   DX, R11
	MOVQ   BX, R13
	MOVQ   CX, R12
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1

q8blk2:
	CMPQ        R12, $2
	JB          q8fold
	Q8DW2((R10), 34(R10))
	VMULPS      (R13), Z26, Z26
	Q8W2(2(R10), 36(R10))
	VMOVDQU32   (R11), Z19
	VPDPBUSD    Z27, Z19, Z25
	VCVTDQ2PS   Z25, Z25
	VFMADD231PS Z26, Z25, Z0
	ADDQ        $68, R10
	ADDQ        $64, R11
	ADDQ        $64, R13
	SUBQ        $2, R12
	JMP         q8blk2

q8fold:
	FOLD(Z0, Y0)
	TESTQ R12, R12
	JZ    q8sum
	Q8BLOCK((R10), 2(R10), (R11), (R13), Y1)

q8sum:
	VADDPS        Y1, Y0, Y0
	VEXTRACTF32X4 $1, Y0, X16
	VADDPS        X16, X0, X0
	VPERMILPS     $0x4e, X0, X16
	VADDPS        X16, X0, X0
	VPERMILPS     $0xb1, X0, X16
	VADDSS        X16, X0, X0
	VMOVSS        X0, (DI)
	ADDQ          $4, DI
	ADDQ          R8, SI
	DECQ          R9
	JMP           q8row

q8done:
	VZEROUPPER
	RET

// func tileQ8VNNI(y *float32, ldy int, w *byte, rowBytes int, xu *byte, ldx int, xd *float32, nb int)
// A 4-row × 4-input block of a Q8_0 MatMul; inputs are ldx quants and nb
// scales (8 copies each) apart. Accumulator Z(4j+i) holds row i × input j.
// Two blocks per step in ZMM registers; an odd last block runs in YMM
// registers after the accumulators are folded to 256 bits.
TEXT ·tileQ8VNNI(SB), NOSPLIT, $0-64
	MOVQ         y+0(FP), DI
	MOVQ         ldy+8(FP), R10
	SHLQ         $2, R10
	MOVQ         w+16(FP), DX
	MOVQ         rowBytes+24(FP), R8
	MOVQ         xu+32(FP), AX
	MOVQ         ldx+40(FP), R9
	MOVQ         xd+48(FP), R13
	MOVQ         nb+56(FP), R12
	MOVQ         R12, R14
	SHLQ         $5, R14
	LEAQ         (DX)(R8*2), CX
	LEAQ         (AX)(R9*2), BX
	LEAQ         (R13)(R14*2), R11
	MOVL         $0x80808080, SI
	VPBROADCASTD SI, Z24
	VPXORD       Z30, Z30, Z30
	Q8IDX
	VPXORD       Z0, Z0, Z0
	VPXORD       Z1, Z1, Z1
	VPXORD       Z2, Z2, Z2
	VPXORD       Z3, Z3, Z3
	VPXORD       Z4, Z4, Z4
	VPXORD       Z5, Z5, Z5
	VPXORD       Z6, Z6, Z6
	VPXORD       Z7, Z7, Z7
	VPXORD       Z8, Z8, Z8
	VPXORD       Z9, Z9, Z9
	VPXORD       Z10, Z10, Z10
	VPXORD       Z11, Z11, Z11
	VPXORD       Z12, Z12, Z12
	VPXORD       Z13, Z13, Z13
	VPXORD       Z14, Z14, Z14
	VPXORD       Z15, Z15, Z15

q8tile2:
	CMPQ      R12, $2
	JB        q8tilefold
	VMOVDQU32 (AX), Z16
	VMOVDQU32 (AX)(R9*1), Z17
	VMOVDQU32 (BX), Z18
	VMOVDQU32 (BX)(R9*1), Z19
	VMOVUPS   (R13), Z20
	VMOVUPS   (R13)(R14*1), Z21
	VMOVUPS   (R11), Z22
	VMOVUPS   (R11)(R14*1), Z23
	Q8ROW2((DX), 34(DX), 2(DX), 36(DX), Z0, Z4, Z8, Z12)
	Q8ROW2((DX)(R8*1), 34(DX)(R8*1), 2(DX)(R8*1), 36(DX)(R8*1), Z1, Z5, Z9, Z13)
	Q8ROW2((CX), 34(CX), 2(CX), 36(CX), Z2, Z6, Z10, Z14)
	Q8ROW2((CX)(R8*1), 34(CX)(R8*1), 2(CX)(R8*1), 36(CX)(R8*1), Z3, Z7, Z11, Z15)
	ADDQ      $68, DX
	ADDQ      $68, CX
	ADDQ      $64, AX
	ADDQ      $64, BX
	ADDQ      $64, R13
	ADDQ      $64, R11
	SUBQ      $2, R12
	JMP       q8tile2

q8tilefold:
	FOLD(Z0, Y0)
	FOLD(Z1, Y1)
	FOLD(Z2, Y2)
	FOLD(Z3, Y3)
	FOLD(Z4, Y4)
	FOLD(Z5, Y5)
	FOLD(Z6, Y6)
	FOLD(Z7, Y7)
	FOLD(Z8, Y8)
	FOLD(Z9, Y9)
	FOLD(Z10, Y10)
	FOLD(Z11, Y11)
	FOLD(Z12, Y12)
	FOLD(Z13, Y13)
	FOLD(Z14, Y14)
	FOLD(Z15, Y15)
	TESTQ     R12, R12
	JZ        q8tiledone
	VMOVDQU32 (AX), Y16
	VMOVDQU32 (AX)(R9*1), Y17
	VMOVDQU32 (BX), Y18
	VMOVDQU32 (BX)(R9*1), Y19
	VMOVUPS   (R13), Y20
	VMOVUPS   (R13)(R14*1), Y21
	VMOVUPS   (R11), Y22
	VMOVUPS   (R11)(R14*1), Y23
	Q8ROW((DX), 2(DX), Y0, Y4, Y8, Y12)
	Q8ROW((DX)(R8*1), 2(DX)(R8*1), Y1, Y5, Y9, Y13)
	Q8ROW((CX), 2(CX), Y2, Y6, Y10, Y14)
	Q8ROW((CX)(R8*1), 2(CX)(R8*1), Y3, Y7, Y11, Y15)

q8tiledone:
	LEAQ (DI)(R10*2), SI
	REDUCE4Y(Y0, X0, Y1, X1, Y2, X2, Y3, X3, (DI))
	REDUCE4Y(Y4, X4, Y5, X5, Y6, X6, Y7, X7, (DI)(R10*1))
	REDUCE4Y(Y8, X8, Y9, X9, Y10, X10, Y11, X11, (SI))
	REDUCE4Y(Y12, X12, Y13, X13, Y14, X14, Y15, X15, (SI)(R10*1))
	VZEROUPPER
	RET

// QROUND sets the 16 values of ZV·Z20 (the inverse scale) to int8 quants,
// rounded half away from zero as C's roundf (and tensor.QuantizeQ8_0) do,
// offset by 128, and stores them as 16 bytes at addr. Truncating and then
// stepping away from zero when the dropped fraction is at least one half is
// exact, where adding 0.5 first can round up a value just below a half.
#define QROUND(ZV, addr) \
	VMULPS      Z20, ZV, ZV \
	VRNDSCALEPS $3, ZV, Z8 \
	VSUBPS      Z8, ZV, Z9 \
	VANDPS      Z21, Z9, Z9 \
	VCMPPS      $13, Z22, Z9, K1 \
	VANDPS      Z23, ZV, Z10 \
	VORPS       Z24, Z10, Z10 \
	VADDPS      Z10, Z8, K1, Z8 \
	VCVTTPS2DQ  Z8, Z8 \
	VPXORD      Z25, Z8, Z8 \
	VPMOVDB     Z8, addr

// func quantizeQ8AVX512(x *float32, u *byte, d, dv *float32, nb int)
// Quantizes nb blocks of 32 values as QuantizeQ8 does.
TEXT ·quantizeQ8AVX512(SB), NOSPLIT, $0-40
	MOVQ         x+0(FP), SI
	MOVQ         u+8(FP), DI
	MOVQ         d+16(FP), DX
	MOVQ         dv+24(FP), BX
	MOVQ         nb+32(FP), CX
	MOVL         $0x7fffffff, AX
	VPBROADCASTD AX, Z21
	MOVL         $0x3f000000, AX
	VPBROADCASTD AX, Z22
	MOVL         $0x80000000, AX
	VPBROADCASTD AX, Z23
	MOVL         $0x3f800000, AX
	VPBROADCASTD AX, Z24
	MOVL         $0x80, AX
	VPBROADCASTD AX, Z25
	MOVL         $0x42fe0000, AX // 127
	VMOVD        AX, X26
	MOVL         $0x3f800000, AX
	VMOVD        AX, X27
	VXORPS       X28, X28, X28

qblock:
	TESTQ         CX, CX
	JZ            qdone
	VMOVUPS       (SI), Z0
	VMOVUPS       64(SI), Z1
	VANDPS        Z21, Z0, Z2
	VANDPS        Z21, Z1, Z3
	VMAXPS        Z3, Z2, Z2
	VEXTRACTF64X4 $1, Z2, Y3
	VMAXPS        Y3, Y2, Y2
	VEXTRACTF32X4 $1, Y2, X3
	VMAXPS        X3, X2, X2
	VPERMILPS     $0x4e, X2, X3
	VMAXPS        X3, X2, X2
	VPERMILPS     $0xb1, X2, X3
	VMAXSS        X3, X2, X2
	VDIVSS        X26, X2, X4      // d = amax/127
	VUCOMISS      X28, X4
	JEQ           qzero
	VDIVSS        X4, X27, X5      // id = 1/d
	VBROADCASTSS  X5, Z20
	VCVTPS2PH     $0, X4, X6       // d rounded to fp16 (to nearest even)…
	VCVTPH2PS     X6, X6           // …and back
	VMOVSS        X6, (DX)
	VBROADCASTSS  X6, Y7
	VMOVUPS       Y7, (BX)
	QROUND(Z0, (DI))
	QROUND(Z1, 16(DI))
	JMP           qnext

qzero:
	// An all-zero block: d = 0 and every quant 0 (byte 128).
	VMOVSS   X28, (DX)
	VMOVUPS  Y28, (BX)
	VPMOVDB  Z25, (DI)
	VPMOVDB  Z25, 16(DI)

qnext:
	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $4, DX
	ADDQ $32, BX
	DECQ CX
	JMP  qblock

qdone:
	VZEROUPPER
	RET

// func maxAVX512(x *float32, n int) float32
// The largest of n (a multiple of 16, at least 16) values.
TEXT ·maxAVX512(SB), NOSPLIT, $0-20
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	VMOVUPS (SI), Z0
	VMOVAPS Z0, Z1
	ADDQ    $64, SI
	SUBQ    $16, CX

max32:
	CMPQ   CX, $32
	JB     max16
	VMAXPS (SI), Z0, Z0
	VMAXPS 64(SI), Z1, Z1
	ADDQ   $128, SI
	SUBQ   $32, CX
	JMP    max32

max16:
	CMPQ   CX, $16
	JB     maxdone
	VMAXPS (SI), Z0, Z0

maxdone:
	VMAXPS        Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0x4e, X0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0xb1, X0, X1
	VMAXSS        X1, X0, X0
	VMOVSS        X0, ret+16(FP)
	VZEROUPPER
	RET

// func scaleAVX512(x *float32, a float32, n int)
// x[i] *= a for n (a multiple of 16) values.
TEXT ·scaleAVX512(SB), NOSPLIT, $0-24
	MOVQ         x+0(FP), SI
	VBROADCASTSS a+8(FP), Z0
	MOVQ         n+16(FP), CX

scale16:
	CMPQ    CX, $16
	JB      scaledone
	VMULPS  (SI), Z0, Z1
	VMOVUPS Z1, (SI)
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     scale16

scaledone:
	VZEROUPPER
	RET

// func rows4Q8VNNI(y *float32, w *byte, rowBytes, rows int, xu *byte, xd *float32, nb int)
// rowsQ8VNNI for rows (a multiple of 4) four at a time: the input's quants
// and scales are loaded once for four rows and the four sums reduced
// together.
TEXT ·rows4Q8VNNI(SB), NOSPLIT, $0-56
	MOVQ         y+0(FP), DI
	MOVQ         w+8(FP), SI
	MOVQ         rowBytes+16(FP), R8
	MOVQ         rows+24(FP), R9
	MOVQ         xu+32(FP), DX
	MOVQ         xd+40(FP), BX
	MOVQ         nb+48(FP), CX
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Z24
	VPBROADCASTD AX, Y23
	VPXORD       Z30, Z30, Z30
	Q8IDX
	LEAQ         (R8)(R8*8), AX // 9·rowBytes, for PREFETCH8

q4row:
	TESTQ  R9, R9
	JZ     q4done
	MOVQ   SI, R10
	LEAQ   (SI)(R8*2), R11
	MOVQ   DX, R12
	MOVQ   BX, R13
	MOVQ   CX, R14
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

q4blk2:
	CMPQ      R14, $2
	JB        q4fold
	VMOVDQU32 (R12), Z19
	VMOVUPS   (R13), Z20
	PREFETCH8(0) // a step reads 68 bytes of each row: ask for both lines
	PREFETCH8(64)
	Q8ROWX1((R10), 34(R10), 2(R10), 36(R10), Z0)
	Q8ROWX1((R10)(R8*1), 34(R10)(R8*1), 2(R10)(R8*1), 36(R10)(R8*1), Z1)
	Q8ROWX1((R11), 34(R11), 2(R11), 36(R11), Z2)
	Q8ROWX1((R11)(R8*1), 34(R11)(R8*1), 2(R11)(R8*1), 36(R11)(R8*1), Z3)
	ADDQ      $68, R10
	ADDQ      $68, R11
	ADDQ      $64, R12
	ADDQ      $64, R13
	SUBQ      $2, R14
	JMP       q4blk2

q4fold:
	FOLD(Z0, Y0)
	FOLD(Z1, Y1)
	FOLD(Z2, Y2)
	FOLD(Z3, Y3)
	TESTQ R14, R14
	JZ    q4sum
	Q8BLOCK((R10), 2(R10), (R12), (R13), Y0)
	Q8BLOCK((R10)(R8*1), 2(R10)(R8*1), (R12), (R13), Y1)
	Q8BLOCK((R11), 2(R11), (R12), (R13), Y2)
	Q8BLOCK((R11)(R8*1), 2(R11)(R8*1), (R12), (R13), Y3)

q4sum:
	REDUCE4Y(Y0, X0, Y1, X1, Y2, X2, Y3, X3, (DI))
	ADDQ $16, DI
	LEAQ (SI)(R8*4), SI
	SUBQ $4, R9
	JMP  q4row

q4done:
	VZEROUPPER
	RET

// func rowsQ4VNNI(y *float32, w *byte, rowBytes, rows int, xu *byte, xd *float32, nb int)
// y[i] = row i of a Q4_0 weight · a Q8_0-quantized input (xd: each block's
// scale 8 times). Per block the nibbles are spread to 32 unsigned bytes in
// value order, VPDPBUSD multiplies them by the signed input quants, and
// 8·Σ q_x (another VPDPBUSD, against bytes of 8) takes out the nibbles'
// offset of 8.
TEXT ·rowsQ4VNNI(SB), NOSPLIT, $0-56
	MOVQ         y+0(FP), DI
	MOVQ         w+8(FP), SI
	MOVQ         rowBytes+16(FP), R8
	MOVQ         rows+24(FP), R9
	MOVQ         xu+32(FP), DX
	MOVQ         xd+40(FP), BX
	MOVQ         nb+48(FP), CX
	MOVL         $0x08080808, AX
	VPBROADCASTD AX, Y21
	MOVL         $0x0f0f0f0f, AX
	VPBROADCASTD AX, Y22
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Y23

q4row:
	TESTQ  R9, R9
	JZ     q4rdone
	MOVQ   SI, R10
	MOVQ   DX, R11
	MOVQ   BX, R12
	MOVQ   CX, R13
	VPXORD Y0, Y0, Y0

q4blk:
	TESTQ        R13, R13
	JZ           q4rsum
	VMOVDQU32    2(R10), X16
	VPSRLW       $4, X16, X17
	VINSERTI32X4 $1, X17, Y16, Y16
	VPANDD       Y22, Y16, Y16
	VPXORD       (R11), Y23, Y17
	VPXORD       Y18, Y18, Y18
	VPDPBUSD     Y17, Y16, Y18
	VPXORD       Y19, Y19, Y19
	VPDPBUSD     Y17, Y21, Y19
	VPSUBD       Y19, Y18, Y18
	VCVTDQ2PS    Y18, Y18
	VPBROADCASTW (R10), X20
	VCVTPH2PS    X20, Y20
	VMULPS       (R12), Y20, Y20
	VFMADD231PS  Y20, Y18, Y0
	ADDQ         $18, R10
	ADDQ         $32, R11
	ADDQ         $32, R12
	DECQ         R13
	JMP          q4blk

q4rsum:
	VEXTRACTF32X4 $1, Y0, X16
	VADDPS        X16, X0, X0
	VPERMILPS     $0x4e, X0, X16
	VADDPS        X16, X0, X0
	VPERMILPS     $0xb1, X0, X16
	VADDSS        X16, X0, X0
	VMOVSS        X0, (DI)
	ADDQ          $4, DI
	ADDQ          R8, SI
	DECQ          R9
	JMP           q4row

q4rdone:
	VZEROUPPER
	RET
