package model

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/anima-rt/anima/inference/tensor"
)

// benchModel returns the random bench model of shape and type, written
// once per run under the test temp directory (or taken from
// $ANIMA_BENCH_DIR/bench-SHAPE-TYPE.gguf when that exists, as `anima bench
// -make` writes it, to spare regenerating big files).
func benchModel(b *testing.B, shape string, typ tensor.Type, threads int) *Model {
	b.Helper()
	name := fmt.Sprintf("bench-%s-%s.gguf", shape, map[tensor.Type]string{tensor.F32: "f32", tensor.Q8_0: "q8_0"}[typ])
	if dir := os.Getenv("ANIMA_BENCH_DIR"); dir != "" {
		if p := filepath.Join(dir, name); fileExists(p) {
			return openModel(b, p, threads)
		}
	}
	return openModel(b, writeFixture(b, BenchSpecs[shape], typ, 1), threads)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// cpuTime is the process's user+system CPU time. On a shared machine the
// wall clock of a 1-thread run also counts time spent waiting for a core;
// CPU time per token does not, so benchmarks report both.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecode measures decode steps at an empty cache and after 1,024
// cached tokens, as the speed table of issue 3 does (llama-bench's tg128
// and tg128@d1024).
func BenchmarkDecode(b *testing.B) {
	for _, shape := range []string{"tiny", "small"} {
		for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0} {
			for _, threads := range []int{1, 2} {
				for _, depth := range []int{0, 1024} {
					b.Run(fmt.Sprintf("%s/%s/threads=%d/depth=%d", shape, typ, threads, depth), func(b *testing.B) {
						m := benchModel(b, shape, typ, threads)
						st, _ := m.NewState(depth+4096, 512)
						prompt := make([]int32, depth)
						for i := range prompt {
							prompt[i] = int32(i * 7919 % m.Config.Vocab)
						}
						tok := []int32{1}
						cpu := time.Duration(0)
						b.ResetTimer()
						for i := 0; b.Loop(); i++ {
							if i%128 == 0 { // a fresh 128-token run from depth
								b.StopTimer()
								st.Reset()
								if depth > 0 {
									m.Forward(st, prompt)
								}
								b.StartTimer()
							}
							c0 := cpuTime()
							m.Forward(st, tok)
							cpu += cpuTime() - c0
						}
						b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
						b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/tok")
					})
				}
			}
		}
	}
}

// BenchmarkPrefill measures a 512-token prompt (llama-bench's pp512).
func BenchmarkPrefill(b *testing.B) {
	for _, shape := range []string{"tiny", "small"} {
		for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0} {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/threads=%d", shape, typ, threads), func(b *testing.B) {
					m := benchModel(b, shape, typ, threads)
					st, _ := m.NewState(512, 512)
					prompt := make([]int32, 512)
					for i := range prompt {
						prompt[i] = int32(i * 7919 % m.Config.Vocab)
					}
					c0 := cpuTime()
					for b.Loop() {
						st.Reset()
						m.Forward(st, prompt)
					}
					b.ReportMetric(float64(b.N*len(prompt))/b.Elapsed().Seconds(), "tok/s")
					b.ReportMetric(float64((cpuTime()-c0).Microseconds())/float64(b.N*len(prompt)), "cpu-µs/tok")
				})
			}
		}
	}
}

// BenchmarkPrefillEmbedded prefills a 1,000-token prompt, an NPC prompt's
// size, on the embedded model (chunks of 512), where attention over the
// growing cache is a larger share than in BenchmarkPrefill's 512 tokens.
func BenchmarkPrefillEmbedded(b *testing.B) {
	m := openModel(b, filepath.Join("..", "..", "assets", "model", "anima-npc-q8_0.gguf"), 2)
	st, _ := m.NewState(1024, 512)
	prompt := make([]int32, 1000)
	for i := range prompt {
		prompt[i] = int32(i * 7919 % m.Config.Vocab)
	}
	for b.Loop() {
		st.Reset()
		m.Forward(st, prompt)
	}
	b.ReportMetric(float64(b.N*len(prompt))/b.Elapsed().Seconds(), "tok/s")
}
