package perception

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/protocol"
)

// Config sets a working set's identity and bounds. Zero fields take the
// defaults named on each.
type Config struct {
	SelfID   string // the NPC's id: events targeting it are "to self"
	SelfName string // its name: speech naming it is addressed to it
	// MaxEntities is the most entities kept; beyond it the nearest are kept
	// and the rest dropped and counted (default 32).
	MaxEntities int
	// PromptEntities is the most entities a stimulus shows (default 6):
	// those the pending events and speech involve, always, then the
	// nearest. Each costs ~10 prompt tokens in every think, and the
	// embedded model was trained on scenes of at most four: a crowd of 20
	// in [Seen] tripled the prompt and put it outside what it learnt.
	PromptEntities int
	// Expire is how long an entity stays without being perceived again
	// (default 10s).
	Expire time.Duration
	// MaxPending bounds events held until the NPC next thinks; the oldest
	// go first (default 32).
	MaxPending int
	// MaxItems bounds the table of item ids (default 128).
	MaxItems int
	// UnitsPerMeter converts game units to the metres a prompt shows
	// (default 1).
	UnitsPerMeter float64
	// MaxHealth, when set, turns self health into a condition ("wounded").
	MaxHealth float64
	// Places maps a place's name (lower case) or id to its prompt id, so
	// that a self location the world knows is shown as its id.
	Places map[string]string
	// Snapshot makes each perceive that lists entities replace the
	// picture: an entity absent from it is gone. Without it, perceives are
	// deltas, as PROTOCOL.md §4.5 documents (see the package doc).
	Snapshot bool
}

func (c Config) withDefaults() Config {
	if c.MaxEntities <= 0 {
		c.MaxEntities = 32
	}
	if c.PromptEntities <= 0 {
		c.PromptEntities = 6
	}
	if c.Expire <= 0 {
		c.Expire = 10 * time.Second
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 32
	}
	if c.MaxItems <= 0 {
		c.MaxItems = 128
	}
	if !(c.UnitsPerMeter > 0) || math.IsInf(c.UnitsPerMeter, 0) {
		c.UnitsPerMeter = 1
	}
	return c
}

// Tracked is an entity in the working set.
type Tracked struct {
	ID, Kind, Name, Relation string
	Pos                      protocol.Vec
	HasPos                   bool // false when the game sent a non-finite position
	FirstSeen, LastSeen      time.Time
}

// SelfState is the NPC's own state as last perceived.
type SelfState struct {
	Pos       protocol.Vec
	Location  string
	Status    string
	Health    float64
	Inventory []string
	Time      string // the game clock as the game words it
}

// Counters count what the working set clamped or dropped, for metrics.
type Counters struct {
	Dropped       int // entities dropped because more than MaxEntities were around
	Rejected      int // entities refused: missing or over-long id
	Clamped       int // non-finite or huge positions and health clamped
	Truncated     int // over-long names and texts cut
	Expired       int // entities removed for not being perceived within Expire
	EventsDropped int // events beyond a perceive's bound or the pending queue
	Echoed        int // speech events repeating a player_say already heard
}

// WorkingSet is one NPC's picture of what is around it, built from perceive
// deltas, and the events it has not yet thought about. It is owned by the
// NPC's goroutine and not safe for concurrent use. Time is passed in.
type WorkingSet struct {
	cfg      Config
	self     SelfState
	ents     map[string]*Tracked
	pending  []Event
	items    map[string]string // item name → prompt id
	nextItem int
	c        Counters
	heard    []heardLine // the last player_say lines, newest last
	// nextExpire is no later than the first moment an entity can expire
	// (the least LastSeen + Expire), so that expire, run on every
	// perceive, walks the map only when one may have; zero: unknown.
	nextExpire time.Time
}

// heardLine is a line taken by Hear. A game that also reports that line as
// a speech event in its next perceive (so that the NPCs around hear it)
// reaches the addressed NPC twice; the copy is dropped, or the NPC would
// take it for a second address and cut its own answer short.
type heardLine struct {
	actor, text string
	at          time.Time
}

// maxHeard bounds the remembered player_say lines; echoWindow is how long
// after a player_say its copy in a perceive is recognised.
const (
	maxHeard   = 8
	echoWindow = 10 * time.Second
)

