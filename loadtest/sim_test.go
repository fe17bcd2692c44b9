package loadtest

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/anima-rt/anima/protocol"
)

// TestStepSendsValidMessages steps a world for simulated minutes, with
// acts arriving, some superseded, some cancelled, and steps late as on a
// starved machine, and checks that everything it would send passes the
// protocol's validation (the client refuses anything else).
func TestStepSendsValidMessages(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Conns, cfg.NPCs, cfg.EventEvery, cfg.ReplyTimeout = 1, 12, 100*time.Millisecond, time.Hour
	c := newSimConn(0, &cfg, newRecorder())
	c.spawnedN = len(c.npcs)
	now := time.Now()
	c.nextSay, c.nextEvt = now, now
	for _, n := range c.npcs {
		n.nextPerceive = now
	}
	names := []string{"follow", "trade", "idle", "go_to", "attack", "say"}
	var out []outMsg
	kinds := map[string]int{}
	for i := range 3000 {
		step := stepInterval
		if i%50 == 0 {
			step = 3 * time.Second // a starved step
		}
		now = now.Add(step)
		out = c.step(now, step.Seconds(), out[:0])
		for _, o := range out {
			env := protocol.NewEnvelope(o.id, o.npc, o.m)
			if err := env.Validate(); err != nil {
				t.Fatalf("step %d: %s %+v: %v", i, env.Type, o.m, err)
			}
			kinds[env.Type]++
		}
		if i%7 == 0 { // the server sends an act
			n := c.npcs[i%len(c.npcs)]
			act := &protocol.Act{ActionID: "a" + strconv.Itoa(i), Name: names[i%len(names)]}
			if act.Name == "follow" || act.Name == "trade" {
				act.Args = protocol.Args{"target": c.players[0].id}
			}
			if act.Name == "go_to" {
				act.Args = protocol.Args{"x": 1e12, "y": -5.0} // out of the map: clamped
			}
			c.startAct(n.id, "", act, now)
		}
		if i%31 == 0 { // and withdraws one
			n := c.npcs[(i/31)%len(c.npcs)]
			c.mu.Lock()
			if n.act != nil {
				c.handleCancelLocked(n, n.act.id)
			}
			c.mu.Unlock()
		}
	}
	for _, typ := range []string{"perceive", "player_say", "action_status", "ping"} {
		if kinds[typ] == 0 {
			t.Errorf("no %s sent in 3000 steps; sent %v", typ, kinds)
		}
	}
}

// A final status that crosses its action's cancel on the wire draws
// unknown_action from the server, which is counted apart, not as an error;
// a superseded action cancelled before its failure went out gets no status
// at all. Any other unknown_action is still an error.
func TestStatusCrossingCancel(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Conns, cfg.NPCs, cfg.ReplyTimeout = 1, 1, time.Hour
	rec := newRecorder()
	c := newSimConn(0, &cfg, rec)
	c.spawnedN = 1
	n := c.npcs[0]
	now := time.Now()
	c.nextSay, c.nextEvt, n.nextPerceive = now.Add(time.Hour), now.Add(time.Hour), now.Add(time.Hour)
	statuses := func(out []outMsg) map[string]string { // action id → request id
		m := map[string]string{}
		for _, o := range out {
			if st, ok := o.m.(*protocol.ActionStatus); ok && st.Status != protocol.StatusRunning {
				m[st.ActionID] = o.id
			}
		}
		return m
	}
	act := func(id string) {
		c.handle(protocol.NewEnvelope("", n.id, &protocol.Act{ActionID: id, Name: "idle"}), now)
	}
	errorFor := func(req string) {
		c.handle(protocol.NewEnvelope(req, n.id, protocol.Errorf(protocol.CodeUnknownAction, "npc runs no action")), now)
	}

	act("a1")
	c.step(now, 0.05, nil) // running
	now = now.Add(time.Minute)
	sent := statuses(c.step(now, 0.05, nil)) // done: success
	if sent["a1"] == "" {
		t.Fatalf("no final status for a1 after its duration; sent %v", sent)
	}
	c.handle(protocol.NewEnvelope("", n.id, &protocol.Cancel{ActionID: "a1"}), now)
	errorFor(sent["a1"])

	act("a2")
	c.step(now, 0.05, nil)                                                          // a2 running
	act("a3")                                                                       // supersedes a2 …
	c.handle(protocol.NewEnvelope("", n.id, &protocol.Cancel{ActionID: "a2"}), now) // … which the server withdraws
	if got := statuses(c.step(now, 0.05, nil)); got["a2"] != "" {
		t.Errorf("a failure status for a2 after its cancel; want none (sent %v)", got)
	}
	errorFor("s-unrelated")

	if got := rec.all.crossed; got != 1 {
		t.Errorf("statuses crossing a cancel = %d; want 1", got)
	}
	if got := rec.errs[string(protocol.CodeUnknownAction)]; got != 1 {
		t.Errorf("unknown_action errors = %d; want 1 (the unrelated one)", got)
	}
}

