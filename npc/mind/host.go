package mind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anima-rt/anima/behavior"
	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/memory"
	"github.com/anima-rt/anima/npc/perception"
	"github.com/anima-rt/anima/npc/persona"
	"github.com/anima-rt/anima/npc/salience"
	"github.com/anima-rt/anima/protocol"
)

// Ref names one NPC: the session that spawned it and the client's id for
// it (unique per session only). It mirrors server.NPCRef.
type Ref struct {
	Session string
	NPC     string
}

// Outbox carries an NPC's messages to its client; server.Outbox has this
// method set. Send must never block.
type Outbox interface {
	Send(npc, requestID string, m protocol.Message)
}

// Config configures a Host. Zero fields take the defaults named on each.
type Config struct {
	Generator Generator // required
	Assets    *Assets   // required
	// Store persists memories; nil keeps them in this process only.
	Store *memory.Store
	// Memory configures each NPC's stream (memory.DefaultConfig).
	Memory memory.Config
	// Salience configures the global gate; NoAmbient turns off every
	// think but answering addressed speech (for tests and anima chat).
	Salience  salience.Config
	NoAmbient bool
	// Workers is how many thinks run at once (default 16: a batching
	// decoder decodes them together, a serial one queues them), Reserve how
	// many of them serve player dialogue only (default 1), Queue how many
	// thinks of each priority may wait (default 256).
	Workers, Reserve, Queue int
	// MaxTokens bounds a decision's tokens, forced scaffolding included
	// (default 128): a say cut short by it still closes as valid JSON.
	MaxTokens int
	// MemoryLines is how many memories a prompt's digest shows (default 6).
	MemoryLines int
	// MaxTurns and ConversationGap end a conversation (defaults 6 turns
	// and 2 minutes); so does a prompt that would leave less than
	// MaxTokens of ContextTokens (the generator's context; 0: unknown)
	// once the next stimulus is added.
	MaxTurns        int
	ConversationGap time.Duration
	ContextTokens   int
	// PlayerDeadline and AmbientDeadline (defaults 10s each) bound both
	// how long a think may wait for a worker (one that waited longer is
	// not started, and a player is told it could not answer in time) and
	// how long its decoding may then run; either way the tree goes on.
	PlayerDeadline, AmbientDeadline time.Duration
	// KeepPrompt keeps each NPC's last prompt for Inspect (a few KiB per
	// NPC: for tools and tests, not for thousands of NPCs).
	KeepPrompt bool
	// PromptFormat is the id/name layout of the model's prompts
	// (node.OpenMinds sets the model's own, from its GGUF).
	PromptFormat npc.PromptFormat
	// Temperature samples the say (default 0.7; negative: greedy).
	Temperature float32
	// TickRate is the trees' ticks per second (default 10). TickLag, if
	// set, is told how late each step of the trees' scheduler ran
	// (behavior.SchedulerConfig.Lag), on the wall clock that drives them.
	TickRate float64
	TickLag  func(time.Duration)
	// MaxChatLines bounds a conversation between two NPCs (see chat.go):
	// lines in a row, both sides together (default 4: two each; negative:
	// NPCs never hear each other directly).
	MaxChatLines int
	// Now is the clock (default time.Now); Seed seeds the gate's and the
	// sampler's randomness (0 is a valid seed).
	Now    func() time.Time
	Seed   uint64
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Workers, 16)
	def(&c.Queue, 256)
	def(&c.MaxTokens, 128)
	def(&c.MemoryLines, 6)
	def(&c.MaxTurns, 6)
	if c.MaxChatLines == 0 {
		c.MaxChatLines = 4
	}
	if c.Reserve <= 0 {
		c.Reserve = 1
	}
	c.Reserve = min(c.Reserve, c.Workers-1)
	if c.Workers == 1 {
		c.Reserve = 0
	}
	if c.ConversationGap <= 0 {
		c.ConversationGap = 2 * time.Minute
	}
	if c.PlayerDeadline <= 0 {
		c.PlayerDeadline = 10 * time.Second
	}
	if c.AmbientDeadline <= 0 {
		c.AmbientDeadline = 10 * time.Second
	}
	switch {
	case c.Temperature == 0:
		c.Temperature = 0.7
	case c.Temperature < 0:
		c.Temperature = 0
	}
	if !(c.TickRate > 0) {
		c.TickRate = 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// MaxWorlds bounds the sessions whose world lore a Host keeps; a world
// message beyond it is refused as overloaded.
const MaxWorlds = 1 << 14

// maxUnobserved bounds the events an NPC holds before it next thinks;
// older ones go into memory at once.
const maxUnobserved = 64

// Counters are a Host's counts since New, for metrics.
type Counters struct {
	Thinks uint64 // thinks started
	// PlayerThinks are the thinks started for a player's line (of
	// Thinks); the rest were reactions, chat and ambient thoughts. Under
	// overload the others go first, so their share shows where a node
	// bends.
	PlayerThinks uint64
	Decisions    uint64 // complete decisions landed
	Interrupted  uint64 // utterances cut by interrupt or a newer line
	// TreeOnly counts thinks that did not run because the think queue
	// was full or the generator was overloaded: the NPC went on with its
	// tree alone. The gate's own overload refusals are in Gate.TreeOnly.
	TreeOnly  uint64
	Errors    uint64 // failed generations
	Invalid   uint64 // outputs that did not parse or validate (the model's fault)
	NoAction  uint64 // thinks skipped: no action of the NPC had a target present
	SayDeltas uint64
	// ChatLines counts lines one NPC heard from another; ChatCut the
	// lines not delivered because their conversation was long enough.
	ChatLines, ChatCut uint64
	Gate               salience.Counters
}

// Host runs the NPC minds of every session on one Generator. Its methods
// mirror server.NPCHost; they return promptly (thinking runs on the
// Host's workers) and are safe for concurrent use.
type Host struct {
	cfg   Config
	a     *Assets
	gen   Generator
	gate  *salience.Gate
	sched *behavior.Scheduler
	log   *slog.Logger

	ctx  context.Context // cancelled by Close: ends every think
	stop context.CancelFunc
	// queue holds the waiting thinks (queue.go).
	queue *thinkQueue
	wg    sync.WaitGroup // workers and the tick loop
	seed  atomic.Uint64

	mu     sync.RWMutex // guards npcs, byKey, worlds, owners, closed
	npcs   map[Ref]*mindNPC
	byKey  map[string]*mindNPC       // by the tree instance's id (ref key)
	worlds map[string]*persona.World // a session's world message, by session
	owners map[string]Ref            // store key → the NPC whose memory it is
	closed bool

	thinks, playerThinks, decisions, interrupted, treeOnly, errs, invalid, noAction, deltas atomic.Uint64
	chatLines, chatCut                                                                      atomic.Uint64
	serials                                                                                 atomic.Uint64 // NPCs spawned
}

// New starts a Host: its think workers and the trees' tick loop, which run
// until Close.
func New(cfg Config) (*Host, error) {
	if cfg.Generator == nil || cfg.Assets == nil {
		return nil, errors.New("mind: new: Generator and Assets are required")
	}
	cfg = cfg.withDefaults()
	h := &Host{
		cfg: cfg, a: cfg.Assets, gen: cfg.Generator, log: cfg.Logger,
		gate:   salience.New(cfg.Salience, cfg.Now, rand.New(rand.NewPCG(cfg.Seed, 0x6d696e64))),
		sched:  behavior.NewScheduler(behavior.SchedulerConfig{Rate: cfg.TickRate, Workers: 1, Lag: cfg.TickLag}),
		npcs:   map[Ref]*mindNPC{},
		byKey:  map[string]*mindNPC{},
		worlds: map[string]*persona.World{},
		owners: map[string]Ref{},
	}
	h.queue = newThinkQueue(cfg.Queue, func(j *job) time.Duration {
		if j.prio >= PriorityPlayer {
			return cfg.PlayerDeadline
		}
		return cfg.AmbientDeadline
	}, time.Now)
	h.seed.Store(cfg.Seed)
	h.ctx, h.stop = context.WithCancel(context.Background())
	for i := range cfg.Workers {
		h.wg.Add(1)
		// Each worker exits when Close closes the queue.
		go h.worker(i < cfg.Reserve)
	}
	h.wg.Add(1)
	// The tick loop exits when Close cancels h.ctx.
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(h.sched.Interval())
		defer t.Stop()
		h.sched.Run(h.ctx, t.C)
	}()
	return h, nil
}