// echo reports whether a speech event repeats a recent player_say.
func (w *WorkingSet) echo(ev *Event) bool {
	for i := len(w.heard) - 1; i >= 0; i-- {
		h := w.heard[i]
		if h.actor == ev.Actor && h.text == ev.Text && ev.Time.Sub(h.at) <= echoWindow {
			w.heard = append(w.heard[:i], w.heard[i+1:]...) // one copy per line
			return true
		}
	}
	return false
}

// New returns an empty working set.
func New(cfg Config) *WorkingSet {
	return &WorkingSet{cfg: cfg.withDefaults(), ents: map[string]*Tracked{}, items: map[string]string{}, nextItem: 1}
}

// Counters returns the counts so far.
func (w *WorkingSet) Counters() Counters { return w.c }

// Self returns the NPC's own state.
func (w *WorkingSet) Self() SelfState { return w.self }

// Entity returns the tracked entity id.
func (w *WorkingSet) Entity(id string) (Tracked, bool) {
	t, ok := w.ents[id]
	if !ok {
		return Tracked{}, false
	}
	return *t, true
}

// Bounds on text taken from outside (the protocol layer checks the same;
// this is defence in depth, as clamps rather than errors).
const (
	maxID   = protocol.MaxIDBytes
	maxName = protocol.MaxNameBytes
	maxText = protocol.MaxTextBytes
)

