package server

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/anima-rt/anima/protocol"
)

// StandIn is an NPC host with no model, for tests of the wire alone and
// `anima serve -standin` (Minds is the real one). On player_say it picks a
// reply from a fixed keyword table (or echoes the line), then sends a
// decision, an act, and the reply as several say deltas followed by a
// final say. It records action_status reports and perceptions so tests can
// see them arrive.
//
// Replies run on a fixed pool of worker goroutines fed by a bounded queue,
// so PlayerSay never blocks a reader; when the queue is full it answers
// overloaded. Streaming delays use timers, not sleeping workers. An
// interrupt, a new line or a despawn ends the open utterance at once with a
// final say of what was said so far. Messages go to the Outbox while mu is
// held (Outbox.Send never blocks), so they leave in the order decided.
type StandIn struct {
	delay time.Duration // between say deltas
	jobs  chan func()   // bounded; workers run them
	done  chan struct{} // closed by Close
	wg    sync.WaitGroup

	mu   sync.Mutex // guards npcs, closed
	npcs map[NPCRef]*standInNPC
	// closed stops replies that are mid-stream when Close is called.
	closed bool
}

// standInNPC is one stand-in NPC's state, guarded by StandIn.mu.
type standInNPC struct {
	out       Outbox
	persona   string
	perceived int               // perceive messages received
	actions   map[string]string // action id → last status ("" when just started)
	nextID    int               // for action and utterance ids
	speaking  *standInUtterance // the utterance being streamed, if any
}

// standInUtterance is a reply being streamed, guarded by StandIn.mu.
type standInUtterance struct {
	id        string
	requestID string
	sent      string // the deltas sent so far
	done      bool   // the final say has been sent
}

// StandInOptions tune the stand-in.
type StandInOptions struct {
	Workers    int           // goroutines streaming replies; default 2
	Queue      int           // pending replies before overloaded; default 1024
	DeltaDelay time.Duration // pause between say deltas; 0 streams at once
}

// NewStandIn starts the stand-in's workers; Close stops them.
func NewStandIn(opt StandInOptions) *StandIn {
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if opt.Queue <= 0 {
		opt.Queue = 1024
	}
	s := &StandIn{
		delay: opt.DeltaDelay,
		jobs:  make(chan func(), opt.Queue),
		done:  make(chan struct{}),
		npcs:  make(map[NPCRef]*standInNPC),
	}
	for range opt.Workers {
		s.wg.Add(1)
		// Each worker exits when Close closes done.
		go func() {
			defer s.wg.Done()
			for {
				select {
				case job := <-s.jobs:
					job()
				case <-s.done:
					return
				}
			}
		}()
	}
	return s
}

// Close stops the workers; replies in flight end without their final say.
func (s *StandIn) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
}

// standInReply is one row of the reply table.
type standInReply struct {
	keywords []string
	emotion  string
	action   string // act name; "follow" and "trade" target the speaker
	text     string
}

// standInReplies is logically constant: the stand-in's whole repertoire.
var standInReplies = []standInReply{
	{[]string{"hello", "hi", "greetings", "hey"}, "friendly", "idle", "Well met, traveller. What brings you here?"},
	{[]string{"help", "follow", "come"}, "determined", "follow", "Lead the way. I'll be right behind you."},
	{[]string{"trade", "buy", "sell", "price"}, "interested", "trade", "Let's see what you've got, then."},
	{[]string{"bye", "farewell", "goodbye"}, "neutral", "idle", "Safe travels."},
}

// standInAnswer picks the reply for text: the first row with a keyword among
// its words, or an echo.
func standInAnswer(text string) standInReply {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	for _, row := range standInReplies {
		for _, k := range row.keywords {
			for _, w := range words {
				if w == k {
					return row
				}
			}
		}
	}
	return standInReply{emotion: "curious", action: "idle",
		text: fmt.Sprintf("You said %q. I am only a stand-in; my mind comes later.", text)}
}

// splitDeltas cuts text into about n pieces at word boundaries.
func splitDeltas(text string, n int) []string {
	words := strings.SplitAfter(text, " ")
	per := max(1, (len(words)+n-1)/n)
	var out []string
	for i := 0; i < len(words); i += per {
		out = append(out, strings.Join(words[i:min(i+per, len(words))], ""))
	}
	return out
}

func (s *StandIn) Spawn(ref NPCRef, spec *protocol.Spawn, out Outbox) (*protocol.Spawned, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.npcs[ref] = &standInNPC{out: out, persona: spec.Persona, actions: make(map[string]string)}
	return &protocol.Spawned{Persona: spec.Persona, Tree: spec.Tree, Actions: spec.Actions}, nil
}

func (s *StandIn) Despawn(ref NPCRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.npcs[ref]; n != nil && n.speaking != nil {
		n.speaking.done = true // no final say: the NPC is gone
	}
	delete(s.npcs, ref)
}

func (s *StandIn) World(session string, w *protocol.World) error { return nil }