// A line's answer ends with its final say, or with its decision when the
// NPC chose to say nothing; a newer line to the same NPC supersedes an
// older one still unanswered (PROTOCOL.md §4.6). Neither is left waiting
// to time out as no_reply.
func TestLineAnswerEnds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Conns, cfg.NPCs = 1, 1
	rec := newRecorder()
	c := newSimConn(0, &cfg, rec)
	c.spawnedN = 1
	now := time.Now()
	line := func() string {
		c.mu.Lock()
		defer c.mu.Unlock()
		o, ok := c.playerLine(now)
		if !ok {
			t.Fatal("no line sent")
		}
		return o.id
	}
	first := line()
	second := line()
	if p := c.pending[first]; p == nil || !p.superseded || rec.all.superseded != 1 || outstanding([]*simConn{c}) != 1 {
		t.Errorf("after a second line: first %+v, superseded %d, outstanding %d; want it superseded, its cut reply still counted if it comes",
			p, rec.all.superseded, outstanding([]*simConn{c}))
	}
	c.handle(protocol.NewEnvelope(first, c.npcs[0].id, &protocol.Say{UtteranceID: "u1", Final: true, Text: "Well—"}), now)
	c.handle(protocol.NewEnvelope(second, c.npcs[0].id, &protocol.Decision{Emotion: "calm", Action: "idle"}), now)
	if n := outstanding([]*simConn{c}); n != 0 || rec.all.repliesDone != 1 {
		t.Errorf("%d lines outstanding, %d replies after the cut reply and a decision that says nothing; want none, one reply",
			n, rec.all.repliesDone)
	}
	third := line()
	c.handle(protocol.NewEnvelope(third, c.npcs[0].id, &protocol.Decision{Emotion: "calm", Action: "idle", Say: "Hm."}), now)
	if _, ok := c.pending[third]; !ok {
		t.Error("a decision that says something ended the line; want it to wait for the final say")
	}
	// NPC minds send the final say first, then the decision: both count.
	fourth := line()
	c.handle(protocol.NewEnvelope(fourth, c.npcs[0].id, &protocol.Say{UtteranceID: "u4", Final: true, Text: "Aye."}), now)
	c.handle(protocol.NewEnvelope(fourth, c.npcs[0].id, &protocol.Decision{Emotion: "calm", Action: "idle", Say: "Aye."}), now)
	if _, ok := c.pending[fourth]; ok || rec.interval[LatDecision].Count() == 0 {
		t.Errorf("final say then decision: pending %v, decision latencies %d; want the line done and its decision timed",
			ok, rec.interval[LatDecision].Count())
	}
	if rec.all.superseded != 2 {
		t.Errorf("superseded = %d; want 2 (the first, and the third by the fourth)", rec.all.superseded)
	}
	line() // the fourth was answered: nothing to supersede
	c.mu.Lock()
	c.expire(now.Add(time.Hour))
	c.mu.Unlock()
	if got := rec.errs["no_reply"]; got != 1 {
		t.Errorf("no_reply errors = %d after the lines timed out; want 1, the last (the superseded third owed nothing)", got)
	}
}

// TestTowardNeverMakesNaN: a world step whose clock did not advance (dt 0,
// or a tick stamped before the previous one) must leave an NPC standing
// on its destination where it is, not at 0/0.
func TestTowardNeverMakesNaN(t *testing.T) {
	for _, step := range []float64{0, -0.5, 1} {
		p := protocol.Vec{X: 3, Y: 4}
		arrived := toward(&p, protocol.Vec{X: 3, Y: 4}, step)
		if math.IsNaN(p.X) || math.IsNaN(p.Y) || p != (protocol.Vec{X: 3, Y: 4}) || !arrived {
			t.Errorf("toward(at the destination, step %v) = %+v, arrived %v; want it to stay put, arrived", step, p, arrived)
		}
		q := protocol.Vec{X: 0, Y: 0}
		toward(&q, protocol.Vec{X: 10, Y: 0}, step)
		if want := max(step, 0); q.X != want || q.Y != 0 {
			t.Errorf("toward((0,0) → (10,0), step %v) = %+v; want (%v,0)", step, q, want)
		}
	}
}

// TestPlayersTalkInConversations: a player's next line goes to the NPC of
// its last with probability 1 - 1/Conversation, so that conversations
// last Conversation lines on average; with 1, every line picks anew.
func TestPlayersTalkInConversations(t *testing.T) {
	for _, mean := range []float64{1, 4} {
		cfg := DefaultConfig()
		cfg.Conns, cfg.NPCs, cfg.Conversation = 1, 20, mean
		c := newSimConn(0, &cfg, newRecorder())
		c.spawnedN = len(c.npcs)
		last := map[string]string{} // player → NPC of its last line
		same, lines := 0, 0
		for range 20000 {
			o, ok := c.playerLine(time.Now())
			if !ok {
				t.Fatal("no line")
			}
			ps := o.m.(*protocol.PlayerSay)
			if prev, ok := last[ps.Speaker]; ok {
				lines++
				if prev == o.npc {
					same++
				}
			}
			last[ps.Speaker] = o.npc
		}
		// A new pick lands on the same NPC 1 time in 20 by chance.
		want := (1 - 1/mean) + (1/mean)/20
		if got := float64(same) / float64(lines); math.Abs(got-want) > 0.02 {
			t.Errorf("conversation %v: %.3f of a player's lines went to the NPC of its last; want %.3f", mean, got, want)
		}
	}
}