// Close stops thinking (open utterances end without their final say),
// stops the trees, and saves every NPC's memory. The Store stays open.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	var all []*mindNPC
	for _, n := range h.npcs {
		all = append(all, n)
	}
	h.mu.Unlock()
	h.stop()
	h.queue.close()
	h.wg.Wait()
	var errs []error
	for _, n := range all {
		errs = append(errs, h.save(n, true))
	}
	return errors.Join(errs...)
}

// Counters returns the counts so far.
func (h *Host) Counters() Counters {
	return Counters{
		Thinks: h.thinks.Load(), PlayerThinks: h.playerThinks.Load(), Decisions: h.decisions.Load(), Interrupted: h.interrupted.Load(),
		TreeOnly: h.treeOnly.Load(), Errors: h.errs.Load(), Invalid: h.invalid.Load(),
		NoAction: h.noAction.Load(), SayDeltas: h.deltas.Load(),
		ChatLines: h.chatLines.Load(), ChatCut: h.chatCut.Load(), Gate: h.gate.Counters(),
	}
}

// mindNPC is one NPC. The fields above mu are set at spawn and read-only.
type mindNPC struct {
	ref      Ref
	key      string // ref as one string: the tree instance's and the gate's id
	out      Outbox
	p        *persona.Persona
	pp       npc.Persona
	lore     npc.Lore // the persona's world, unless the session sent one
	storeKey [2]string
	persist  bool // its memory is saved (it owns storeKey)
	tree     *behavior.Instance
	serial   uint64        // unique per Host: act ids are "a<serial>.<id>"
	maxAct   atomic.Uint64 // the highest act id its tree has sent

	mu         sync.Mutex // guards everything below
	ws         *perception.WorkingSet
	mem        *memory.Stream
	unobserved []perception.Event // perceived, not yet in memory
	history    []npc.Turn         // the conversation so far
	pieces     [][]string         // by turn: its reply as generated (Result.Pieces)
	digest     []string           // the conversation's memory lines, frozen
	lastTurn   time.Time
	lastTokens int           // the last think's prompt and output tokens
	busy       bool          // a think is queued or running
	idle       chan struct{} // closed when busy turns false
	pending    *job          // the think queued, not yet taken by a worker
	running    bool          // a worker runs a think of this NPC
	again      *job          // the think to run after the running one
	cur        *utterance    // the think running, if any
	nextUtt    int
	dead       bool
	lastPrompt string
	chat       map[string]heardNPC // by NPC id: the last line heard from it
}

