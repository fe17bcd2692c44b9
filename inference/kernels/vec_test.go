package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/anima-rt/anima/inference/tensor"
)

var vecLens = []int{0, 1, 3, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 1000, 4099}

func TestDotMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, im := range impls() {
		for _, n := range vecLens {
			a, b := randVec(rng, n), randVec(rng, n)
			got := im.dot(a, b)
			want := dotRef(a, b)
			scale := 0.0
			for i := range a {
				scale += math.Abs(float64(a[i] * b[i]))
			}
			if d := math.Abs(float64(got) - want); d > 1e-5*scale+1e-6 {
				t.Errorf("%s: Dot(len %d) = %v; want %v", im.name, n, got, want)
			}
		}
	}
}

func TestAxpyMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, im := range impls() {
		for _, n := range vecLens {
			x, y := randVec(rng, n), randVec(rng, n+3)
			want := make([]float64, len(y))
			for i := range y {
				want[i] = float64(y[i])
				if i < n {
					want[i] += 0.75 * float64(x[i])
				}
			}
			im.axpy(0.75, x, y[:n])
			for i := range y {
				if d := math.Abs(float64(y[i]) - want[i]); d > 1e-6 {
					t.Fatalf("%s: Axpy(len %d): y[%d] = %v; want %v", im.name, n, i, y[i], want[i])
				}
			}
		}
	}
}

func TestElementwise(t *testing.T) {
	a := []float32{1, -2, 3.5}
	b := []float32{2, 4, -1}
	dst := make([]float32, 3)
	Add(dst, a, b)
	if fmt.Sprint(dst) != "[3 2 2.5]" {
		t.Errorf("Add(%v, %v) = %v; want [3 2 2.5]", a, b, dst)
	}
	Mul(dst, a, b)
	if fmt.Sprint(dst) != "[2 -8 -3.5]" {
		t.Errorf("Mul(%v, %v) = %v; want [2 -8 -3.5]", a, b, dst)
	}
	Scale(dst, 2)
	if fmt.Sprint(dst) != "[4 -16 -7]" {
		t.Errorf("Scale(.., 2) = %v; want [4 -16 -7]", dst)
	}
}

func TestRMSNormMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range vecLens[1:] {
		x, w := randVec(rng, n), randVec(rng, n)
		want := rmsNormRef(x, w, 1e-6)
		got := make([]float32, n)
		RMSNorm(got, x, w, 1e-6)
		for i := range got {
			if d := math.Abs(float64(got[i]) - want[i]); d > 1e-5*math.Abs(want[i])+1e-6 {
				t.Fatalf("RMSNorm(len %d)[%d] = %v; want %v", n, i, got[i], want[i])
			}
		}
		RMSNorm(x, x, w, 1e-6) // in place
		for i := range got {
			if x[i] != got[i] {
				t.Fatalf("RMSNorm in place (len %d)[%d] = %v; want %v", n, i, x[i], got[i])
			}
		}
	}
}

func TestSoftmaxMatchesReferenceAndIsStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	inputs := [][]float32{
		{0},
		{1000, 1001, 999},             // naive exp overflows
		{-1000, -1001, -999},          // naive exp underflows to 0/0
		{float32(math.Inf(-1)), 0, 1}, // masked position
	}
	for _, n := range vecLens[1:] {
		x := randVec(rng, n)
		Scale(x, 20)
		inputs = append(inputs, x)
	}
	for _, im := range impls() {
		for _, x := range inputs {
			want := softmaxRef(x)
			got := append([]float32(nil), x...)
			softmax(im, got)
			for i := range got {
				if d := math.Abs(float64(got[i]) - want[i]); d > 1e-6+2e-6*want[i] {
					t.Fatalf("%s: Softmax(%d values)[%d] = %v; want %v", im.name, len(x), i, got[i], want[i])
				}
			}
		}
	}
}

func TestSiLUAndSwiGLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, n := range vecLens {
		gate, up := randVec(rng, n), randVec(rng, n)
		Scale(gate, 12)
		if n > 2 {
			gate[0], gate[1] = 200, -200 // e^-gate overflows, and underflows
		}
		silu, swi := make([]float32, n), make([]float32, n)
		SiLU(silu, gate)
		for _, im := range impls() {
			im.swiglu(swi, gate, up)
			for i := range gate {
				want := siluRef(gate[i]) * float64(up[i])
				if d := math.Abs(float64(swi[i]) - want); d > 2e-6*math.Abs(want)+1e-7 {
					t.Fatalf("%s: SwiGLU(%v, %v) = %v; want %v", im.name, gate[i], up[i], swi[i], want)
				}
			}
		}
		for i := range gate {
			want := siluRef(gate[i])
			if d := math.Abs(float64(silu[i]) - want); d > 1e-6*math.Abs(want)+1e-7 {
				t.Fatalf("SiLU(%v) = %v; want %v", gate[i], silu[i], want)
			}
		}
	}
}

