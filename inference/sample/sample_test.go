package sample

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func TestGreedy(t *testing.T) {
	tests := []struct {
		name   string
		p      Params
		logits []float32
		recent []int32
		want   int32
	}{
		{"argmax", Params{}, []float32{0.1, 2, -1, 1.9}, nil, 1},
		{"first of equals", Params{}, []float32{3, 1, 3}, nil, 0},
		{"negative logits", Params{}, []float32{-5, -2, -3}, nil, 1},
		{"penalty divides a positive logit", Params{RepeatPenalty: 2}, []float32{1, 1.5, 0.9}, []int32{1}, 0},
		{"penalty multiplies a negative logit", Params{RepeatPenalty: 2}, []float32{-1, -0.6, -0.9}, []int32{1}, 2},
		{"penalty counts a token once", Params{RepeatPenalty: 2}, []float32{1, 3.5, 0.9}, []int32{1, 1, 1}, 1},
		{"window forgets old tokens", Params{RepeatPenalty: 2, RepeatWindow: 1}, []float32{1, 1.5, 0.9}, []int32{1, 2}, 1},
		{"penalty ignores ids outside the vocabulary", Params{RepeatPenalty: 2}, []float32{1, 2}, []int32{-1, 7}, 1},
	}
	for _, tt := range tests {
		s, err := New(tt.p, nil)
		if err != nil {
			t.Fatalf("%s: New: %v", tt.name, err)
		}
		got, err := s.Sample(tt.logits, tt.recent)
		if err != nil || got != tt.want {
			t.Errorf("%s: Sample(%v, %v) = %d, %v; want %d", tt.name, tt.logits, tt.recent, got, err, tt.want)
		}
	}
}

// TestFiltersLimitTheDraw checks that, over many draws, only the tokens a
// filter keeps are ever drawn.
func TestFiltersLimitTheDraw(t *testing.T) {
	// probabilities at T=1 ≈ 0.46, 0.25, 0.17, 0.06, 0.03, 0.02, 0.01
	logits := []float32{3, 2.4, 2, 1, 0.3, 0, -0.6}
	tests := []struct {
		name string
		p    Params
		want []int32 // exactly the tokens that may be drawn
	}{
		{"temperature alone keeps all", Params{Temperature: 1}, []int32{0, 1, 2, 3, 4, 5, 6}},
		{"top-k 2", Params{Temperature: 1, TopK: 2}, []int32{0, 1}},
		{"top-k 1 is greedy", Params{Temperature: 1, TopK: 1}, []int32{0}},
		{"top-p 0.5 needs two tokens", Params{Temperature: 1, TopP: 0.5}, []int32{0, 1}},
		{"top-p 0.8 needs three", Params{Temperature: 1, TopP: 0.8}, []int32{0, 1, 2}},
		{"min-p 0.3 keeps p >= 0.14", Params{Temperature: 1, MinP: 0.3}, []int32{0, 1, 2}},
		{"min-p 0.1 keeps p >= 0.046", Params{Temperature: 1, MinP: 0.1}, []int32{0, 1, 2, 3}},
		{"low temperature sharpens min-p", Params{Temperature: 0.25, MinP: 0.1}, []int32{0}},
		{"top-k then top-p", Params{Temperature: 1, TopK: 3, TopP: 0.6}, []int32{0, 1}},
	}
	for _, tt := range tests {
		s, err := New(tt.p, newRand(1))
		if err != nil {
			t.Fatalf("%s: New: %v", tt.name, err)
		}
		seen := map[int32]bool{}
		for range 4000 {
			id, err := s.Sample(logits, nil)
			if err != nil {
				t.Fatalf("%s: Sample: %v", tt.name, err)
			}
			seen[id] = true
		}
		var got []int32
		for id := range seen {
			got = append(got, id)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Sample(%v) drew %v; want exactly %v", tt.name, logits, got, tt.want)
		}
	}
}

