package node_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/anima-rt/anima/corpus"
	"github.com/anima-rt/anima/inference/engine"
	"github.com/anima-rt/anima/inference/openai"
	"github.com/anima-rt/anima/inference/openai/openaitest"
	"github.com/anima-rt/anima/inference/remote"
	"github.com/anima-rt/anima/node"
	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/catalog"
	"github.com/anima-rt/anima/npc/mind"
)

// Two nodes on loopback: one serves the embedded model's engine as the
// OpenAI-compatible API (anima serve -openai), the other's minds think on
// it through RemoteDecoder (anima serve -remote). A decision comes back
// valid for the situation, its say streamed; the next turn finds its
// prefix cached on the server; with the server gone, thinking fails fast
// as overloaded, which the minds meet by running their trees alone.
func TestRemoteDecoderThinksOnAnotherNode(t *testing.T) {
	local := testDecoder(t)
	h, err := openai.New(openai.Config{Engine: local.Engine(), Vocab: local.Vocab(), Context: local.Context(), Model: "anima-npc", Grammars: local.Grammars()})
	if err != nil {
		t.Fatal(err)
	}
	srv := openaitest.Serve(t, h)
	d, err := node.RemoteDecoder(remote.Config{URL: srv.URL, Model: "anima-npc", Mode: remote.Completion,
		Retries: -1, BreakerFailures: 1, BreakerCooldown: time.Minute}, local.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Info().Backend != "remote" {
		t.Errorf("backend %q; want remote", d.Info().Backend)
	}

	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	gen, err := corpus.New(cat, 3, corpus.Heldout, nil)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := gen.Example(0)
	if err != nil {
		t.Fatal(err)
	}
	avail := npc.Targets{}
	for id, k := range ex.Available {
		avail[id] = catalog.TargetKind(k)
	}
	schema, err := npc.DecisionSchema(cat, avail, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := mind.Request{Schema: schema, StreamField: "say", MaxTokens: 48, Priority: mind.PriorityPlayer}
	for _, s := range ex.Segments {
		req.Segments = append(req.Segments, npc.Segment{Name: s.Name, Text: s.Text})
	}
	ctx := context.Background()
	var said string
	res, err := d.Generate(ctx, req, func(delta string) { said += delta })
	if err != nil {
		t.Fatal(err)
	}
	dec, err := npc.ParseDecision([]byte(res.Text))
	if err != nil {
		t.Fatalf("remote output %q: %v", res.Text, err)
	}
	if err := dec.Validate(cat, avail); err != nil {
		t.Errorf("remote decision %q: %v", res.Text, err)
	}
	if said != dec.Say {
		t.Errorf("streamed say %q; the decision says %q", said, dec.Say)
	}
	res, err = d.Generate(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.ReusedTokens == 0 {
		t.Errorf("second identical prompt reused no tokens on the server (stats %+v)", res.Stats)
	}

	srv.Kill()
	start := time.Now()
	_, err = d.Generate(ctx, req, nil)
	if !errors.Is(err, mind.ErrOverloaded) && err == nil {
		t.Fatalf("with the server gone: err %v; want a failure", err)
	}
	_, err = d.Generate(ctx, req, nil)
	if !errors.Is(err, mind.ErrOverloaded) || !errors.Is(err, engine.ErrOverloaded) {
		t.Errorf("with the circuit open: err %v; want overloaded, so that NPCs fall back on their trees", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("failing took %v; want fast", el)
	}
}
