package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/protocol/client"
)

// World geometry, in world units. The map grows with the NPC count so the
// density, and so the size of each perceive, stays about the same.
const (
	sightRadius  = 20.0 // NPCs see entities this close
	maxSeen      = 8    // and at most this many of them, nearest first
	walkSpeed    = 1.4  // units per second
	stepInterval = 50 * time.Millisecond
	failureShare = 0.05 // acts that end in failure
)

// simConn is one simulated game server: one client connection holding a
// small world of NPCs and players. Its world goroutine (run) moves
// everything, sends perceives, player lines and action statuses; its reader
// goroutine (read) takes the server's messages. Both send through the
// client, whose Send is safe for concurrent use.
type simConn struct {
	idx  int
	cfg  *Config
	rec  *Recorder
	cl   *client.Client
	rng  *rand.Rand // used only with mu held
	near []seen     // perceive's scratch; mu held

	mu       sync.Mutex // guards everything below
	side     float64    // the map is side × side units
	npcs     []*simNPC
	byID     map[string]*simNPC
	players  []*simPlayer
	pending  map[string]*pendingLine // player lines by request id
	acks     map[string]ackWait      // pings by id
	nextID   uint64                  // for request and ping ids
	nextSay  time.Time
	nextEvt  time.Time
	respawn  bool // the session was lost; spawn the NPCs again
	spawnedN int  // NPCs the server confirmed
	// crossed holds the request ids of final statuses that crossed a
	// cancel of their action on the wire: the server, having cancelled
	// it, answers them unknown_action, which is not an error (PROTOCOL.md
	// §5.5). An id leaves when its answer comes.
	crossed map[string]bool
}

type simNPC struct {
	id, name, role string
	pos, dest      protocol.Vec
	health         float64
	inventory      []string
	nextPerceive   time.Time
	events         []protocol.Event // since the last perceive
	act            *simAction       // the action being executed, if any
	ackPing        string           // the ping that acks the last final status, if unanswered
	line           string           // request id of the last player line sent to it
	superseded     []string         // running actions replaced by a newer act, owed a failure status
	// finals are the last final statuses sent (a ring, next the oldest):
	// enough to recognize one that crossed its action's cancel, which
	// comes within a round trip.
	finals [4]sentStatus
	next   int
}

// sentStatus is a final action_status sent: its action and request ids.
type sentStatus struct{ act, req string }

// sentFinal records a final status for act sent as request req.
func (n *simNPC) sentFinal(act, req string) {
	n.finals[n.next] = sentStatus{act, req}
	n.next = (n.next + 1) % len(n.finals)
}

type simAction struct {
	id, name string
	received time.Time
	running  bool // the running status was sent
	duration time.Duration
	due      time.Time
	fail     bool
	target   string // entity the action follows, if any
}

type simPlayer struct {
	id, name  string
	pos, dest protocol.Vec
	partner   *simNPC // the NPC of the conversation going on, if any
}

// pendingLine is a player line waiting for its reply.
type pendingLine struct {
	npc                    string
	sent                   time.Time
	firstSay, decided, act bool
	superseded             bool // a newer line to the NPC came first: its answer may never come
	// replied: its final say came, and its decision may follow (a reply
	// cut short by a newer line or an interrupt has none).
	replied bool
}

// ackWait is a ping sent right behind a final action_status.
type ackWait struct {
	npc  string
	sent time.Time // when the status was sent
}

// outMsg is a message the world goroutine sends once it has let go of mu.
type outMsg struct {
	npc string
	id  string
	m   protocol.Message
	// timed marks a player line or an ack ping: its wait starts when it
	// is handed to Send (stamp), not at the world step, which on a starved
	// machine may have begun long before.
	timed bool
}

// unsent forgets the wait of a line or ping that could not be sent.
func (c *simConn) unsent(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, id)
	c.forgetAck(id)
}

// stamp starts the wait of the line or ping id now, just before it is
// sent, so no reply can come before the stamp.
func (c *simConn) stamp(id string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.pending[id]; p != nil {
		p.sent = now
	}
	if a, ok := c.acks[id]; ok {
		a.sent = now
		c.acks[id] = a
	}
}

