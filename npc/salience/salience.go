package salience

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/perception"
)

// Reason is why an NPC would think. The order is priority, highest first.
type Reason uint8

// Reasons.
const (
	None      Reason = iota // not worth a thought
	Addressed               // spoken to: always thinks
	Attacked                // violence, to it or near it
	Stole                   // theft, from it or near it
	Gift                    // given something
	Chat                    // spoken to by another NPC: budgeted like ambient thinking
	Newcomer                // an entity of interest appeared
	Idle                    // the periodic re-plan
	numReasons
)

var reasonNames = [...]string{"none", "addressed", "attacked", "stole", "gift", "chat", "newcomer", "idle"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// urgent reports whether r is a high-priority ambient reason: these take
// the shorter cooldown and may spend the budget's reserve.
func (r Reason) urgent() bool { return r == Attacked || r == Stole }

// Why an ambient think was refused.
const (
	WhyNotSalient = "not salient"
	WhyNotDue     = "not due"
	WhyCooldown   = "cooldown"
	WhyBudget     = "budget"
	WhyOverload   = "overload"
)

// Verdict is the gate's answer.
type Verdict struct {
	Think  bool
	Reason Reason
	Why    string // when not thinking: one of the Why constants
}

func (v Verdict) String() string {
	if v.Think {
		return "think " + v.Reason.String()
	}
	if v.Reason == None {
		return "ignore (" + v.Why + ")"
	}
	return "wait " + v.Reason.String() + " (" + v.Why + ")"
}

// Config tunes the gate. Zero fields take the defaults named on each.
type Config struct {
	// Rate is the global budget of ambient thinks per second, refilled as a
	// token bucket holding at most Burst (defaults 4 and 8).
	Rate, Burst float64
	// Reserve is the number of tokens that low-priority reasons (gift,
	// newcomer, idle) leave in the bucket for urgent ones (default Burst/4).
	Reserve float64
	// Cooldown is the least time between an NPC's thinks for a
	// low-priority reason; UrgentCooldown for attacks and theft (defaults
	// 5s and 1s). Addressed thinking has none.
	Cooldown, UrgentCooldown time.Duration
	// IdleEvery is the mean time between idle re-plans of one NPC;
	// IdleJitter spreads them by ± that fraction (defaults 30s and 0.5).
	IdleEvery  time.Duration
	IdleJitter float64
	// OverloadBackoff is how long ambient thinking pauses after the engine
	// reports overload (default 2s).
	OverloadBackoff time.Duration
	// InterestKinds are the entity kinds whose appearance is worth a
	// thought (default player and creature).
	InterestKinds []string
}

func (c Config) withDefaults() Config {
	if c.Rate <= 0 {
		c.Rate = 4
	}
	if c.Burst <= 0 {
		c.Burst = 8
	}
	c.Burst = max(c.Burst, 1)
	if c.Reserve <= 0 {
		c.Reserve = c.Burst / 4
	}
	if c.Cooldown <= 0 {
		c.Cooldown = 5 * time.Second
	}
	if c.UrgentCooldown <= 0 {
		c.UrgentCooldown = time.Second
	}
	if c.IdleEvery <= 0 {
		c.IdleEvery = 30 * time.Second
	}
	if c.IdleJitter <= 0 || c.IdleJitter > 1 {
		c.IdleJitter = 0.5
	}
	if c.OverloadBackoff <= 0 {
		c.OverloadBackoff = 2 * time.Second
	}
	if c.InterestKinds == nil {
		c.InterestKinds = []string{npc.KindPlayer, npc.KindCreature}
	}
	return c
}

// Counters are the gate's decisions so far, for metrics.
type Counters struct {
	Thinks   [numReasons]int // by reason
	Cooldown int             // ambient thinks refused for a per-NPC cooldown
	Budget   int             // … for the global budget
	Overload int             // … because the engine was overloaded
	// TreeOnly counts NPCs left to their trees alone by overload: refusals
	// for overload plus thinks the engine then refused (Fallback).
	TreeOnly int
}

// Gate decides when NPCs think. One Gate serves all NPCs of a server (the
// budget is global); it is safe for concurrent use.
type Gate struct {
	cfg Config
	now func() time.Time

	mu        sync.Mutex // guards everything below
	rng       *rand.Rand
	tokens    float64
	refilled  time.Time
	npcs      map[string]*npcState
	overUntil time.Time // ambient thinking pauses until then
	c         Counters
}

type npcState struct {
	lastThink time.Time // zero: never
	nextIdle  time.Time // zero: not scheduled yet
}

// New returns a gate with a full bucket. now and rng are injected so that
// tests are deterministic; rng jitters idle re-plans.
func New(cfg Config, now func() time.Time, rng *rand.Rand) *Gate {
	cfg = cfg.withDefaults()
	return &Gate{cfg: cfg, now: now, rng: rng, tokens: cfg.Burst, refilled: now(), npcs: map[string]*npcState{}}
}

// Classify says why an event would make an NPC think.
func (g *Gate) Classify(ev perception.Event) Reason {
	switch ev.Kind {
	case perception.Speech:
		switch {
		case !ev.Addressed:
		case ev.ActorKind == npc.KindNPC || ev.ActorKind == npc.KindCreature:
			// NPCs chatting must not jump the queue ahead of players.
			return Chat
		default:
			// A player, or a speaker the NPC cannot see (assume a player:
			// refusing a player is the worse mistake).
			return Addressed
		}
	case perception.Attacked:
		return Attacked
	case perception.Stole:
		return Stole
	case perception.Gift:
		if ev.ToSelf() {
			return Gift
		}
	case perception.Appeared:
		if slices.Contains(g.cfg.InterestKinds, ev.ActorKind) {
			return Newcomer
		}
	}
	return None
}

// Event decides whether the NPC id thinks about ev now. Speech addressed to
// it by a player always thinks, with no cooldown and whatever the budget or overload (a
// player's conversation outranks everything; the engine serves it first);
// it still spends a token when one is there, so that players talking slows
// ambient thinking rather than the other way round. Other reasons must be
// past the NPC's cooldown, the engine not overloaded, and the budget must
// have a token (low-priority reasons must leave Config.Reserve).
func (g *Gate) Event(id string, ev perception.Event) Verdict {
	r := g.Classify(ev)
	if r == None {
		return Verdict{Why: WhyNotSalient}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.decide(id, r)
}

// Idle decides whether the NPC id re-plans now for no particular reason.
// Each NPC's first call schedules it at a random phase of IdleEvery (so
// NPCs spawned together do not think together); later re-plans come every
// IdleEvery ± IdleJitter, and any think pushes the next one back.
func (g *Gate) Idle(id string) Verdict {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	st := g.state(id)
	if st.nextIdle.IsZero() {
		st.nextIdle = now.Add(time.Duration(g.rng.Float64() * float64(g.cfg.IdleEvery)))
	}
	if now.Before(st.nextIdle) {
		return Verdict{Reason: Idle, Why: WhyNotDue}
	}
	v := g.decide(id, Idle)
	if !v.Think && v.Why != WhyOverload {
		// Try again a little later rather than at every tick.
		st.nextIdle = now.Add(g.cfg.IdleEvery / 4)
	}
	return v
}

// decide applies cooldown, overload and budget; g.mu is held.
func (g *Gate) decide(id string, r Reason) Verdict {
	now := g.now()
	g.refill(now)
	st := g.state(id)
	if r != Addressed {
		cool := g.cfg.Cooldown
		if r.urgent() {
			cool = g.cfg.UrgentCooldown
		}
		switch need := 1.0; {
		case !st.lastThink.IsZero() && now.Sub(st.lastThink) < cool:
			g.c.Cooldown++
			return Verdict{Reason: r, Why: WhyCooldown}
		case now.Before(g.overUntil):
			g.c.Overload++
			g.c.TreeOnly++
			return Verdict{Reason: r, Why: WhyOverload}
		case !r.urgent() && g.tokens < need+g.cfg.Reserve, g.tokens < need:
			g.c.Budget++
			return Verdict{Reason: r, Why: WhyBudget}
		}
	}
	g.tokens = max(g.tokens-1, 0)
	st.lastThink = now
	st.nextIdle = now.Add(g.idleInterval())
	g.c.Thinks[r]++
	return Verdict{Think: true, Reason: r}
}

func (g *Gate) idleInterval() time.Duration {
	j := (2*g.rng.Float64() - 1) * g.cfg.IdleJitter
	return time.Duration(float64(g.cfg.IdleEvery) * (1 + j))
}

func (g *Gate) refill(now time.Time) {
	if dt := now.Sub(g.refilled); dt > 0 {
		g.tokens = min(g.cfg.Burst, g.tokens+dt.Seconds()*g.cfg.Rate)
		g.refilled = now
	}
}

func (g *Gate) state(id string) *npcState {
	st := g.npcs[id]
	if st == nil {
		st = &npcState{}
		g.npcs[id] = st
	}
	return st
}

// Overloaded tells the gate the engine is overloaded: ambient thinking
// pauses for OverloadBackoff, and NPCs go on with their trees alone.
func (g *Gate) Overloaded() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.overUntil = g.now().Add(g.cfg.OverloadBackoff)
}

// Fallback records that a think the gate allowed was refused by the engine
// (overloaded), so the NPC went on with its tree alone.
func (g *Gate) Fallback(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.c.TreeOnly++
}

// Forget drops an NPC's state (on despawn), so the gate's memory stays
// bounded by the NPCs alive.
func (g *Gate) Forget(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.npcs, id)
}

// Counters returns the decisions so far.
func (g *Gate) Counters() Counters {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.c
}