// utterance is a running think's say stream, guarded by mindNPC.mu.
type utterance struct {
	id        string
	requestID string
	said      string // deltas sent
	done      bool   // cut short: no more deltas; the final say was sent
	cancel    context.CancelFunc
}

func (h *Host) lookup(ref Ref) (*mindNPC, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if n := h.npcs[ref]; n != nil {
		return n, nil
	}
	return nil, protocol.Errorf(protocol.CodeUnknownNPC, "npc %q is not spawned", ref.NPC)
}

// Spawn creates an NPC from a spawn message: its persona (named, inline or
// both), tree, blackboard and memory. A persona, tree or action the server
// lacks is unknown_persona; a bad field is bad_field.
func (h *Host) Spawn(ref Ref, spec *protocol.Spawn, out Outbox) (*protocol.Spawned, error) {
	p, err := h.a.Set.Spawn(ref.NPC, spec, h.a.Known)
	if err != nil {
		var fe *persona.FieldError
		if errors.As(err, &fe) && fe.Field != "persona" && fe.Field != "tree" {
			e := protocol.Errorf(protocol.CodeBadField, "%v", err)
			e.Field = "body." + fe.Field
			return nil, e
		}
		return nil, protocol.Errorf(protocol.CodeUnknownPersona, "%v", err)
	}
	tree, err := h.a.Trees.Tree(h.a.TreeIDs[p.Tree])
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeUnknownPersona, "tree %q: %v", p.Tree, err)
	}
	n := &mindNPC{ref: ref, key: ref.Session + "\x00" + ref.NPC, out: out, p: p, pp: p.Prompt(), serial: h.serials.Add(1)}
	n.tree = behavior.NewInstance(tree, n.key, h, h)
	for k, v := range spec.Blackboard {
		val, ok := blackboardValue(v)
		if !ok {
			// Lists and objects are free-form JSON (PROTOCOL.md) that the
			// game may keep on a spawn for its own tools: ignored when the
			// tree has no such key, refused when it has one, whose type
			// is always a scalar.
			if err := n.tree.Set(k, behavior.String("")); errors.Is(err, behavior.ErrUnknownKey) {
				continue
			}
			e := protocol.Errorf(protocol.CodeBadField, "blackboard %q: the tree's key wants a string, number or boolean", k)
			e.Field = "body.blackboard." + k
			return nil, e
		}
		if err := n.tree.Set(k, val); err != nil && !errors.Is(err, behavior.ErrUnknownKey) {
			e := protocol.Errorf(protocol.CodeBadField, "%v", err)
			e.Field = "body.blackboard." + k
			return nil, e
		}
	}

	h.mu.RLock()
	sw := h.worlds[ref.Session]
	h.mu.RUnlock()
	world := h.a.Set.Worlds[p.World]
	if world != nil {
		n.lore = world.Prompt()
	}
	worldID := p.World
	if sw != nil {
		if worldID == "" {
			worldID = sw.ID
		}
		world = sw
	}
	places := map[string]string{}
	if world != nil {
		for _, pl := range world.Places {
			places[strings.ToLower(pl.Name)] = pl.ID
			places[strings.ToLower(pl.ID)] = pl.ID
		}
	}
	n.ws = perception.New(perception.Config{SelfID: ref.NPC, SelfName: p.Name, Places: places})
	n.storeKey = [2]string{worldID, ref.NPC}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, protocol.Errorf(protocol.CodeOverloaded, "the server is shutting down")
	}
	sk := n.storeKey[0] + "\x00" + n.storeKey[1]
	if _, taken := h.owners[sk]; !taken && h.cfg.Store != nil {
		h.owners[sk] = ref
		n.persist = true
	}
	h.mu.Unlock()

	n.mem = memory.New(h.cfg.Memory)
	if n.persist {
		mem, err := h.cfg.Store.Load(worldID, ref.NPC, h.cfg.Memory)
		if err != nil {
			// One unreadable memory must not keep the NPC from living: it
			// starts afresh, and its next save overwrites the bad records.
			h.log.Error("npc memory unreadable; starting empty", "npc", ref.NPC, "world", worldID, "err", err)
		} else {
			n.mem = mem
		}
	} else if h.cfg.Store != nil {
		h.log.Warn("npc memory in use by another session's NPC of the same id; this one's is not saved", "npc", ref.NPC)
	}
	if n.mem.Len() == 0 && len(n.mem.Relations()) == 0 {
		n.mem.SeedRelations(p.Relationships)
	}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.release(n)
		return nil, protocol.Errorf(protocol.CodeOverloaded, "the server is shutting down")
	}
	h.npcs[ref] = n
	h.byKey[n.key] = n
	h.mu.Unlock()
	if err := h.sched.Add(n.tree); err != nil {
		return nil, fmt.Errorf("mind: spawn: %w", err) // a fresh instance: never
	}
	return &protocol.Spawned{Persona: p.ID, Tree: p.Tree, Actions: p.Actions}, nil
}

