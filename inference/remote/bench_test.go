package remote_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/remote"
)

// BenchmarkDecision is what one NPC decision costs the remote engine's
// client: the request's JSON, HTTP over loopback, ~50 SSE chunks parsed,
// and every byte of the decision checked by the grammar with "say"
// streamed. The server replays a recorded answer, so cpu-µs/decision (the
// process's user + system time, server included) bounds the client's cost
// from above.
func BenchmarkDecision(b *testing.B) {
	decision := `{"emotion":"wary","action":{"name":"follow","target":"p1"},"say":"Stay close. The bridge is not safe."}`
	var stream bytes.Buffer
	for i := 0; i < len(decision); i += 3 { // about one chunk per token
		fmt.Fprintf(&stream, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":null}]}\n\n", decision[i:min(i+3, len(decision))])
	}
	stream.WriteString("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
	stream.WriteString("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":50,\"total_tokens\":1050,\"prompt_tokens_details\":{\"cached_tokens\":850}}}\n\ndata: [DONE]\n\n")
	body := stream.Bytes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(body)
	}))
	defer srv.Close()
	c, err := remote.New(remote.Config{URL: srv.URL + "/v1", Model: "m"})
	if err != nil {
		b.Fatal(err)
	}
	g, err := c.Grammar([]byte(decisionSchema))
	if err != nil {
		b.Fatal(err)
	}
	req := engine.Request{Segments: npcSegments("Is the bridge safe?"), Grammar: g, StreamField: "say", MaxTokens: 96}
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Generate(context.Background(), req, func(engine.Event) {})
		if err != nil || res.Text != decision {
			b.Fatalf("Generate = %q, %v", res.Text, err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e3, "cpu-µs/decision")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