func newSimConn(idx int, cfg *Config, rec *Recorder) *simConn {
	c := &simConn{
		idx: idx, cfg: cfg, rec: rec,
		rng:     rand.New(rand.NewPCG(cfg.Seed, uint64(idx)+1)),
		byID:    make(map[string]*simNPC),
		pending: make(map[string]*pendingLine),
		acks:    make(map[string]ackWait),
		crossed: make(map[string]bool),
	}
	c.side = max(40, math.Sqrt(float64(cfg.NPCs))*12)
	for i := range cfg.NPCs {
		n := &simNPC{
			id:     "npc" + strconv.Itoa(i),
			name:   npcNames[(idx*7+i)%len(npcNames)],
			role:   npcRoles[c.rng.IntN(len(npcRoles))],
			pos:    c.randPos(),
			health: 100,
		}
		n.dest = n.pos
		n.inventory = []string{itemNames[c.rng.IntN(len(itemNames))]}
		c.npcs = append(c.npcs, n)
		c.byID[n.id] = n
	}
	for i := range max(2, cfg.NPCs/8) {
		p := &simPlayer{id: "player" + strconv.Itoa(i), name: playerNames[(idx+i)%len(playerNames)], pos: c.randPos()}
		p.dest = c.randPos()
		c.players = append(c.players, p)
	}
	return c
}