func TestExp32(t *testing.T) {
	for x := float32(-87); x < 88.7; x += 0.01237 {
		got, want := float64(exp32(x)), math.Exp(float64(x))
		if d := math.Abs(got-want) / want; d > 3e-7 {
			t.Fatalf("exp32(%v) = %v; want %v (rel err %.3g)", x, got, want, d)
		}
	}
	for _, tc := range []struct{ x, want float32 }{
		{0, 1}, {-100, 0}, {100, float32(math.Inf(1))}, {float32(math.Inf(-1)), 0},
	} {
		if got := exp32(tc.x); got != tc.want {
			t.Errorf("exp32(%v) = %v; want %v", tc.x, got, tc.want)
		}
	}
	if got := exp32(float32(math.NaN())); got == got {
		t.Errorf("exp32(NaN) = %v; want NaN", got)
	}
}

func TestArgMax(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		x    []float32
		want int
	}{
		{nil, -1},
		{[]float32{3}, 0},
		{[]float32{1, 5, 2, 5}, 1},
		{[]float32{-3, -1, -2}, 1},
		{[]float32{nan, 1, 2}, 2},
		{[]float32{float32(math.Inf(-1)), float32(math.Inf(-1))}, 0},
	} {
		if got := ArgMax(tc.x); got != tc.want {
			t.Errorf("ArgMax(%v) = %d; want %d", tc.x, got, tc.want)
		}
	}
}

// The vector ArgMax is the scalar scan's answer on long slices too, with
// ties, infinities and NaNs anywhere (a NaN may hide a vector lane's
// values from the max instruction).
func TestArgMaxMatchesTheScan(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for trial := range 2000 {
		n := 1 + r.IntN(300)
		if trial%10 == 0 {
			n = 6144
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.IntN(50)) // ties are common
		}
		for range r.IntN(4) {
			x[r.IntN(n)] = []float32{nan, inf, -inf, 1e30}[r.IntN(4)]
		}
		if got, want := ArgMax(x), argMaxNaN(x); got != want {
			t.Fatalf("trial %d (n %d): ArgMax = %d, the scan %d", trial, n, got, want)
		}
	}
}

func TestExpSubMatchesMathExp(t *testing.T) {
	var x []float32
	for v := float32(-87); v < 88.7; v += 0.0371 {
		x = append(x, v)
	}
	x = append(x, -100, -1000, float32(math.Inf(-1)))
	for _, im := range impls() {
		small := []float32{-3, -2, -1, 0, 0.5, 1, -1000}
		for range 5 {
			small = append(small, small...) // 224 values: the SIMD loop and a tail
		}
		var want float64
		for _, v := range small {
			want += math.Exp(float64(v - 1))
		}
		if got := im.expSub(append([]float32(nil), small...), 1); math.Abs(float64(got)-want) > 1e-6*want {
			t.Errorf("%s: expSub sum = %v; want %v", im.name, got, want)
		}
		got := append([]float32(nil), x...)
		sum := im.expSub(got, 1)
		var wantSum float64
		for i, v := range x {
			want := math.Exp(float64(v - 1)) // the subtraction rounds in float32 too
			wantSum += want
			if d := math.Abs(float64(got[i]) - want); d > 3e-7*want+1e-37 {
				t.Fatalf("%s: expSub(%v, 1) = %v; want %v", im.name, v, got[i], want)
			}
		}
		if wantSum > math.MaxFloat32 {
			if !math.IsInf(float64(sum), 1) {
				t.Errorf("%s: expSub sum = %v; want +Inf (float32 overflow)", im.name, sum)
			}
		} else if d := math.Abs(float64(sum) - wantSum); d > 1e-5*wantSum {
			t.Errorf("%s: expSub sum = %v; want %v", im.name, sum, wantSum)
		}
	}
}

func TestMaxAndScaleMatchPlainLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for _, im := range impls() {
		for _, n := range vecLens[1:] {
			for _, at := range []int{0, n / 2, n - 1} { // the maximum first, inside, in the tail
				x := randVec(rng, n)
				Scale(x, -1)
				x[at] = 3
				if got := im.max(x); got != 3 {
					t.Fatalf("%s: max(len %d, 3 at %d) = %v; want 3", im.name, n, at, got)
				}
			}
			x := randVec(rng, n)
			want := make([]float32, n)
			for i, v := range x {
				want[i] = v * 1.5
			}
			im.scale(x, 1.5)
			for i := range x {
				if x[i] != want[i] {
					t.Fatalf("%s: scale(len %d, 1.5)[%d] = %v; want %v", im.name, n, i, x[i], want[i])
				}
			}
		}
	}
}

