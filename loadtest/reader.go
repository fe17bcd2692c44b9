package loadtest

import (
	"slices"
	"time"

	"github.com/anima-rt/anima/protocol"
)

// read takes the server's messages until the client stops: it matches
// replies to player lines and pongs to acks, records latencies, and hands
// acts and cancels to the world.
func (c *simConn) read() {
	for env := range c.cl.Events() {
		c.handle(env, time.Now())
	}
	if err := c.cl.Err(); err != nil {
		c.rec.error("client_stopped:"+errorKind(err), err.Error())
	}
}

// handle accounts one server message received at now.
func (c *simConn) handle(env protocol.Envelope, now time.Time) {
	c.rec.count(func(k *counters) { k.framesIn++ })
	switch b := env.Body.(type) {
	case *protocol.Say:
		c.mu.Lock()
		p := c.pending[env.ID]
		var first, final time.Duration = -1, -1
		if p != nil && !p.replied {
			if !p.firstSay {
				p.firstSay = true
				first = now.Sub(p.sent)
			}
			if b.Final {
				final = now.Sub(p.sent)
				p.replied = true
				if p.decided {
					delete(c.pending, env.ID)
				}
			}
		}
		c.mu.Unlock()
		if first >= 0 {
			c.rec.latency(LatFirstSay, first)
		}
		if final >= 0 {
			c.rec.latency(LatFinalSay, final)
			c.rec.count(func(k *counters) { k.repliesDone++ })
		}
		if !b.Final {
			c.rec.count(func(k *counters) { k.deltas++ })
		}
	case *protocol.Decision:
		c.mu.Lock()
		var d time.Duration = -1
		if p := c.pending[env.ID]; p != nil && !p.decided {
			p.decided = true
			d = now.Sub(p.sent)
			if p.replied || b.Say == "" {
				// The answer is whole: its final say came first (NPC
				// minds) or will not come, as the NPC chose to say
				// nothing. The stand-in decides before it speaks.
				delete(c.pending, env.ID)
			}
		}
		c.mu.Unlock()
		if d >= 0 {
			c.rec.latency(LatDecision, d)
			if st := b.Stats; st != nil && !st.Fallback && st.TTFTMS > 0 {
				c.rec.latency(LatModelTTFT, time.Duration(st.TTFTMS*float64(time.Millisecond)))
			}
		}
		c.rec.decision(b.Stats)
	case *protocol.Act:
		c.rec.count(func(k *counters) { k.acts++ })
		lat, rtt := c.startAct(env.NPC, env.ID, b, now)
		if lat >= 0 {
			c.rec.latency(LatAct, lat)
		}
		if rtt >= 0 {
			c.rec.latency(LatActRTT, rtt)
		}
	case *protocol.Cancel:
		c.rec.count(func(k *counters) { k.cancels++ })
		c.mu.Lock()
		if n := c.byID[env.NPC]; n != nil {
			c.handleCancelLocked(n, b.ActionID)
		}
		c.mu.Unlock()
	case *protocol.Pong:
		c.mu.Lock()
		var d time.Duration = -1
		if a, ok := c.acks[env.ID]; ok {
			d = now.Sub(a.sent)
			c.forgetAck(env.ID)
		}
		c.mu.Unlock()
		if d >= 0 {
			c.rec.latency(LatActRTT, d)
		}
	case *protocol.Error:
		c.mu.Lock()
		crossed := b.Code == protocol.CodeUnknownAction && c.crossed[env.ID]
		delete(c.crossed, env.ID)
		delete(c.pending, env.ID) // a refused line gets no reply
		c.mu.Unlock()
		if crossed {
			c.rec.count(func(k *counters) { k.crossed++ })
		} else {
			c.rec.error(string(b.Code), b.Message)
		}
	case *protocol.Welcome:
		// A reconnection. Unless the session was resumed, the NPCs are
		// gone and must be spawned again.
		if !b.Resumed {
			c.rec.error("session_lost", b.ResumeError)
			c.mu.Lock()
			c.respawn = true
			c.mu.Unlock()
		}
		if b.Missed > 0 {
			c.rec.drop("replay_missed", b.Missed)
		}
	}
}

// handleCancelLocked stops n's action id if it runs it; no status is owed
// for a cancelled action, so a superseded one's failure is not sent. A
// final status already sent for it crossed the cancel: its unknown_action
// answer is expected. mu must be held.
func (c *simConn) handleCancelLocked(n *simNPC, id string) {
	if n.act != nil && n.act.id == id {
		n.act = nil
	}
	n.superseded = slices.DeleteFunc(n.superseded, func(s string) bool { return s == id })
	for _, f := range n.finals {
		if f.act == id {
			c.crossed[f.req] = true
		}
	}
}

// startAct hands an act to its NPC, replacing (and failing) the one it was
// running. It returns the act's latency from the player line that caused
// it, and the ack latency of the NPC's last status if this act comes before
// that status's pong; -1 where there is none.
func (c *simConn) startAct(npc, reqID string, a *protocol.Act, now time.Time) (lat, rtt time.Duration) {
	lat, rtt = -1, -1
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.pending[reqID]; p != nil && !p.act {
		p.act = true
		lat = now.Sub(p.sent)
	}
	n := c.byID[npc]
	if n == nil {
		return lat, rtt
	}
	if n.ackPing != "" {
		if w, ok := c.acks[n.ackPing]; ok {
			rtt = now.Sub(w.sent)
		}
		c.forgetAck(n.ackPing)
	}
	if old := n.act; old != nil && old.running {
		// The game abandons the old action for the new one, and says so.
		// Sent by the world goroutine with the next statuses.
		n.superseded = append(n.superseded, old.id)
	}
	lo, hi := actDuration(a.Name)
	act := &simAction{
		id: a.ActionID, name: a.Name, received: now,
		duration: lo + time.Duration(c.rng.Int64N(int64(hi-lo)+1)),
		fail:     c.rng.Float64() < failureShare,
	}
	if t, ok := a.Args["target"].(string); ok {
		act.target = t
	}
	x, okx := a.Args["x"].(float64)
	y, oky := a.Args["y"].(float64)
	if okx && oky {
		n.dest = protocol.Vec{X: clamp(x, 0, c.side), Y: clamp(y, 0, c.side)}
	}
	n.act = act
	return lat, rtt
}

// actDuration is how long the game takes to execute an action, by name:
// walking takes seconds, a gesture or a line takes about one.
func actDuration(name string) (lo, hi time.Duration) {
	switch name {
	case "move_to", "go_to", "walk_to", "follow", "flee", "patrol", "wander", "fetch":
		return time.Second, 5 * time.Second
	case "say", "emote", "greet", "wave", "nod", "idle", "talk", "look_at", "bow":
		return 500 * time.Millisecond, 2 * time.Second
	}
	return time.Second, 3 * time.Second // trade, give, attack, craft, …
}
