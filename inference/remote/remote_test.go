package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/grammar"
	"github.com/anima-rt/anima/inference/openai"
	"github.com/anima-rt/anima/inference/openai/openaitest"
	"github.com/anima-rt/anima/inference/remote"
)

// Both engines have the method one NPC adapter calls.
var (
	_ generator = (*engine.Engine)(nil)
	_ generator = (*remote.Client)(nil)
)

type generator interface {
	Generate(ctx context.Context, req engine.Request, fn func(engine.Event)) (engine.Result, error)
}

const decisionSchema = `{"type":"object","properties":{
	"emotion":{"enum":["calm","wary","angry"]},
	"action":{"type":"object","properties":{
		"name":{"enum":["idle","follow","flee"]},
		"target":{"type":"string","maxLength":8}},
		"required":["name","target"],"additionalProperties":false},
	"say":{"type":"string","maxLength":40}},
	"required":["emotion","action","say"],"additionalProperties":false}`

const lore = "Harrow is a river town. The smith works at the forge by the mill. " +
	"Wolves come down from the forest at night, and the guards light fires along the wall. "

// npcSegments is a prompt laid out as npc.RenderPrompt lays it out: ChatML
// with the stable parts first, each segment program-written.
func npcSegments(heard string) []engine.Segment {
	return []engine.Segment{
		{Text: "<|im_start|>system\n[World] " + lore + "\n", Special: true},
		{Text: "[You] Mira, the baker's daughter, wary of strangers.\n<|im_end|>\n", Special: true},
		{Text: "<|im_start|>user\n[Heard] p1 Aren: \"" + heard + "\"<|im_end|>\n<|im_start|>assistant\n", Special: true},
	}
}

// node is one Anima process serving the OpenAI API on loopback.
type node struct {
	m   *openaitest.Model
	eng *engine.Engine
	srv *openaitest.Server
}

func newNode(t *testing.T) *node {
	t.Helper()
	m := openaitest.NewModel(t)
	e := m.Engine(t, engine.Options{MaxSeqs: 4})
	h, err := openai.New(m.Config(e))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return &node{m: m, eng: e, srv: openaitest.Serve(t, h)}
}