// TestDrawFollowsSoftmax checks the frequencies of 200k draws at T=1
// against the softmax probabilities (3.5 standard deviations).
func TestDrawFollowsSoftmax(t *testing.T) {
	logits := []float32{1, 0, 2, -1, 0.5}
	for _, p := range []Params{{Temperature: 1}, {Temperature: 0.5}, {Temperature: 2, TopP: 1}, {Temperature: 0.7, TopK: 5}} {
		s, _ := New(p, newRand(7))
		const n = 200_000
		counts := make([]int, len(logits))
		for range n {
			id, _ := s.Sample(logits, nil)
			counts[id]++
		}
		sum := 0.0
		for _, l := range logits {
			sum += math.Exp(float64(l / p.Temperature))
		}
		for i, l := range logits {
			want := math.Exp(float64(l/p.Temperature)) / sum
			sd := math.Sqrt(want * (1 - want) / n)
			if got := float64(counts[i]) / n; math.Abs(got-want) > 3.5*sd {
				t.Errorf("%+v: token %d drawn with frequency %.4f; want %.4f ± %.4f", p, i, got, want, 3.5*sd)
			}
		}
	}
}

func TestSeededDrawsRepeat(t *testing.T) {
	logits := make([]float32, 1000)
	r := newRand(3)
	for i := range logits {
		logits[i] = float32(r.NormFloat64())
	}
	p := Params{Temperature: 0.8, TopK: 50, TopP: 0.95, MinP: 0.01, RepeatPenalty: 1.1, RepeatWindow: 64}
	draw := func(seed uint64) []int32 {
		s, _ := New(p, newRand(seed))
		var out []int32
		for range 200 {
			id, _ := s.Sample(logits, out)
			out = append(out, id)
		}
		return out
	}
	a, b, c := draw(42), draw(42), draw(43)
	if !slices.Equal(a, b) {
		t.Errorf("two samplers seeded 42 drew different tokens:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 42 and 43 drew the same 200 tokens")
	}
}

