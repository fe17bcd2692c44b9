package memory

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anima-rt/anima/npc/persona"
)

// Kind is what a memory entry records.
type Kind uint8

// Entry kinds.
const (
	Observation Kind = iota + 1 // something perceived
	Said                        // something the NPC said
	Did                         // something the NPC did
	Reflection                  // a conclusion the NPC drew
	Summary                     // older entries folded by compaction
)

func (k Kind) String() string {
	switch k {
	case Observation:
		return "observation"
	case Said:
		return "said"
	case Did:
		return "did"
	case Reflection:
		return "reflection"
	case Summary:
		return "summary"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MaxTextBytes bounds one entry's text; longer text is cut (a documented
// clamp: memory lines go into every prompt).
const MaxTextBytes = 600

// MaxEntities bounds the entity ids one entry names.
const MaxEntities = 8

// Entry is one memory.
type Entry struct {
	Seq        uint64    `json:"seq"`  // unique and increasing within a stream; ties in retrieval break on it
	Time       time.Time `json:"time"` // when it happened; a summary's is its latest member's
	Kind       Kind      `json:"kind"`
	Importance int       `json:"imp"` // 1 (mundane) … 10 (life-changing)
	Text       string    `json:"text"`
	Entities   []string  `json:"ents,omitempty"` // ids involved, the actor first
	// Topic groups entries for compaction: the event kind ("gift"), or
	// "said"/"did"; Actor and Item refine the group.
	Topic string `json:"topic,omitempty"`
	Actor string `json:"actor,omitempty"`
	Item  string `json:"item,omitempty"`
	Count int    `json:"count,omitempty"` // entries a summary stands for

	tokens []string // lexical terms of Text, for relevance; not stored
}

// Relation is how the NPC feels about another entity. Both values are in
// [-1, 1]; 0 is neutral.
type Relation struct {
	Trust    float64 `json:"trust"`
	Affinity float64 `json:"affinity"`
}

// Config sets a stream's bounds and retrieval weights. The zero value of a
// field means its default (see DefaultConfig).
type Config struct {
	Cap          int           // most entries kept; compaction keeps it (default 256)
	LowWater     int           // compaction folds down to this many (default 3/4 of Cap)
	KeepRecent   int           // newest entries compaction never touches (default 32)
	FoldBelow    int           // entries less important than this may be folded (default 7)
	MaxRelations int           // most relationships kept (default 256)
	HalfLife     time.Duration // recency halves every HalfLife (default 1h)
	// Retrieval weights of recency, importance and relevance (default 1
	// each; Generative Agents weighs them equally).
	WRecency, WImportance, WRelevance float64
	// Sticky is added to the score of entries in the previous digest, so
	// that the digest (and the prompt prefix after it) changes only when
	// something clearly more relevant comes along (default 0.15).
	Sticky float64
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Cap <= 0 {
		c.Cap = 256
	}
	c.Cap = max(c.Cap, 8)
	if c.LowWater <= 0 || c.LowWater >= c.Cap {
		c.LowWater = c.Cap * 3 / 4
	}
	if c.KeepRecent <= 0 {
		c.KeepRecent = 32
	}
	c.KeepRecent = min(c.KeepRecent, c.LowWater/2)
	if c.FoldBelow <= 0 {
		c.FoldBelow = 7
	}
	if c.MaxRelations <= 0 {
		c.MaxRelations = 256
	}
	if c.HalfLife <= 0 {
		c.HalfLife = time.Hour
	}
	if c.WRecency == 0 && c.WImportance == 0 && c.WRelevance == 0 {
		c.WRecency, c.WImportance, c.WRelevance = 1, 1, 1
	}
	if c.Sticky == 0 {
		c.Sticky = 0.15
	}
	return c
}

// Stream is one NPC's memory: its entries, its relationships, and the
// changes not yet persisted. It is owned by one goroutine (the one that runs
// the NPC's mind) and is not safe for concurrent use.
type Stream struct {
	cfg       Config
	entries   []Entry // in Seq order; len ≤ cfg.Cap
	next      uint64  // Seq of the next entry
	rel       map[string]Relation
	digest    map[uint64]bool // Seqs of the previous digest
	forgotten int             // entries dropped (not folded) by compaction

	// Changes since the last TakeChanges: puts and deletes are disjoint.
	puts    map[uint64]Entry
	dels    map[uint64]bool
	relDirt map[string]bool
}

// New returns an empty stream.
func New(cfg Config) *Stream {
	return &Stream{cfg: cfg.withDefaults(), next: 1, rel: map[string]Relation{},
		puts: map[uint64]Entry{}, dels: map[uint64]bool{}, relDirt: map[string]bool{}}
}

// Len returns the number of entries.
func (s *Stream) Len() int { return len(s.entries) }

// Entries returns a copy of the entries, oldest first.
func (s *Stream) Entries() []Entry {
	out := slices.Clone(s.entries)
	for i := range out {
		out[i].tokens = nil
		out[i].Entities = slices.Clone(out[i].Entities)
	}
	return out
}

// Forgotten returns how many entries compaction dropped outright because
// folding alone could not keep the stream under its cap.
func (s *Stream) Forgotten() int { return s.forgotten }

// Add appends an entry, assigning its Seq, clamping its importance to
// [1, 10] and its text to MaxTextBytes, and compacting if the stream is
// over its cap. It returns the entry as stored.
func (s *Stream) Add(e Entry) Entry {
	e.Seq = s.next
	s.next++
	e = clampEntry(e)
	s.entries = append(s.entries, e)
	s.put(e)
	if len(s.entries) > s.cfg.Cap {
		s.compact()
	}
	e.tokens = nil
	return e
}

func clampEntry(e Entry) Entry {
	e.Importance = min(max(e.Importance, 1), 10)
	if e.Kind < Observation || e.Kind > Summary {
		e.Kind = Observation
	}
	e.Text = cut(e.Text, MaxTextBytes)
	if len(e.Entities) > MaxEntities {
		e.Entities = e.Entities[:MaxEntities]
	}
	e.Entities = slices.Clone(e.Entities)
	e.Topic, e.Actor, e.Item = cut(e.Topic, 64), cut(e.Actor, 64), cut(e.Item, 128)
	e.tokens = terms(e.Text)
	return e
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut.
func cut(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	const mark = "…"
	i := n - len(mark)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + mark
}

func (s *Stream) put(e Entry) {
	delete(s.dels, e.Seq)
	e.tokens = nil
	s.puts[e.Seq] = e
}

func (s *Stream) del(seq uint64) {
	delete(s.puts, seq)
	s.dels[seq] = true
}

// Relation returns the NPC's feeling toward id; for an id it has none for,
// the default for its kind (seeded with SeedRelations) when kind is given.
func (s *Stream) Relation(id, kind string) (Relation, bool) {
	if r, ok := s.rel[id]; ok {
		return r, true
	}
	if kind != "" {
		r, ok := s.rel[kindKey(kind)]
		return r, ok
	}
	return Relation{}, false
}

// Relations returns a copy of all relationships, by entity id ("kind:player"
// for a kind's default).
func (s *Stream) Relations() map[string]Relation {
	out := make(map[string]Relation, len(s.rel))
	for k, v := range s.rel {
		out[k] = v
	}
	return out
}

func kindKey(kind string) string { return "kind:" + kind }

// SeedRelations sets the starting relationships a persona file gives, for
// those the stream does not have yet (so a respawn keeps what was learned).
// A relationship with a persona is keyed by the persona's id; one with a
// kind by "kind:<kind>".
func (s *Stream) SeedRelations(rels []persona.Relationship) {
	for _, r := range rels {
		key := r.With
		if r.Kind != "" {
			key = kindKey(r.Kind)
		}
		if _, ok := s.rel[key]; !ok {
			s.setRelation(key, Relation{Trust: r.Trust, Affinity: r.Affinity})
		}
	}
}

// Nudge moves the relationship with id by the deltas, starting from the
// default for kind (or neutral), clamping both values to [-1, 1], and
// returns the result.
func (s *Stream) Nudge(id, kind string, dTrust, dAffinity float64) Relation {
	r, _ := s.Relation(id, kind)
	r.Trust = clamp1(r.Trust + dTrust)
	r.Affinity = clamp1(r.Affinity + dAffinity)
	s.setRelation(id, r)
	return r
}

func clamp1(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return min(max(x, -1), 1)
}

// setRelation stores r, evicting the most neutral other relationship when
// the stream already holds MaxRelations (kind defaults are never evicted).
func (s *Stream) setRelation(id string, r Relation) {
	if _, ok := s.rel[id]; !ok && len(s.rel) >= s.cfg.MaxRelations {
		victim, least := "", math.Inf(1)
		for k, v := range s.rel {
			if strings.HasPrefix(k, "kind:") {
				continue
			}
			w := math.Abs(v.Trust) + math.Abs(v.Affinity)
			if w < least || w == least && k < victim {
				victim, least = k, w
			}
		}
		if victim == "" {
			return
		}
		delete(s.rel, victim)
		s.relDirt[victim] = true
	}
	s.rel[id] = Relation{Trust: clamp1(r.Trust), Affinity: clamp1(r.Affinity)}
	s.relDirt[id] = true
}

// Changes are a stream's unsaved changes, for Store.Save.
type Changes struct {
	Put       []Entry             // entries added or replaced, by Seq
	Delete    []uint64            // Seqs removed
	Relations map[string]Relation // relationships set
	Forget    []string            // relationships removed
	Next      uint64              // the stream's next Seq
}

// Empty reports whether there is nothing to save.
func (c *Changes) Empty() bool {
	return len(c.Put) == 0 && len(c.Delete) == 0 && len(c.Relations) == 0 && len(c.Forget) == 0
}

// TakeChanges returns the changes since the last call and forgets them.
// Puts and deletes come sorted by Seq, relationships by id, so that saving
// is deterministic.
func (s *Stream) TakeChanges() Changes {
	c := Changes{Next: s.next, Relations: map[string]Relation{}}
	for _, e := range s.puts {
		c.Put = append(c.Put, e)
	}
	slices.SortFunc(c.Put, func(a, b Entry) int { return cmpU64(a.Seq, b.Seq) })
	for seq := range s.dels {
		c.Delete = append(c.Delete, seq)
	}
	slices.Sort(c.Delete)
	for id := range s.relDirt {
		if r, ok := s.rel[id]; ok {
			c.Relations[id] = r
		} else {
			c.Forget = append(c.Forget, id)
		}
	}
	slices.Sort(c.Forget)
	clear(s.puts)
	clear(s.dels)
	clear(s.relDirt)
	return c
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
