package server

import (
	"sync"
	"time"

	"github.com/anima-rt/anima/protocol"
)

// session is one client's state across connections: its NPCs, its sequence
// numbers and replay buffer, and the connection it is attached to, if any.
// It is the NPC host's Outbox for its NPCs.
type session struct {
	id    string // uuid
	token string // resume token; immutable
	srv   *Server

	mu     sync.Mutex // guards every field below
	conn   *conn      // attached connection; nil while in grace
	npcs   map[string]struct{}
	replay *replayBuffer[protocol.Envelope]
	expiry Timer  // the grace timer while detached
	gen    uint64 // bumped on every attach, so a stale grace timer does nothing
	ended  bool   // grace expired or server shut down; NPCs despawned
}

// Send implements Outbox: it stamps m with the session's next seq (if m is
// sequenced), keeps it for replay and queues it to the attached connection.
// Messages for NPCs the session no longer has are dropped.
func (sess *session) Send(npc, requestID string, m protocol.Message) {
	env := protocol.NewEnvelope(requestID, npc, m)
	sess.mu.Lock()
	if sess.ended {
		sess.mu.Unlock()
		return
	}
	if _, ok := sess.npcs[npc]; !ok && npc != "" {
		sess.mu.Unlock()
		return
	}
	c := sess.stamp(&env)
	// Queue while holding mu, so connections see messages in seq order.
	if c != nil {
		c.send(env)
	}
	sess.mu.Unlock()
}

// stamp gives env its seq and keeps it for replay if its type is sequenced,
// and returns the attached connection; sess.mu must be held.
func (sess *session) stamp(env *protocol.Envelope) *conn {
	if protocol.Sequenced(env.Type) {
		env.Seq = sess.replay.nextSeq()
		sess.replay.add(*env)
	}
	return sess.conn
}

// has reports whether npc is spawned in the session.
func (sess *session) has(npc string) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	_, ok := sess.npcs[npc]
	return ok
}

// attach makes c the session's connection and queues, atomically with
// respect to Send, the welcome and the replay of what came after lastSeq. It
// returns the connection it replaced (to be closed) and false if the session
// has ended.
func (sess *session) attach(c *conn, welcome *protocol.Welcome, reqID string, resumed bool, lastSeq uint64) (old *conn, ok bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.ended {
		return nil, false
	}
	old = sess.conn
	if sess.expiry != nil {
		sess.expiry.Stop()
		sess.expiry = nil
	}
	sess.gen++
	sess.conn = c
	var replay []protocol.Envelope
	if resumed {
		var missed uint64
		replay, missed = sess.replay.since(lastSeq)
		welcome.Resumed = true
		welcome.Replayed = uint64(len(replay))
		welcome.Missed = missed
	}
	if resumed { // counted before the writer can send, so a client never sees it early
		sess.srv.m.replayed.Add(float64(len(replay)))
	}
	out := append([]protocol.Envelope{protocol.NewEnvelope(reqID, "", welcome)}, replay...)
	c.sendAll(out)
	return old, true
}

// detach forgets c if it is still the session's connection and starts the
// grace timer.
func (sess *session) detach(c *conn, grace time.Duration) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.conn != c || sess.ended {
		return
	}
	sess.conn = nil
	gen := sess.gen
	sess.expiry = sess.srv.clock.AfterFunc(grace, func() { sess.expire(gen) })
}

// expire ends the session if it is still detached since the detach of
// generation gen.
func (sess *session) expire(gen uint64) {
	sess.mu.Lock()
	stale := sess.gen != gen || sess.conn != nil || sess.ended
	sess.mu.Unlock()
	if !stale {
		sess.srv.endSession(sess, "expired")
	}
}

// end marks the session ended and returns its NPCs for despawning; ok is
// false if it had already ended.
func (sess *session) end() (npcs []string, ok bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.ended {
		return nil, false
	}
	sess.ended = true
	if sess.expiry != nil {
		sess.expiry.Stop()
		sess.expiry = nil
	}
	for id := range sess.npcs {
		npcs = append(npcs, id)
	}
	clear(sess.npcs)
	sess.conn = nil
	return npcs, true
}

// reserve adds npc to the session if it is new and under quota; the caller
// then spawns it in the host, and calls unreserve if that fails.
func (sess *session) reserve(npc string, quota int) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.ended {
		return protocol.Errorf(protocol.CodeInternal, "session has ended")
	}
	if _, ok := sess.npcs[npc]; ok {
		return protocol.Errorf(protocol.CodeNPCExists, "npc %q is already spawned", npc)
	}
	if len(sess.npcs) >= quota {
		return protocol.Errorf(protocol.CodeQuota, "session already has %d NPCs, its quota", quota)
	}
	sess.npcs[npc] = struct{}{}
	return nil
}

// remove deletes npc from the session and reports whether it was there.
func (sess *session) remove(npc string) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	_, ok := sess.npcs[npc]
	delete(sess.npcs, npc)
	return ok
}
