package loadtest

import (
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
