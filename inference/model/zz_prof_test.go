package model

import "testing"

func BenchmarkZZEmbeddedPrefill(b *testing.B) {
	m := openModel(b, "../../assets/model/anima-npc-q8_0.gguf", 1)
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
