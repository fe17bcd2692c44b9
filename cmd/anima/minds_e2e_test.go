package main

import (
	"context"
	"testing"
	"time"

	"github.com/anima-rt/anima/protocol"
)

// The loop end to end: a player speaks to an NPC; its reply streams as say
// deltas, its decision names an action it may take and an entity it sees,
// and its behaviour tree then carries the action out (act), which the
// game's action_status resolves.
func TestMindsEndToEnd(t *testing.T) {
	ms := startMindServer(t, t.TempDir(), nil)
	c := ms.dial(t)
	if w := c.Welcome(); w.Model.Backend != "native" {
		t.Errorf("welcome model %+v; want the native backend", w.Model)
	}
	spawnSmith(t, c, "smith")
	r := say(t, c, "smith", "s1", "Good morning! Can you fix my sword?")
	checkDecision(t, r, []string{"greet", "warn"}, []string{"p1", "n2"})
	t.Logf("decision %s (%d of %d prompt tokens reused, first delta after %v)", r.decision.Raw,
		r.decision.Stats.ReusedTokens, r.decision.Stats.PromptTokens, r.first)

	act := awaitAct(t, c, "smith", r.decision.Target)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ActionStatus(ctx, "smith", &protocol.ActionStatus{ActionID: act.ActionID, Status: protocol.StatusSuccess}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx); err != nil { // the status was taken without an error reply
		t.Fatal(err)
	}
}