// blackboardValue converts a decoded spawn blackboard value.
func blackboardValue(v any) (behavior.Value, bool) {
	switch x := v.(type) {
	case string:
		return behavior.String(x), true
	case bool:
		return behavior.Bool(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return behavior.Int(int64(x)), true
		}
		return behavior.Float(x), true
	case float32:
		return behavior.Float(float64(x)), true
	case int64:
		return behavior.Int(x), true
	case uint64:
		return behavior.Int(int64(min(x, math.MaxInt64))), true
	case int:
		return behavior.Int(int64(x)), true
	}
	return behavior.Value{}, false
}

// release gives up n's claim on its stored memory.
func (h *Host) release(n *mindNPC) {
	if !n.persist {
		return
	}
	h.mu.Lock()
	delete(h.owners, n.storeKey[0]+"\x00"+n.storeKey[1])
	h.mu.Unlock()
}

// despawnWait bounds how long Despawn waits for a cancelled think to end
// before saving the NPC's memory.
const despawnWait = 5 * time.Second

// Despawn removes an NPC: its think is cancelled, its tree halted, and its
// memory saved (and fsynced) before Despawn returns, so that a respawn of
// the same id, even in the next process, finds it.
func (h *Host) Despawn(ref Ref) {
	h.mu.Lock()
	n := h.npcs[ref]
	if n != nil {
		delete(h.npcs, ref)
		delete(h.byKey, n.key)
	}
	h.mu.Unlock()
	if n == nil {
		return
	}
	h.sched.Remove(n.tree)
	n.tree.Halt("despawn")
	n.mu.Lock()
	n.dead = true
	n.dropQueued()
	if n.cur != nil {
		h.cut(n, n.cur)
	}
	idle := n.idle
	if !n.busy {
		idle = nil
	}
	n.mu.Unlock()
	if idle != nil {
		select {
		case <-idle:
		case <-time.After(despawnWait):
			h.log.Warn("despawn: think still running; saving memory without it", "npc", ref.NPC)
		}
	}
	h.gate.Forget(n.key)
	if err := h.save(n, true); err != nil {
		h.log.Error("despawn: saving memory", "npc", ref.NPC, "err", err)
	}
	h.release(n)
}