func TestSelectTop(t *testing.T) {
	r := newRand(5)
	for _, n := range []int{1, 2, 3, 10, 257, 4096} {
		for _, k := range []int{1, 2, n / 2, n - 1, n} {
			if k < 1 || k > n {
				continue
			}
			c := make([]candidate, n)
			for i := range c {
				c[i] = candidate{id: int32(i), logit: float32(r.IntN(20))} // many ties
			}
			want := slices.Clone(c)
			slices.SortFunc(want, func(a, b candidate) int {
				if a.logit != b.logit {
					if a.logit > b.logit {
						return -1
					}
					return 1
				}
				return int(a.id - b.id)
			})
			selectTop(c, k)
			got := c[:k]
			slices.SortFunc(got, func(a, b candidate) int { return int(a.id - b.id) })
			wantIDs := want[:k]
			slices.SortFunc(wantIDs, func(a, b candidate) int { return int(a.id - b.id) })
			if !slices.Equal(got, wantIDs) {
				t.Errorf("selectTop(n=%d, k=%d) kept %v; want %v", n, k, got, wantIDs)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Params{
		{Temperature: -1},
		{Temperature: float32(math.NaN())},
		{Temperature: float32(math.Inf(1))},
		{TopK: -1},
		{TopP: 1.5},
		{MinP: -0.1},
		{RepeatPenalty: -1},
		{RepeatWindow: -2},
	}
	for _, p := range bad {
		if _, err := New(p, newRand(1)); err == nil {
			t.Errorf("New(%+v) = nil error; want a range error", p)
		}
	}
	if _, err := New(Params{Temperature: 1}, nil); err == nil {
		t.Errorf("New(temperature 1, nil rand) = nil error; want an error")
	}
	s, _ := New(Params{}, nil)
	if _, err := s.Sample(nil, nil); err == nil {
		t.Errorf("Sample(nil) = nil error; want ErrNoLogits")
	}
}

func TestSampleDoesNotAllocate(t *testing.T) {
	logits := make([]float32, 4096)
	for i := range logits {
		logits[i] = float32(i % 97)
	}
	recent := []int32{1, 2, 3, 96, 4000}
	s, _ := New(Params{Temperature: 0.7, TopK: 40, TopP: 0.9, MinP: 0.05, RepeatPenalty: 1.2}, newRand(1))
	s.Sample(logits, recent)
	if n := testing.AllocsPerRun(50, func() { s.Sample(logits, recent) }); n != 0 {
		t.Errorf("Sample allocated %v times per call; want 0", n)
	}
}

func BenchmarkSample(b *testing.B) {
	logits := make([]float32, 151936) // Qwen3's vocabulary
	r := newRand(9)
	peaked := make([]float32, len(logits)) // a trained model's: a few tokens carry the mass
	for i := range logits {
		logits[i] = float32(r.NormFloat64())
		peaked[i] = 8 * logits[i]
	}
	for _, bc := range []struct {
		name   string
		p      Params
		logits []float32
	}{
		{"greedy", Params{}, logits},
		{"topk40", Params{Temperature: 0.7, TopK: 40, TopP: 0.9}, logits},
		{"topp", Params{Temperature: 0.7, TopP: 0.9}, logits},
		{"topp-peaked", Params{Temperature: 0.7, TopP: 0.9}, peaked},
		{"minp-peaked", Params{Temperature: 0.7, MinP: 0.05}, peaked},
		// Temperature alone skips keep; a min-p that cuts nothing takes
		// keep's path, sorting every candidate, as temperature alone did.
		{"temperature", Params{Temperature: 0.7}, logits},
		{"temperature-via-keep", Params{Temperature: 0.7, MinP: 1e-30}, logits},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, _ := New(bc.p, newRand(1))
			for b.Loop() {
				s.Sample(bc.logits, nil)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// TestKeepMatchesAFullSort checks the filters against their definition on
// vocabularies large enough that top-p must widen its sorted head: sort
// everything, softmax, cut at top-p, then at min-p.
func TestKeepMatchesAFullSort(t *testing.T) {
	r := newRand(3)
	for trial := range 60 {
		n := 100 + r.IntN(6000)
		logits := make([]float32, n)
		spread := []float64{0.1, 1, 4, 12}[trial%4] // flat to peaked
		for i := range logits {
			logits[i] = float32(r.NormFloat64() * spread)
			if r.IntN(50) == 0 {
				logits[i] = logits[max(0, i-1)] // ties
			}
		}
		p := Params{Temperature: 0.5 + r.Float32(), TopP: []float32{0, 0.5, 0.9, 0.99, 1}[r.IntN(5)], MinP: []float32{0, 0.01, 0.1}[r.IntN(3)]}
		if r.IntN(3) == 0 {
			p.TopK = 1 + r.IntN(n)
		}
		s, err := New(p, newRand(1))
		if err != nil {
			t.Fatal(err)
		}
		c := make([]candidate, n)
		for i, l := range logits {
			c[i] = candidate{id: int32(i), logit: l}
		}
		got := s.keep(c)

		ref := make([]candidate, n)
		for i, l := range logits {
			ref[i] = candidate{id: int32(i), logit: l * (1 / p.Temperature)} // as keep scales
		}
		sortDesc(ref)
		if p.TopK > 0 {
			ref = ref[:p.TopK]
		}
		sum := 0.0
		for _, x := range ref {
			sum += math.Exp(float64(x.logit - ref[0].logit))
		}
		cut := len(ref)
		if p.TopP > 0 && p.TopP < 1 {
			acc := 0.0
			for i, x := range ref {
				acc += math.Exp(float64(x.logit-ref[0].logit)) / sum
				if acc >= float64(p.TopP) {
					cut = i + 1
					break
				}
			}
		}
		if p.MinP > 0 {
			m := 0
			for m < cut && math.Exp(float64(ref[m].logit-ref[0].logit)) >= float64(p.MinP) {
				m++
			}
			cut = m
		}
		// float32 sums may put a boundary token on the other side.
		if d := len(got) - cut; d < -1 || d > 1 {
			t.Fatalf("trial %d %+v: kept %d tokens; want %d", trial, p, len(got), cut)
		}
		for i := range min(len(got), cut) {
			if got[i].id != ref[i].id {
				t.Fatalf("trial %d %+v: kept[%d] = token %d; want %d", trial, p, i, got[i].id, ref[i].id)
			}
		}
	}
}
