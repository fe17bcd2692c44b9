package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/remote"
)

// The servers below answer as vLLM or llama.cpp might where Anima's own
// server never would: JSON with whitespace, JSON cut off by max_tokens,
// refusals, silence. Each is a real HTTP server with a scripted answer.

// sse writes chat chunks carrying deltas, then finish and usage.
func sse(w http.ResponseWriter, finish string, deltas ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, d := range deltas {
		fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":null}]}\n\n", d)
	}
	fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":%q}]}\n\n", finish)
	fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":%d,\"total_tokens\":0,\"prompt_tokens_details\":{\"cached_tokens\":32}}}\n\n", len(deltas))
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func scripted(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func decisionRequest(t *testing.T, c *remote.Client, maxTokens int) engine.Request {
	t.Helper()
	g, err := c.Grammar([]byte(decisionSchema))
	if err != nil {
		t.Fatal(err)
	}
	return engine.Request{Segments: npcSegments("hi"), Grammar: g, StreamField: "say", MaxTokens: maxTokens}
}

func TestWhitespaceIsCompactedAndTruncationClosed(t *testing.T) {
	url := scripted(t, func(w http.ResponseWriter, r *http.Request) {
		sse(w, "length", `{"emotion": "wary",`, "\n  \"action\": {\"name\": \"follow\", \"target\": \"p1\"},", ` "say": "Stay close, the `, `bri`)
	})
	c := client(t, remote.Config{URL: url, Model: "m"})
	var say strings.Builder
	res, err := c.Generate(context.Background(), decisionRequest(t, c, 30), func(ev engine.Event) { say.WriteString(ev.Field) })
	if err != nil {
		t.Fatal(err)
	}
	want := `{"emotion":"wary","action":{"name":"follow","target":"p1"},"say":"Stay close, the bri"}`
	if res.Text != want || say.String() != "Stay close, the bri" {
		t.Errorf("Text %q, say %q; want %q (compact, closed) and its say", res.Text, say.String(), want)
	}
	st := res.Stats
	if st.Finish != engine.FinishLength || st.PromptTokens != 50 || st.ReusedTokens != 32 || st.GeneratedTokens != 4 {
		t.Errorf("Stats %+v; want length, 50 prompt tokens, 32 reused, 4 generated (from usage)", st)
	}
}

func TestServerWithoutSchemaSupportIsValidatedAndRetried(t *testing.T) {
	var calls atomic.Int32
	url := scripted(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := calls.Add(1)
		switch {
		case strings.Contains(string(body), "response_format"):
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"message":"response_format json_schema is not supported","type":"invalid_request_error","param":"response_format"}}`)
		case n == 2: // the model ignores the schema
			sse(w, "stop", `{"mood": "happy"}`)
		default:
			sse(w, "stop", `Sure! {"emotion":"calm","action":{"name":"idle","target":""},"say":"Hello."}`)
		}
	})
	c := client(t, remote.Config{URL: url, Model: "m", Backoff: time.Millisecond})
	var evs []engine.Event
	res, err := c.Generate(context.Background(), decisionRequest(t, c, 60), func(ev engine.Event) { evs = append(evs, ev) })
	// "Sure! " before the JSON is not JSON: the third answer fails too,
	// and the schema retries (2) are spent.
	if !errors.Is(err, remote.ErrInvalidOutput) || calls.Load() != 3 {
		t.Errorf("Generate = %q, %v after %d calls; want ErrInvalidOutput after 3", res.Text, err, calls.Load())
	}
	if len(evs) != 0 {
		t.Errorf("events %v reached the caller from output that does not follow the schema", evs)
	}

	// A well-behaved answer after the switch: no response_format is sent,
	// and the output is checked before it streams.
	var calls2 atomic.Int32
	url2 := scripted(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "response_format") {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"message":"response_format is not supported"}}`)
			return
		}
		if calls2.Add(1) == 1 {
			sse(w, "stop", `{"mood":`, ` "happy"}`)
			return
		}
		sse(w, "stop", `{"emotion":"calm",`, `"action":{"name":"idle","target":""},"say":"Hel`, `lo."}`)
	})
	c = client(t, remote.Config{URL: url2, Model: "m", Backoff: time.Millisecond})
	var say strings.Builder
	res, err = c.Generate(context.Background(), decisionRequest(t, c, 60), func(ev engine.Event) { say.WriteString(ev.Field) })
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	var d decision
	if json.Unmarshal([]byte(res.Text), &d) != nil || say.String() != "Hello." {
		t.Errorf("Text %q, say %q; want the valid decision and its say", res.Text, say.String())
	}
	if st := c.Stats(); st.Retries != 2 {
		t.Errorf("Stats %+v; want 2 retries: the refusal, then the invalid output", st)
	}
}