func (s *StandIn) Perceive(ref NPCRef, p *protocol.Perceive) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.npc(ref)
	if err != nil {
		return err
	}
	n.perceived++
	return nil
}

// npc returns ref's state; s.mu must be held.
func (s *StandIn) npc(ref NPCRef) (*standInNPC, error) {
	n := s.npcs[ref]
	if n == nil {
		return nil, protocol.Errorf(protocol.CodeUnknownNPC, "npc %q is not spawned", ref.NPC)
	}
	return n, nil
}

func (s *StandIn) PlayerSay(ref NPCRef, requestID string, p *protocol.PlayerSay) error {
	s.mu.Lock()
	n, err := s.npc(ref)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	n.nextID++
	uttID := fmt.Sprintf("u%d", n.nextID)
	n.nextID++
	actID := fmt.Sprintf("a%d", n.nextID)
	s.mu.Unlock()

	job := func() { s.reply(ref, requestID, uttID, actID, p) }
	select {
	case s.jobs <- job:
		return nil
	default:
		return protocol.Errorf(protocol.CodeOverloaded, "stand-in reply queue full")
	}
}

// reply sends the decision and act at once, then streams the say.
func (s *StandIn) reply(ref NPCRef, requestID, uttID, actID string, p *protocol.PlayerSay) {
	ans := standInAnswer(p.Text)
	act := &protocol.Act{ActionID: actID, Name: ans.action}
	target := ""
	if ans.action == "follow" || ans.action == "trade" {
		target = p.Speaker
		act.Args = protocol.Args{"target": p.Speaker}
	}
	s.mu.Lock()
	n := s.npcs[ref]
	if n == nil || s.closed {
		s.mu.Unlock()
		return
	}
	n.endUtterance(ref) // a new line cuts the old one short
	u := &standInUtterance{id: uttID, requestID: requestID}
	n.speaking = u
	n.actions[actID] = ""
	n.out.Send(ref.NPC, requestID, &protocol.Decision{
		Emotion: ans.emotion, Action: ans.action, Target: target, Say: ans.text, UtteranceID: uttID,
		Stats: &protocol.DecisionStats{Fallback: true},
	})
	n.out.Send(ref.NPC, requestID, act)
	s.mu.Unlock()
	s.stream(ref, u, splitDeltas(ans.text, 4), 0)
}

// endUtterance sends the final say of the open utterance, if any, with what
// was said so far; StandIn.mu must be held.
func (n *standInNPC) endUtterance(ref NPCRef) {
	u := n.speaking
	if u == nil {
		return
	}
	n.speaking = nil
	if !u.done {
		u.done = true
		n.out.Send(ref.NPC, u.requestID, &protocol.Say{UtteranceID: u.id, Final: true, Text: u.sent})
	}
}

// stream sends deltas[i:] of u, then the final say. With a delay it sends one
// delta and schedules the rest on a timer, holding no goroutine while it
// waits. It stops when u has been ended by someone else.
func (s *StandIn) stream(ref NPCRef, u *standInUtterance, deltas []string, i int) {
	for ; ; i++ {
		s.mu.Lock()
		n := s.npcs[ref]
		if n == nil || s.closed || u.done {
			s.mu.Unlock()
			return
		}
		if i == len(deltas) {
			n.endUtterance(ref)
			s.mu.Unlock()
			return
		}
		n.out.Send(ref.NPC, u.requestID, &protocol.Say{UtteranceID: u.id, Delta: deltas[i]})
		u.sent += deltas[i]
		s.mu.Unlock()
		if s.delay > 0 {
			next := i + 1
			// The timer's goroutine exits after queueing the next step, or
			// after running it itself if the queue is full.
			time.AfterFunc(s.delay, func() {
				step := func() { s.stream(ref, u, deltas, next) }
				select {
				case s.jobs <- step:
				case <-s.done:
				default:
					step()
				}
			})
			return
		}
	}
}

func (s *StandIn) Interrupt(ref NPCRef, i *protocol.Interrupt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.npc(ref)
	if err != nil {
		return err
	}
	n.endUtterance(ref)
	return nil
}

func (s *StandIn) ActionStatus(ref NPCRef, st *protocol.ActionStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.npc(ref)
	if err != nil {
		return err
	}
	prev, ok := n.actions[st.ActionID]
	if !ok || prev == protocol.StatusSuccess || prev == protocol.StatusFailure {
		return protocol.Errorf(protocol.CodeUnknownAction, "npc %q runs no action %q", ref.NPC, st.ActionID)
	}
	n.actions[st.ActionID] = st.Status
	return nil
}

// ActionStatusOf returns the last status reported for an NPC's action, and
// whether the action exists; for tests and tools.
func (s *StandIn) ActionStatusOf(ref NPCRef, actionID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.npcs[ref]
	if n == nil {
		return "", false
	}
	st, ok := n.actions[actionID]
	return st, ok
}

// Spawned reports whether ref is spawned in the stand-in; for tests.
func (s *StandIn) Spawned(ref NPCRef) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.npcs[ref] != nil
}