// The forward pass calls SwiGLU(g, g, u) and Add(x, x, y): results in place
// must equal results into fresh memory.
func TestHelpersInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, im := range impls() {
		for _, n := range vecLens {
			gate, up := randVec(rng, n), randVec(rng, n)
			want := make([]float32, n)
			im.swiglu(want, gate, up)
			im.swiglu(gate, gate, up)
			for i := range want {
				if gate[i] != want[i] {
					t.Fatalf("%s: SwiGLU in place (len %d)[%d] = %v; want %v", im.name, n, i, gate[i], want[i])
				}
			}
		}
	}
	a, b := []float32{1, 2, 3}, []float32{10, 20, 30}
	Add(a, a, b)
	Mul(b, a, b)
	if fmt.Sprint(a, b) != "[11 22 33] [110 440 990]" {
		t.Errorf("Add/Mul in place = %v %v; want [11 22 33] [110 440 990]", a, b)
	}
}

func TestF16To32MatchesReferenceForAllHalves(t *testing.T) {
	for h := range 1 << 16 {
		got, want := f16to32(uint16(h)), tensor.F16ToF32(uint16(h))
		if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Fatalf("f16to32(%#04x) = %v; want %v", h, got, want)
		}
	}
}

func TestDotRowsAndAxpyRowsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, im := range impls() {
		for _, rows := range []int{1, 3, 4, 5, 32, 64} {
			for _, cols := range []int{1, 15, 16, 17, 63, 64, 65, 100, 1000} {
				for _, stride := range []int{cols, cols + 7, 1030} {
					if stride < cols {
						continue
					}
					a := randVec(rng, (rows-1)*stride+cols) // the last row ends at its cols
					x := randVec(rng, cols)
					for r := range rows {
						got := make([]float32, rows)
						DotRows(got, a, stride, x)
						want := dotRef(a[r*stride:r*stride+cols], x)
						if d := math.Abs(float64(got[r]) - want); d > 1e-5*float64(cols)+1e-6 {
							t.Fatalf("DotRows(%d×%d, stride %d)[%d] = %v; want %v", rows, cols, stride, r, got[r], want)
						}
					}
					xr := randVec(rng, rows)
					y := randVec(rng, cols)
					want := make([]float64, cols)
					for c := range cols {
						want[c] = float64(y[c])
						for r := range rows {
							want[c] += float64(xr[r]) * float64(a[r*stride+c])
						}
					}
					im.axpyRows(y, a, stride, xr)
					for c := range cols {
						if d := math.Abs(float64(y[c]) - want[c]); d > 1e-5*float64(rows)+1e-6 {
							t.Fatalf("%s: AxpyRows(%d×%d, stride %d)[%d] = %v; want %v", im.name, rows, cols, stride, c, y[c], want[c])
						}
					}
				}
			}
		}
	}
}

// DotRowsN's tiles read rows a stride apart and inputs cols apart, with
// every ragged edge: rows and inputs not multiples of 4, cols not of 16;
// each implementation's tile against the float64 reference.
func TestDotRowsNMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, im := range impls() {
		for _, rows := range []int{1, 4, 5, 64} {
			for _, cols := range []int{1, 16, 17, 63, 100} {
				for _, stride := range []int{cols, cols + 7, 300} {
					for _, n := range []int{1, 2, 3, 4, 6, 7, 9, 16} {
						if stride < cols {
							continue
						}
						a := randVec(rng, rows*stride)
						x := randVec(rng, n*cols)
						ldy := rows + 3
						y := randVec(rng, (n-1)*ldy+rows)
						im.tileF32(y, ldy, f32Bytes(a), stride*4, rows, x, cols, n)
						for j := range n {
							for r := range rows {
								want := dotRef(a[r*stride:r*stride+cols], x[j*cols:(j+1)*cols])
								if d := math.Abs(float64(y[j*ldy+r]) - want); d > 1e-5*float64(cols)+1e-6 {
									t.Fatalf("%s: tile %d×%d stride %d, input %d of %d: row %d = %v; want %v", im.name, rows, cols, stride, j, n, r, y[j*ldy+r], want)
								}
							}
						}
					}
				}
			}
		}
	}
	// DotRowsN itself, with a last row that ends right after its values.
	for _, rows := range []int{1, 4, 5, 64} {
		const stride, cols, n = 40, 33, 3
		a := randVec(rng, (rows-1)*stride+cols)
		x := randVec(rng, n*cols)
		y := make([]float32, n*rows)
		DotRowsN(y, rows, rows, a, stride, x, cols, n)
		for j := range n {
			for r := range rows {
				want := dotRef(a[r*stride:r*stride+cols], x[j*cols:(j+1)*cols])
				if d := math.Abs(float64(y[j*rows+r]) - want); d > 1e-5*cols+1e-6 {
					t.Fatalf("DotRowsN, %d rows, the last one short: input %d row %d = %v; want %v", rows, j, r, y[j*rows+r], want)
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("DotRowsN with a last row shorter than cols: no panic")
		}
	}()
	DotRowsN(make([]float32, 8), 4, 4, make([]float32, 3*20+9), 20, make([]float32, 2*10), 10, 2)
}