func (w *WorkingSet) text(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	w.c.Truncated++
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// vec clamps a position: coordinates beyond ±protocol.MaxCoordinate are
// clamped to it; a NaN or infinite one makes the position unknown (ok
// false), since no clamp of it means anything.
func (w *WorkingSet) vec(v protocol.Vec) (protocol.Vec, bool) {
	ok := true
	for _, c := range []*float64{&v.X, &v.Y, &v.Z} {
		switch {
		case math.IsNaN(*c) || math.IsInf(*c, 0):
			ok = false
		case *c > protocol.MaxCoordinate:
			*c = protocol.MaxCoordinate
			w.c.Clamped++
		case *c < -protocol.MaxCoordinate:
			*c = -protocol.MaxCoordinate
			w.c.Clamped++
		}
	}
	if !ok {
		w.c.Clamped++
		return protocol.Vec{}, false
	}
	return v, true
}

// Apply takes one perceive at time now and returns its events, normalized,
// in order; they are also queued for the next Stimulus. Delta semantics:
// an entity present is inserted or updated; one named by a "left" event is
// removed; one not perceived for Config.Expire is removed (silently). A
// first sighting without its own "appeared" event yields one. Self state
// fields replace the previous ones when given; a non-finite self position
// keeps the previous position.
func (w *WorkingSet) Apply(now time.Time, p *protocol.Perceive) []Event {
	w.expire(now)
	s := p.Self
	if pos, ok := w.vec(s.Position); ok {
		w.self.Pos = pos
	}
	if s.Location != "" {
		w.self.Location = w.text(s.Location, maxName)
	}
	if s.Status != "" {
		w.self.Status = w.text(s.Status, maxName)
	}
	if math.IsNaN(s.Health) || math.IsInf(s.Health, 0) {
		w.c.Clamped++
	} else if s.Health != 0 {
		w.self.Health = s.Health
	}
	if s.Inventory != nil {
		inv := s.Inventory[:min(len(s.Inventory), protocol.MaxListItems)]
		w.self.Inventory = w.self.Inventory[:0]
		for _, it := range inv {
			w.self.Inventory = append(w.self.Inventory, w.text(it, maxName))
		}
	}
	var evs []Event
	if p.Time != "" {
		t := w.text(p.Time, maxName)
		if w.self.Time != "" && t != w.self.Time {
			evs = append(evs, Event{Time: now, Kind: TimeOfDay, Text: t})
		}
		w.self.Time = t
	}
	explicit := map[string]bool{}
	for _, e := range p.Events {
		if Normalize(e.Kind) == Appeared {
			explicit[e.Source] = true
		}
	}
	var present map[string]bool
	if w.cfg.Snapshot && len(p.Entities) > 0 {
		present = map[string]bool{}
	}
	ents := p.Entities
	if len(ents) > protocol.MaxEntities*4 {
		w.c.Dropped += len(ents) - protocol.MaxEntities*4
		ents = ents[:protocol.MaxEntities*4]
	}
	for _, e := range ents {
		if e.ID == "" || len(e.ID) > maxID || !utf8.ValidString(e.ID) || e.ID == w.cfg.SelfID {
			w.c.Rejected++
			continue
		}
		t := w.ents[e.ID]
		if t == nil {
			t = &Tracked{ID: e.ID, FirstSeen: now}
			w.ents[e.ID] = t
			if !explicit[e.ID] {
				evs = append(evs, Event{Time: now, Kind: Appeared, Actor: e.ID})
			}
		}
		if e.Kind != "" {
			t.Kind = normalizeKind(w.text(e.Kind, maxName))
		}
		if e.Name != "" {
			t.Name = w.text(e.Name, maxName)
		}
		if e.Relation != "" {
			t.Relation = w.text(e.Relation, maxName)
		}
		t.Pos, t.HasPos = w.vec(e.Position)
		t.LastSeen = now
		if exp := now.Add(w.cfg.Expire); w.nextExpire.IsZero() || exp.Before(w.nextExpire) {
			w.nextExpire = exp
		}
		if present != nil {
			present[e.ID] = true
		}
	}
	if present != nil {
		for _, id := range w.sortedIDs() {
			if !present[id] {
				delete(w.ents, id)
				evs = append(evs, Event{Time: now, Kind: Left, Actor: id})
			}
		}
	}
	in := p.Events
	if len(in) > protocol.MaxEvents {
		w.c.EventsDropped += len(in) - protocol.MaxEvents
		in = in[:protocol.MaxEvents]
	}
	for _, e := range in {
		ev := Event{Time: now, Kind: Normalize(w.text(e.Kind, maxName)), Actor: w.text(e.Source, maxID),
			Target: w.text(e.Target, maxID), Text: w.text(e.Text, maxText), Item: w.text(e.Item, maxName)}
		if ev.Target == w.cfg.SelfID {
			ev.Target = ""
		}
		if ev.Kind == Speech && w.echo(&ev) {
			w.c.Echoed++
			continue
		}
		if ev.Kind == Speech && (ev.Target == "" && e.Target != "" || w.names(ev.Text)) {
			ev.Addressed = true
		}
		if ev.Kind == TimeOfDay && ev.Text != "" {
			w.self.Time = w.text(ev.Text, maxName)
		}
		evs = append(evs, ev)
	}
	// Name events before a departure removes who they name.
	for i := range evs {
		w.describe(&evs[i])
	}
	for _, ev := range evs {
		if ev.Kind == Left && ev.Actor != "" {
			delete(w.ents, ev.Actor)
		}
	}
	w.bound()
	w.queue(evs)
	return evs
}

// Hear takes a player_say: always speech addressed to this NPC.
func (w *WorkingSet) Hear(now time.Time, m *protocol.PlayerSay) Event {
	ev := Event{Time: now, Kind: Speech, Actor: w.text(m.Speaker, maxID), ActorKind: npc.KindPlayer,
		Text: w.text(m.Text, maxText), Addressed: true}
	w.describe(&ev)
	if m.Name != "" {
		ev.ActorName = w.text(m.Name, maxName)
	}
	if ev.ActorKind == "" {
		ev.ActorKind = npc.KindPlayer
	}
	w.heard = append(w.heard, heardLine{actor: ev.Actor, text: ev.Text, at: now})
	if len(w.heard) > maxHeard {
		w.heard = w.heard[1:]
	}
	w.queue([]Event{ev})
	return ev
}

// names reports whether text names this NPC (as a word, any case).
func (w *WorkingSet) names(text string) bool {
	n := w.cfg.SelfName
	if utf8.RuneCountInString(n) < 2 {
		return false
	}
	return npc.MentionsName(text, n)
}

// describe fills the names and kinds an event's ids have in the working set.
func (w *WorkingSet) describe(ev *Event) {
	if t := w.ents[ev.Actor]; t != nil {
		if ev.ActorName == "" {
			ev.ActorName = t.Name
		}
		ev.ActorKind = t.Kind
	}
	if t := w.ents[ev.Target]; t != nil && ev.TargetName == "" {
		ev.TargetName = t.Name
	}
	if ev.Item != "" {
		ev.ItemID = w.ItemID(ev.Item)
	}
}

func (w *WorkingSet) queue(evs []Event) {
	w.pending = append(w.pending, evs...)
	if over := len(w.pending) - w.cfg.MaxPending; over > 0 {
		w.c.EventsDropped += over
		w.pending = slices.Delete(w.pending, 0, over)
	}
}

func (w *WorkingSet) expire(now time.Time) {
	if len(w.ents) == 0 || !w.nextExpire.IsZero() && !now.After(w.nextExpire) {
		return // nothing can have expired yet
	}
	w.nextExpire = time.Time{}
	for id, t := range w.ents {
		exp := t.LastSeen.Add(w.cfg.Expire)
		if now.After(exp) {
			delete(w.ents, id)
			w.c.Expired++
		} else if w.nextExpire.IsZero() || exp.Before(w.nextExpire) {
			w.nextExpire = exp
		}
	}
}

// bound keeps the MaxEntities nearest (entities of unknown position count
// as farthest; ties by id).
func (w *WorkingSet) bound() {
	over := len(w.ents) - w.cfg.MaxEntities
	if over <= 0 {
		return
	}
	all := w.sorted()
	for _, t := range all[w.cfg.MaxEntities:] {
		delete(w.ents, t.ID)
	}
	w.c.Dropped += over
}

func (w *WorkingSet) sortedIDs() []string {
	ids := make([]string, 0, len(w.ents))
	for id := range w.ents {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// sorted returns the entities nearest first, then by id.
func (w *WorkingSet) sorted() []*Tracked {
	all := make([]*Tracked, 0, len(w.ents))
	for _, t := range w.ents {
		all = append(all, t)
	}
	slices.SortFunc(all, func(a, b *Tracked) int {
		da, db := w.dist(a), w.dist(b)
		switch {
		case da < db:
			return -1
		case da > db:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return all
}

func (w *WorkingSet) dist(t *Tracked) float64 {
	if !t.HasPos {
		return math.Inf(1)
	}
	dx, dy, dz := t.Pos.X-w.self.Pos.X, t.Pos.Y-w.self.Pos.Y, t.Pos.Z-w.self.Pos.Z
	return math.Sqrt(dx*dx+dy*dy+dz*dz) / w.cfg.UnitsPerMeter
}

// Entities returns what is around at now (after expiry), nearest first.
func (w *WorkingSet) Entities(now time.Time) []Tracked {
	w.expire(now)
	all := w.sorted()
	out := make([]Tracked, len(all))
	for i, t := range all {
		out[i] = *t
	}
	return out
}

// Pending returns the events not yet taken by Stimulus.
func (w *WorkingSet) Pending() []Event { return slices.Clone(w.pending) }

// ItemID returns the prompt id of an item name ("i1", "i2", …), stable for
// the working set's life so that prompts stay cacheable. When the table is
// full it keeps only the items carried now; ids are never reused.
func (w *WorkingSet) ItemID(name string) string {
	if id, ok := w.items[name]; ok {
		return id
	}
	if len(w.items) >= w.cfg.MaxItems {
		keep := map[string]string{}
		for _, n := range w.self.Inventory {
			if id, ok := w.items[n]; ok {
				keep[n] = id
			}
		}
		w.items = keep
	}
	id := fmt.Sprintf("i%d", w.nextItem)
	w.nextItem++
	w.items[name] = id
	return id
}

// kinds is logically constant: the game's words for the renderer's kinds.
var kinds = map[string]string{
	"player": npc.KindPlayer, "npc": npc.KindNPC, "villager": npc.KindNPC, "character": npc.KindNPC,
	"creature": npc.KindCreature, "monster": npc.KindCreature, "animal": npc.KindCreature, "beast": npc.KindCreature,
	"item": npc.KindItem, "object": npc.KindObject, "prop": npc.KindObject,
}

func normalizeKind(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	if c, ok := kinds[k]; ok {
		return c
	}
	return k
}

// calmArrival reports whether id is a player or NPC the NPC does not hold
// hostile: its arrival is news only when nothing else is going on.
func (w *WorkingSet) calmArrival(id string) bool {
	t := w.ents[id]
	if t == nil {
		return false
	}
	switch strings.ToLower(t.Relation) {
	case "enemy", "hostile", "rival":
		return false
	}
	return t.Kind == npc.KindPlayer || t.Kind == npc.KindNPC || t.Kind == ""
}

// Stimulus returns what the NPC perceives at now as the renderer's input,
// and takes the pending events: entities nearest first with distances in
// metres, events worded by kind, speech quoted under [Heard] (the renderer
// quotes it; it never becomes instructions), the time of day, and self
// state with carried items under stable ids.
func (w *WorkingSet) Stimulus(now time.Time) npc.Stimulus {
	w.expire(now)
	st := npc.Stimulus{Time: w.self.Time}
	st.Self.Place = w.self.Location
	if id, ok := w.cfg.Places[strings.ToLower(w.self.Location)]; ok {
		st.Self.Place = id
	}
	st.Self.Activity = w.self.Status
	if w.cfg.MaxHealth > 0 && w.self.Health > 0 {
		switch f := w.self.Health / w.cfg.MaxHealth; {
		case f < 0.3:
			st.Self.Condition = "badly wounded"
		case f < 0.7:
			st.Self.Condition = "wounded"
		}
	}
	for _, it := range w.self.Inventory {
		st.Self.Inventory = append(st.Self.Inventory, npc.Item{ID: w.ItemID(it), Name: it})
	}
	sorted := w.sorted()
	involved := make(map[string]bool, len(w.pending))
	speaks := map[string]bool{}
	for _, ev := range w.pending {
		if ev.Kind == Speech {
			speaks[ev.Actor] = true
		}
		if ev.Kind != Appeared && ev.Kind != Left { // coming into view is not taking part
			involved[ev.Actor], involved[ev.Target] = true, true
		}
	}
	others := w.cfg.PromptEntities
	for _, t := range sorted {
		if involved[t.ID] {
			others--
		}
	}
	for _, t := range sorted {
		if !involved[t.ID] {
			if others <= 0 {
				continue
			}
			others--
		}
		e := npc.Entity{ID: t.ID, Name: t.Name, Kind: t.Kind, Relation: t.Relation}
		if e.Kind == "" {
			e.Kind = npc.KindNPC
		}
		if t.HasPos {
			e.Where = fmt.Sprintf("%d m", int(max(1, math.Round(w.dist(t)))))
		}
		st.Seen = append(st.Seen, e)
	}
	for _, ev := range w.pending {
		switch ev.Kind {
		case Speech:
			st.Heard = append(st.Heard, npc.Utterance{From: ev.Actor, Name: ev.ActorName, Text: ev.Text})
		case TimeOfDay:
			// shown as [Time]
		case Appeared:
			// Not for those still around whom [Seen] leaves out: a crowd
			// walking in would otherwise list every arrival. Nor, while
			// someone speaks, for the speaker or any other player or NPC
			// who is not hostile: the talk is what matters then, and the
			// embedded model learnt arrivals only from scenes without
			// words, where they mean a greeting or danger — "p1 appeared"
			// beside a player's "Hello!" made the NPC flee or call the
			// guard, and so did another NPC walking in. A creature or an
			// enemy arriving is still shown.
			if _, here := w.ents[ev.Actor]; here && !slices.ContainsFunc(st.Seen, func(e npc.Entity) bool { return e.ID == ev.Actor }) {
				continue
			}
			if speaks[ev.Actor] || len(speaks) > 0 && w.calmArrival(ev.Actor) {
				continue
			}
			st.Events = append(st.Events, npc.Event{Kind: ev.Kind, Actor: ev.Actor, Target: ev.Target, Text: ev.Text})
		default:
			ne := npc.Event{Kind: ev.Kind, Actor: ev.Actor, Target: ev.Target, Text: ev.Text}
			if ev.Item != "" {
				ne.Item = &npc.Item{ID: ev.ItemID, Name: ev.Item}
			}
			st.Events = append(st.Events, ne)
		}
	}
	w.pending = w.pending[:0]
	return st
}