func (c *simConn) randPos() protocol.Vec {
	return protocol.Vec{X: round1(c.rng.Float64() * c.side), Y: round1(c.rng.Float64() * c.side)}
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func dist(a, b protocol.Vec) float64 { return math.Hypot(a.X-b.X, a.Y-b.Y) }

// toward moves p toward dest by at most step units and reports arrival.
// A step of zero or less (a world step whose clock did not advance) moves
// nothing: dividing by the distance when it is 0 would make a NaN
// position, which the client refuses to send.
func toward(p *protocol.Vec, dest protocol.Vec, step float64) bool {
	d := dist(*p, dest)
	if step <= 0 {
		return d == 0
	}
	if d <= step {
		*p = dest
		return true
	}
	p.X += (dest.X - p.X) / d * step
	p.Y += (dest.Y - p.Y) / d * step
	return false
}

// newID returns an id unique within this connection, distinct from the
// client's own request ids (which start with "c").
func (c *simConn) newID(prefix string) string {
	c.nextID++
	return prefix + strconv.FormatUint(c.nextID, 10)
}

// dial connects, sets the world and spawns the NPCs.
func (c *simConn) dial(ctx context.Context) error {
	cl, err := client.Dial(ctx, c.cfg.URL, client.Options{
		APIKey: c.cfg.APIKey, Name: "anima-load", Logger: c.cfg.Logger,
		// Room for a burst of replies while the world goroutine sends.
		EventBuffer: 1024,
	})
	if err != nil {
		c.rec.error("dial", err.Error())
		return fmt.Errorf("loadtest: conn %d: %w", c.idx, err)
	}
	c.cl = cl
	return nil
}

// spawnAll sets the world lore and spawns every NPC, one at a time.
func (c *simConn) spawnAll(ctx context.Context) {
	if err := c.cl.World(ctx, &protocol.World{WorldID: "loadtest", Lore: worldLore}); err != nil {
		c.rec.error("send", err.Error())
	}
	n := 0
	for _, npc := range c.npcs {
		spec := &protocol.Spawn{Persona: c.cfg.Persona, Character: &protocol.Character{
			Name: npc.name, Role: npc.role,
			Description: "A " + npc.role + " of Millbrook who has lived there all their life.",
		}}
		if c.cfg.Persona != "" {
			spec.Character = nil
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		start := time.Now()
		_, err := c.cl.Spawn(sctx, npc.id, spec)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.rec.error("spawn:"+errorKind(err), err.Error())
			continue
		}
		c.rec.latency(LatSpawn, time.Since(start))
		n++
	}
	c.mu.Lock()
	c.spawnedN = n
	c.mu.Unlock()
}

const worldLore = "Millbrook is a river village of millers, fishers and smiths, two days' walk from the capital. " +
	"Bandits have been seen on the east road since the bridge collapsed."

// errorKind names an error for the error table: its protocol code if it
// has one.
func errorKind(err error) string {
	var perr *protocol.Error
	switch {
	case errors.As(err, &perr) && perr.Field != "":
		return string(perr.Code) + ":" + perr.Field
	case errors.As(err, &perr):
		return string(perr.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, client.ErrClosed), errors.Is(err, client.ErrDisconnected):
		return "disconnected"
	}
	return "other"
}

// run steps the world until ctx ends.
func (c *simConn) run(ctx context.Context) {
	now := time.Now()
	c.mu.Lock()
	for _, n := range c.npcs {
		// Spread perceives over the period so they do not come in bursts.
		n.nextPerceive = now.Add(time.Duration(c.rng.Int64N(int64(c.cfg.PerceiveEvery))))
	}
	c.nextSay = now.Add(c.expDelay(c.sayMean()))
	c.nextEvt = now.Add(c.expDelay(c.cfg.EventEvery))
	c.mu.Unlock()

	t := time.NewTicker(stepInterval)
	defer t.Stop()
	last := now
	var out []outMsg
	for {
		select {
		case <-ctx.Done():
			return
		case now = <-t.C:
		}
		c.mu.Lock()
		respawn := c.respawn
		c.respawn = false
		c.mu.Unlock()
		if respawn {
			c.spawnAll(ctx)
		}
		out = c.step(now, now.Sub(last).Seconds(), out[:0])
		last = now
		var sent counters // what actually went to Send, counted once per step
		for _, o := range out {
			if o.timed {
				c.stamp(o.id)
			}
			env := protocol.NewEnvelope(o.id, o.npc, o.m)
			if err := c.cl.Send(ctx, env); err != nil {
				c.unsent(o.id)
				if ctx.Err() != nil {
					break // the run is over; what was sent is counted below
				}
				c.rec.error("send:"+errorKind(err), err.Error())
				continue
			}
			switch o.m.(type) {
			case *protocol.Perceive:
				sent.perceives++
			case *protocol.PlayerSay:
				sent.linesSent++
			case *protocol.ActionStatus:
				sent.statuses++
			}
		}
		c.rec.count(func(k *counters) {
			k.perceives += sent.perceives
			k.linesSent += sent.linesSent
			k.statuses += sent.statuses
		})
		if ctx.Err() != nil {
			return
		}
	}
}

// sayMean is the mean pause between this connection's player lines: the
// run-wide SayEvery spread over every connection.
func (c *simConn) sayMean() time.Duration { return c.cfg.SayEvery * time.Duration(c.cfg.Conns) }

// expDelay draws an exponential pause of the given mean (a Poisson
// process); mu must be held.
func (c *simConn) expDelay(mean time.Duration) time.Duration {
	return time.Duration(c.rng.ExpFloat64() * float64(mean))
}

// step advances the world by dt seconds and returns what to send.
func (c *simConn) step(now time.Time, dt float64, out []outMsg) []outMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	move := walkSpeed * dt
	for _, p := range c.players {
		if toward(&p.pos, p.dest, move) {
			p.dest = c.randPos()
		}
	}
	for _, n := range c.npcs {
		out = c.stepAction(n, now, move, out)
	}
	var skipped uint64
	for _, n := range c.npcs {
		if now.Before(n.nextPerceive) {
			continue
		}
		out = append(out, outMsg{npc: n.id, id: c.newID("v"), m: c.perceive(n)})
		n.events = nil
		n.nextPerceive = n.nextPerceive.Add(c.cfg.PerceiveEvery)
		if n.nextPerceive.Before(now) { // fell behind: skip rather than burst
			skipped += uint64(now.Sub(n.nextPerceive)/c.cfg.PerceiveEvery) + 1
			n.nextPerceive = now.Add(c.cfg.PerceiveEvery)
		}
	}
	for !c.nextSay.After(now) {
		c.nextSay = c.nextSay.Add(c.expDelay(c.sayMean()))
		if o, ok := c.playerLine(now); ok {
			out = append(out, o)
		}
	}
	var events uint64
	for !c.nextEvt.After(now) {
		c.nextEvt = c.nextEvt.Add(c.expDelay(c.cfg.EventEvery))
		events += c.worldEvent()
	}
	c.expire(now)
	c.rec.count(func(k *counters) {
		k.skipped += skipped
		k.events += events
	})
	return out
}