// World sets a session's lore for its NPCs' next thinks. A world id of an
// embedded world keeps that world's name and places.
func (h *Host) World(session string, m *protocol.World) error {
	w, err := persona.WorldFromMessage(m, h.a.Set.Worlds[m.WorldID])
	if err != nil {
		e := protocol.Errorf(protocol.CodeBadField, "%v", err)
		var fe *persona.FieldError
		if errors.As(err, &fe) {
			e.Field = "body." + fe.Field
		}
		return e
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.worlds[session]; !ok && len(h.worlds) >= MaxWorlds {
		return protocol.Errorf(protocol.CodeOverloaded, "too many sessions with their own world")
	}
	h.worlds[session] = w
	return nil
}

// loreFor returns the lore n thinks in: its session's world, else its
// persona's.
func (h *Host) loreFor(n *mindNPC) npc.Lore {
	h.mu.RLock()
	w := h.worlds[n.ref.Session]
	h.mu.RUnlock()
	if w != nil {
		return w.Prompt()
	}
	return n.lore
}

// Perceive takes what an NPC perceives (deltas; see npc/perception for the
// clamps on bad values) and lets the gate decide whether it thinks.
func (h *Host) Perceive(ref Ref, p *protocol.Perceive) error {
	n, err := h.lookup(ref)
	if err != nil {
		return err
	}
	n.mu.Lock()
	evs := n.ws.Apply(h.cfg.Now(), p)
	h.note(n, evs...)
	think, prio := false, PriorityAmbient
	for _, ev := range evs {
		r := h.gate.Classify(ev)
		if r == salience.None || (h.cfg.NoAmbient && r != salience.Addressed) {
			continue
		}
		if v := h.gate.Event(n.key, ev); v.Think {
			think = true
			if v.Reason == salience.Addressed {
				prio = PriorityPlayer
			}
		}
	}
	n.mu.Unlock()
	if think {
		return h.request(job{n: n, prio: prio, reason: "perceive"})
	}
	return nil
}

// note queues events for memory; n.mu is held. They go into memory when
// the NPC next thinks, after its prompt is built (the digest is the past),
// or now when too many wait.
func (h *Host) note(n *mindNPC, evs ...perception.Event) {
	n.unobserved = append(n.unobserved, evs...)
	if over := len(n.unobserved) - maxUnobserved; over > 0 {
		for _, ev := range n.unobserved[:over] {
			n.mem.Observe(ev, n.p.Language)
		}
		n.unobserved = append(n.unobserved[:0], n.unobserved[over:]...)
	}
}

// PlayerSay takes a line spoken to the NPC: it always thinks, ahead of
// ambient thinking; a reply still being decoded is cut short, as by an
// interrupt, and the new line is answered next.
func (h *Host) PlayerSay(ref Ref, requestID string, m *protocol.PlayerSay) error {
	n, err := h.lookup(ref)
	if err != nil {
		return err
	}
	n.mu.Lock()
	ev := n.ws.Hear(h.cfg.Now(), m)
	h.note(n, ev)
	h.gate.Event(n.key, ev) // addressed: always thinks; spends budget when there is some
	n.mu.Unlock()
	return h.request(job{n: n, prio: PriorityPlayer, requestID: requestID, reason: "addressed"})
}

// Interrupt ends what the NPC is saying now with a final say of what was
// said, and cancels its thinking.
func (h *Host) Interrupt(ref Ref, _ *protocol.Interrupt) error {
	n, err := h.lookup(ref)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dropQueued()
	if n.cur != nil {
		h.cut(n, n.cur)
	}
	return nil
}

// dropQueued forgets the thinks n has waiting (a queued one is skipped by
// the worker that takes it); n.mu is held.
func (n *mindNPC) dropQueued() {
	n.again = nil
	if n.pending != nil {
		n.pending = nil
		if !n.running {
			n.setIdle()
		}
	}
}

// cut ends u: a final say of what was said (when anything was), no more
// deltas, and the decoding cancelled; n.mu is held.
func (h *Host) cut(n *mindNPC, u *utterance) {
	if !u.done {
		u.done = true
		h.interrupted.Add(1)
		if u.said != "" {
			n.out.Send(n.ref.NPC, u.requestID, &protocol.Say{UtteranceID: u.id, Final: true, Text: u.said})
		}
	}
	u.cancel()
}

// ActionStatus resolves an act the NPC's tree sent: success or failure ends
// the action's leaf; running is acknowledged. An id the tree never sent,
// or a success or failure for an act already ended or cancelled, is
// unknown_action (PROTOCOL.md §4.8).
func (h *Host) ActionStatus(ref Ref, s *protocol.ActionStatus) error {
	n, err := h.lookup(ref)
	if err != nil {
		return err
	}
	unknown := protocol.Errorf(protocol.CodeUnknownAction, "npc %q runs no action %q", ref.NPC, s.ActionID)
	serial, id, ok := parseActID(s.ActionID)
	if !ok || serial != n.serial || id > n.maxAct.Load() {
		return unknown
	}
	if s.Status != protocol.StatusRunning && !n.tree.Resolve(id, s.Status == protocol.StatusSuccess) {
		return unknown
	}
	return nil
}

// actID is the wire id of an NPC's act: the tree's ids count per NPC, and
// the serial makes them unique within the session, as PROTOCOL.md asks.
func actID(serial, id uint64) string {
	return "a" + strconv.FormatUint(serial, 10) + "." + strconv.FormatUint(id, 10)
}

func parseActID(s string) (serial, id uint64, ok bool) {
	rest, ok := strings.CutPrefix(s, "a")
	ser, num, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return 0, 0, false
	}
	var err1, err2 error
	serial, err1 = strconv.ParseUint(ser, 10, 64)
	id, err2 = strconv.ParseUint(num, 10, 64)
	return serial, id, err1 == nil && err2 == nil && id > 0
}