func TestOverloadIsRetriedAfterRetryAfter(t *testing.T) {
	var calls atomic.Int32
	url := scripted(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"message":"queue full","type":"overloaded_error","code":"overloaded"}}`)
			return
		}
		sse(w, "stop", "fine")
	})
	c := client(t, remote.Config{URL: url, Model: "m", Backoff: time.Millisecond, MaxBackoff: 30 * time.Millisecond})
	t0 := time.Now()
	res, err := c.Generate(context.Background(), engine.Request{Segments: npcSegments("hi")}, nil)
	if err != nil || res.Text != "fine" {
		t.Fatalf("Generate = %q, %v; want the second answer", res.Text, err)
	}
	if took := time.Since(t0); took < 30*time.Millisecond || took > time.Second {
		t.Errorf("retried after %v; want Retry-After, capped at MaxBackoff (30ms)", took)
	}
	if st := c.Stats(); st.Retries != 1 || st.Failures != 0 || st.Circuit != remote.Closed {
		t.Errorf("Stats %+v; want one retry, no failure: an overloaded server is alive", st)
	}

	// Always overloaded: the caller gets engine.ErrOverloaded.
	url = scripted(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"message":"slow down"}}`)
	})
	c = client(t, remote.Config{URL: url, Model: "m", Backoff: time.Millisecond})
	if _, err := c.Generate(context.Background(), engine.Request{Segments: npcSegments("hi")}, nil); !errors.Is(err, engine.ErrOverloaded) {
		t.Errorf("Generate = %v; want engine.ErrOverloaded", err)
	}
}

func TestRefusalsAreNotRetried(t *testing.T) {
	var calls atomic.Int32
	url := scripted(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"the prompt has 5000 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}`)
	})
	c := client(t, remote.Config{URL: url, Model: "m", Backoff: time.Millisecond})
	_, err := c.Generate(context.Background(), engine.Request{Segments: npcSegments("hi")}, nil)
	if !errors.Is(err, remote.ErrTooLong) || calls.Load() != 1 || !strings.Contains(err.Error(), "5000 tokens") {
		t.Errorf("Generate = %v after %d calls; want ErrTooLong with the server's message, at once", err, calls.Load())
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	url := scripted(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // then silence
	})
	c := client(t, remote.Config{URL: url, Model: "m", IdleTimeout: 100 * time.Millisecond, Retries: -1})
	t0 := time.Now()
	var got string
	_, err := c.Generate(context.Background(), engine.Request{Segments: npcSegments("hi")}, func(ev engine.Event) { got += ev.Text })
	if !errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), "no stream event within 100ms") || time.Since(t0) > 2*time.Second {
		t.Errorf("Generate = %v after %v; want ErrUnavailable naming the idle timeout", err, time.Since(t0))
	}
	if got != "Hel" {
		t.Errorf("streamed %q before the silence; want %q", got, "Hel")
	}

	// A cancelled caller is not a failure: FinishCancelled, nil error.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res, err := c.Generate(ctx, engine.Request{Segments: npcSegments("hi")}, nil)
	if err != nil || res.Stats.Finish != engine.FinishCancelled {
		t.Errorf("cancelled Generate = %+v, %v; want FinishCancelled and no error", res.Stats, err)
	}
	res, err = c.Generate(context.Background(), engine.Request{Segments: npcSegments("hi"), Deadline: time.Now().Add(50 * time.Millisecond)}, nil)
	if err != nil || res.Stats.Finish != engine.FinishDeadline {
		t.Errorf("Generate past its Deadline = %+v, %v; want FinishDeadline and no error", res.Stats, err)
	}
}

func TestPriorityIsSentOnlyWhenAsked(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	url := scripted(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		sse(w, "stop", "ok")
	})
	for _, send := range []bool{false, true} {
		c := client(t, remote.Config{URL: url, Model: "m", SendPriority: send})
		if _, err := c.Generate(context.Background(), engine.Request{Segments: npcSegments("hi"), Priority: 2}, nil); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(bodies[0], `"priority"`) || !strings.Contains(bodies[1], `"priority":-2`) {
		t.Errorf("bodies %q; want no priority, then vLLM's priority -2", bodies)
	}
}