// stepAction executes n's current action: the running status at once (the
// game starts it within a frame), then success or failure once its
// duration has passed. mu must be held.
func (c *simConn) stepAction(n *simNPC, now time.Time, move float64, out []outMsg) []outMsg {
	for _, id := range n.superseded {
		req := c.newID("s")
		n.sentFinal(id, req)
		out = append(out, outMsg{npc: n.id, id: req,
			m: &protocol.ActionStatus{ActionID: id, Status: protocol.StatusFailure, Reason: "superseded by a newer action"}})
	}
	n.superseded = n.superseded[:0]
	a := n.act
	if a == nil {
		// Idle NPCs drift about their spot, so positions keep changing.
		if toward(&n.pos, n.dest, move*0.3) && c.rng.IntN(20) == 0 {
			n.dest = protocol.Vec{X: clamp(n.pos.X+c.rng.Float64()*6-3, 0, c.side), Y: clamp(n.pos.Y+c.rng.Float64()*6-3, 0, c.side)}
		}
		return out
	}
	if a.target != "" {
		if pos, ok := c.positionOf(a.target); ok {
			n.dest = pos
		}
	}
	toward(&n.pos, n.dest, move)
	if !a.running {
		a.running = true
		a.due = now.Add(a.duration)
		return append(out, outMsg{npc: n.id, id: c.newID("s"), m: &protocol.ActionStatus{ActionID: a.id, Status: protocol.StatusRunning}})
	}
	if now.Before(a.due) {
		return out
	}
	st := &protocol.ActionStatus{ActionID: a.id, Status: protocol.StatusSuccess}
	if a.fail {
		st.Status, st.Reason = protocol.StatusFailure, "path blocked"
	}
	n.act = nil
	// The ack: a ping right behind the status; its wait starts as the
	// ping goes to Send, right after the status.
	ping := c.newID("k")
	c.acks[ping] = ackWait{npc: n.id, sent: now}
	n.ackPing = ping
	req := c.newID("s")
	n.sentFinal(a.id, req)
	out = append(out, outMsg{npc: n.id, id: req, m: st})
	return append(out, outMsg{id: ping, m: &protocol.Ping{TimeMS: now.UnixMilli()}, timed: true})
}

func clamp(v, lo, hi float64) float64 { return min(max(v, lo), hi) }

// positionOf returns an entity's position; mu must be held.
func (c *simConn) positionOf(id string) (protocol.Vec, bool) {
	if n := c.byID[id]; n != nil {
		return n.pos, true
	}
	for _, p := range c.players {
		if p.id == id {
			return p.pos, true
		}
	}
	return protocol.Vec{}, false
}

// perceive builds what n sees now; mu must be held.
func (c *simConn) perceive(n *simNPC) *protocol.Perceive {
	// The scratch list is reused across calls (mu is held): at 20,000
	// perceives a second, growing a fresh one each time was half of this
	// function's cost.
	near := c.near[:0]
	defer func() { c.near = near[:0] }()
	for _, o := range c.npcs {
		if o == n {
			continue
		}
		if d := dist(n.pos, o.pos); d <= sightRadius {
			near = append(near, seen{protocol.Entity{ID: o.id, Kind: "npc", Name: o.name, Position: o.pos, Relation: "neutral"}, d})
		}
	}
	for _, p := range c.players {
		if d := dist(n.pos, p.pos); d <= sightRadius {
			near = append(near, seen{protocol.Entity{ID: p.id, Kind: "player", Name: p.name, Position: roundVec(p.pos)}, d})
		}
	}
	slices.SortFunc(near, func(a, b seen) int { return cmpFloat(a.d, b.d) })
	p := &protocol.Perceive{
		Time: "day 3, afternoon",
		Self: protocol.Self{Position: roundVec(n.pos), Location: "Millbrook", Health: n.health, Inventory: n.inventory},
	}
	if n.act != nil {
		p.Self.Status = "busy: " + n.act.name
	}
	near = near[:min(len(near), maxSeen)]
	p.Entities = make([]protocol.Entity, len(near))
	for i, s := range near {
		s.e.Position = roundVec(s.e.Position)
		p.Entities[i] = s.e
	}
	p.Events = n.events
	return p
}

// seen is an entity in sight and its distance, while a perceive is built.
type seen struct {
	e protocol.Entity
	d float64
}