// Act implements behavior.Actuator: the tree's game action goes out as an
// act message.
func (h *Host) Act(key string, id uint64, name string, args []behavior.Arg) {
	h.mu.RLock()
	n := h.byKey[key]
	h.mu.RUnlock()
	if n == nil {
		return
	}
	n.maxAct.Store(max(n.maxAct.Load(), id)) // only the tick worker writes it
	var pa protocol.Args
	if len(args) > 0 {
		pa = make(protocol.Args, len(args))
		for _, a := range args {
			pa[a.Name] = a.Value.Interface()
		}
	}
	n.out.Send(n.ref.NPC, "", &protocol.Act{ActionID: actID(n.serial, id), Name: name, Args: pa})
}

// Cancel implements behavior.Actuator.
func (h *Host) Cancel(key string, id uint64, reason string) {
	h.mu.RLock()
	n := h.byKey[key]
	h.mu.RUnlock()
	if n == nil {
		return
	}
	n.out.Send(n.ref.NPC, "", &protocol.Cancel{ActionID: actID(n.serial, id), Reason: reason})
}

// Think implements behavior.Thinker: the tree's routine asks for a
// re-plan, which the gate grants now and then, within the global budget.
func (h *Host) Think(key string, reason string) {
	if h.cfg.NoAmbient {
		return
	}
	h.mu.RLock()
	n := h.byKey[key]
	h.mu.RUnlock()
	if n == nil {
		return
	}
	if v := h.gate.Idle(key); v.Think {
		h.request(job{n: n, prio: PriorityAmbient, reason: reason})
	}
}