func client(t *testing.T, cfg remote.Config) *remote.Client {
	t.Helper()
	c, err := remote.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type decision struct {
	Emotion string
	Action  struct{ Name, Target string }
	Say     *string
}

func TestRemoteMatchesNative(t *testing.T) {
	n := newNode(t)
	for _, mode := range []remote.Mode{remote.Chat, remote.Completion} {
		c := client(t, remote.Config{URL: n.srv.URL, Model: "anima-test", Mode: mode})

		// Free text, greedy: the same tokens as the engine in-process.
		req := engine.Request{Segments: npcSegments("Is the bridge safe?"), MaxTokens: 20}
		native, err := n.eng.Generate(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		var deltas strings.Builder
		got, err := c.Generate(context.Background(), req, func(ev engine.Event) { deltas.WriteString(ev.Text) })
		if err != nil {
			t.Fatalf("mode %d: Generate: %v", mode, err)
		}
		// JSON carries only valid UTF-8: a random model's stray bytes
		// arrive as U+FFFD, as encoding/json writes them.
		if got.Text != jsonText(native.Text) || deltas.String() != got.Text {
			t.Errorf("mode %d: remote text %q (deltas %q); native %q", mode, got.Text, deltas.String(), native.Text)
		}
		if got.Stats.Finish != native.Stats.Finish || got.Stats.PromptTokens != native.Stats.PromptTokens || got.Stats.GeneratedTokens != native.Stats.GeneratedTokens {
			t.Errorf("mode %d: remote stats %+v; native %+v", mode, got.Stats, native.Stats)
		}
		if got.Stats.TTFT <= 0 {
			t.Errorf("mode %d: TTFT %v; want it measured", mode, got.Stats.TTFT)
		}

		// Constrained by the decision schema, with "say" streamed.
		g, err := c.Grammar([]byte(decisionSchema))
		if err != nil {
			t.Fatal(err)
		}
		ng, err := openaitestGrammar(n)
		if err != nil {
			t.Fatal(err)
		}
		creq := engine.Request{Segments: npcSegments("Where is the smith?"), MaxTokens: 80, StreamField: "say", Grammar: ng}
		var nativeSay strings.Builder
		native, err = n.eng.Generate(context.Background(), creq, func(ev engine.Event) { nativeSay.WriteString(ev.Field) })
		if err != nil {
			t.Fatal(err)
		}
		creq.Grammar = g
		var say strings.Builder
		got, err = c.Generate(context.Background(), creq, func(ev engine.Event) { say.WriteString(ev.Field) })
		if err != nil {
			t.Fatalf("mode %d: constrained Generate: %v", mode, err)
		}
		var d decision
		if err := json.Unmarshal([]byte(got.Text), &d); err != nil || d.Say == nil || d.Action.Name == "" {
			t.Errorf("mode %d: output %q does not parse as the schema: %v", mode, got.Text, err)
		} else if say.String() != *d.Say {
			t.Errorf("mode %d: streamed say %q; the JSON's say is %q", mode, say.String(), *d.Say)
		}
		if got.Text != jsonText(native.Text) || say.String() != jsonText(nativeSay.String()) {
			t.Errorf("mode %d: remote %q (say %q); native %q (say %q)", mode, got.Text, say.String(), native.Text, nativeSay.String())
		}
	}
}

// openaitestGrammar compiles the schema for the node's own engine.
func openaitestGrammar(n *node) (*grammar.Grammar, error) {
	return grammar.Compile([]byte(decisionSchema), n.m.Vocab)
}

// jsonText is s as it survives a JSON string: each byte of invalid UTF-8
// becomes U+FFFD.
func jsonText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func TestRemoteReportsCachedPrefix(t *testing.T) {
	n := newNode(t)
	c := client(t, remote.Config{URL: n.srv.URL, Model: "anima-test"})
	g, err := c.Grammar([]byte(decisionSchema))
	if err != nil {
		t.Fatal(err)
	}
	var stats []engine.Stats
	for _, heard := range []string{"Is the bridge safe?", "Where is the smith?"} {
		res, err := c.Generate(context.Background(), engine.Request{Segments: npcSegments(heard), Grammar: g, StreamField: "say", MaxTokens: 60}, nil)
		if err != nil {
			t.Fatal(err)
		}
		stats = append(stats, res.Stats)
	}
	if stats[0].PromptTokens == 0 || stats[0].GeneratedTokens == 0 {
		t.Errorf("first call stats %+v; want prompt and generated tokens from usage", stats[0])
	}
	// Everything before the stimulus is shared: lore, persona, the user
	// turn's opening.
	if r := stats[1].ReusedTokens; r < 30 || r >= stats[1].PromptTokens {
		t.Errorf("second call reused %d of %d prompt tokens; want the shared lore and persona", r, stats[1].PromptTokens)
	}
}

// TestRemoteSurvivesKillAndRestart kills the serving node in the middle of
// a load from two clients, one with a local fallback engine and one
// without, then restarts it: nothing may hang, the client without fallback
// fails fast with clear errors once its circuit opens, the one with fails
// over, and both circuits close again once the node is back.
func TestRemoteSurvivesKillAndRestart(t *testing.T) {
	n := newNode(t)
	local := n.m.Engine(t, engine.Options{MaxSeqs: 2}) // this node's own engine
	base := remote.Config{URL: n.srv.URL, Model: "anima-test", HeaderTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second,
		Retries: 1, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, BreakerFailures: 3, BreakerCooldown: 200 * time.Millisecond}
	bare := client(t, base)
	withFB := base
	withFB.Fallback, withFB.FallbackVocab = local, n.m.Vocab
	failover := client(t, withFB)

	type outcome struct {
		took time.Duration
		err  error
	}
	var mu sync.Mutex
	results := map[*remote.Client][]outcome{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range 4 {
		c := bare
		if i%2 == 1 {
			c = failover
		}
		g, err := c.Grammar([]byte(decisionSchema))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		// Each load goroutine exits when stop is set.
		go func() {
			defer wg.Done()
			for k := 0; !stop.Load(); k++ {
				t0 := time.Now()
				res, err := c.Generate(context.Background(), engine.Request{Segments: npcSegments(string(rune('a' + k%26))),
					Grammar: g, StreamField: "say", MaxTokens: 40, Sampling: engine.Sampling{Seed: uint64(k)}}, nil)
				if err == nil {
					var d decision
					if jerr := json.Unmarshal([]byte(res.Text), &d); jerr != nil {
						err = errors.Join(errors.New("unparsable output "+res.Text), jerr)
					}
				}
				mu.Lock()
				results[c] = append(results[c], outcome{time.Since(t0), err})
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	count := func(c *remote.Client) int {
		mu.Lock()
		defer mu.Unlock()
		return len(results[c])
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("waited 10s for %s; bare %+v, failover %+v", what, bare.Stats(), failover.Stats())
			}
		}
	}
	waitFor("load", func() bool { return count(bare) >= 4 && count(failover) >= 4 })

	n.srv.Kill()
	killedAt := map[*remote.Client]int{bare: count(bare), failover: count(failover)}
	waitFor("both circuits to open", func() bool { return bare.Stats().Opens > 0 && failover.Stats().Opens > 0 })
	waitFor("requests during the outage", func() bool { return count(bare) >= killedAt[bare]+6 && count(failover) >= killedAt[failover]+6 })
	fastFail := time.Now()
	_, err := bare.Generate(context.Background(), engine.Request{Segments: npcSegments("hello?")}, nil)
	if took := time.Since(fastFail); err == nil || took > time.Second {
		t.Errorf("with the node dead, Generate = %v after %v; want a quick error", err, took)
	}

	if err := n.srv.Start(); err != nil {
		t.Fatal(err)
	}
	restartedAt := map[*remote.Client]int{bare: count(bare), failover: count(failover)}
	served := func(c *remote.Client) int { // successes since the restart
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, o := range results[c][restartedAt[c]:] {
			if o.err == nil {
				n++
			}
		}
		return n
	}
	waitFor("both circuits to close", func() bool {
		return bare.Stats().Circuit == remote.Closed && failover.Stats().Circuit == remote.Closed && served(bare) >= 3 && served(failover) >= 3
	})
	fallbacks := failover.Stats().Fallbacks
	stop.Store(true)
	wg.Wait()

	for c, name := range map[*remote.Client]string{bare: "without fallback", failover: "with fallback"} {
		var failed, fast int
		for i, o := range results[c] {
			if o.took > 5*time.Second {
				t.Errorf("%s: request %d took %v; nothing may hang", name, i, o.took)
			}
			if o.err == nil {
				continue
			}
			failed++
			if !errors.Is(o.err, remote.ErrUnavailable) && !errors.Is(o.err, remote.ErrCircuitOpen) {
				t.Errorf("%s: request %d failed with %v; want ErrUnavailable or ErrCircuitOpen", name, i, o.err)
			}
			if errors.Is(o.err, remote.ErrCircuitOpen) {
				fast++
			}
		}
		t.Logf("%s: %d requests, %d failed (%d fast, circuit open); %+v", name, len(results[c]), failed, fast, c.Stats())
		if c == bare && fast == 0 {
			t.Errorf("%s: no request failed fast on the open circuit", name)
		}
	}
	if fallbacks == 0 {
		t.Errorf("the client with a fallback never used it during the outage: %+v", failover.Stats())
	}
	// Once the node is back, requests go to it, not to the fallback.
	before := failover.Stats().Fallbacks
	g, _ := failover.Grammar([]byte(decisionSchema))
	if _, err := failover.Generate(context.Background(), engine.Request{Segments: npcSegments("back?"), Grammar: g, MaxTokens: 30}, nil); err != nil || failover.Stats().Fallbacks != before {
		t.Errorf("after the restart: err %v, fallbacks %d → %d; want the node to answer", err, before, failover.Stats().Fallbacks)
	}
}