func roundVec(v protocol.Vec) protocol.Vec { return protocol.Vec{X: round1(v.X), Y: round1(v.Y)} }

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// playerLine has a player speak to an NPC; nearby NPCs hear it as a speech
// event. mu must be held.
func (c *simConn) playerLine(now time.Time) (outMsg, bool) {
	if len(c.npcs) == 0 || c.spawnedN == 0 {
		return outMsg{}, false
	}
	p := c.players[c.rng.IntN(len(c.players))]
	// A conversation goes on with probability 1 - 1/mean, so that its
	// length is geometric with that mean.
	n := p.partner
	if n == nil || c.rng.Float64() < 1/c.cfg.Conversation {
		n = c.npcs[c.rng.IntN(len(c.npcs))]
	}
	p.partner = n
	text := linesEnglish[c.rng.IntN(len(linesEnglish))]
	if c.rng.Float64() < c.cfg.KoreanShare {
		text = linesKorean[c.rng.IntN(len(linesKorean))]
	}
	id := c.newID("p")
	if old := c.pending[n.line]; old != nil && !old.superseded && !old.replied {
		// A new line to an NPC still answering the last one cuts that
		// answer short, or takes its place if it had not started
		// (PROTOCOL.md §4.6): the old line may get a final say of what
		// was said, and is owed nothing more.
		old.superseded = true
		c.rec.count(func(k *counters) { k.superseded++ })
	}
	n.line = id
	c.pending[id] = &pendingLine{npc: n.id, sent: now}
	// The NPC spoken to hears the line through the player_say alone: the
	// same line again in its perceive would reach its mind as a second
	// address, which cuts the answer short.
	c.witness(n.pos, protocol.Event{Kind: "speech", Source: p.id, Target: n.id, Text: text}, nil, n)
	return outMsg{npc: n.id, id: id, m: &protocol.PlayerSay{Speaker: p.id, Name: p.name, Text: text}, timed: true}, true
}

// worldEvent has a player attack an NPC, give it something or steal from
// it; the victim and the NPCs nearby see it in their next perceive. It
// returns the number of perceive events it made. mu must be held.
func (c *simConn) worldEvent() uint64 {
	if len(c.npcs) == 0 {
		return 0
	}
	n := c.npcs[c.rng.IntN(len(c.npcs))]
	p := c.players[c.rng.IntN(len(c.players))]
	var ev protocol.Event
	switch c.rng.IntN(3) {
	case 0:
		ev = protocol.Event{Kind: "attack", Source: p.id, Target: n.id}
		n.health = max(10, n.health-float64(5+c.rng.IntN(20)))
	case 1:
		item := itemNames[c.rng.IntN(len(itemNames))]
		ev = protocol.Event{Kind: "give", Source: p.id, Target: n.id, Item: item}
		if len(n.inventory) < 6 {
			n.inventory = append(n.inventory, item)
		}
	default:
		ev = protocol.Event{Kind: "steal", Source: p.id, Target: n.id, Item: n.inventory[0]}
		if len(n.inventory) > 1 {
			n.inventory = n.inventory[1:]
		}
	}
	return c.witness(n.pos, ev, nil, nil)
}

// witness queues ev for every NPC within sight of at (and for also) but
// except (either may be nil); it returns how many NPCs will see it. mu must
// be held.
func (c *simConn) witness(at protocol.Vec, ev protocol.Event, also, except *simNPC) uint64 {
	var k uint64
	for _, o := range c.npcs {
		if o != except && (o == also || dist(o.pos, at) <= sightRadius) {
			if len(o.events) < 16 { // bounded, as a game would bound it
				o.events = append(o.events, ev)
				k++
			}
		}
	}
	return k
}

// expire gives up on replies and acks that have waited too long; mu must be
// held.
func (c *simConn) expire(now time.Time) {
	for id, p := range c.pending {
		if now.Sub(p.sent) > c.cfg.ReplyTimeout {
			delete(c.pending, id)
			if p.superseded || p.replied {
				continue
			}
			c.rec.error("no_reply", fmt.Sprintf("no final say to %s within %v", p.npc, c.cfg.ReplyTimeout))
		}
	}
	for id, a := range c.acks {
		if now.Sub(a.sent) > c.cfg.ReplyTimeout {
			c.forgetAck(id)
			c.rec.drop("ack_lost", 1)
		}
	}
}

// forgetAck removes a ping's wait; mu must be held.
func (c *simConn) forgetAck(id string) {
	if a, ok := c.acks[id]; ok {
		if n := c.byID[a.npc]; n != nil && n.ackPing == id {
			n.ackPing = ""
		}
	}
	delete(c.acks, id)
}