// save writes n's memory changes to the store (fsynced when it returns);
// final also moves the events not yet observed into memory.
func (h *Host) save(n *mindNPC, final bool) error {
	n.mu.Lock()
	if final {
		for _, ev := range n.unobserved {
			n.mem.Observe(ev, n.p.Language)
		}
		n.unobserved = nil
	}
	ch := n.mem.TakeChanges()
	n.mu.Unlock()
	if !n.persist || ch.Empty() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return h.cfg.Store.Save(ctx, n.storeKey[0], n.storeKey[1], ch)
}

// Inspection is what an NPC's mind holds now, for tools (anima chat) and
// tests.
type Inspection struct {
	Prompt   string   // the prompt of its last think, with Config.KeepPrompt
	Memories []string // its memory stream's entries, oldest first
	Turns    int      // turns of the conversation in progress
}

// Inspect returns what the NPC ref's mind holds now.
func (h *Host) Inspect(ref Ref) (Inspection, error) {
	n, err := h.lookup(ref)
	if err != nil {
		return Inspection{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	in := Inspection{Prompt: n.lastPrompt, Turns: len(n.history)}
	for _, e := range n.mem.Entries() {
		in.Memories = append(in.Memories, e.Text)
	}
	return in, nil
}

// Assets returns the assets the Host runs on.
func (h *Host) Assets() *Assets { return h.a }
