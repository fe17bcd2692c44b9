package village

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/anima-rt/anima/npc/persona"
	"github.com/anima-rt/anima/protocol"
)

// Tunables of the simulation, in tiles and seconds of game time.
const (
	PlayerID        = "player"
	PlayerName      = "Traveller"
	SightRadius     = 8.0  // an NPC perceives entities this close
	InterruptRadius = 12.0 // an NPC talking to a player this far away is cut short
	TalkRadius      = 2.5  // the player can talk to, hit, give to or rob an NPC this close
	PlayerSpeed     = 5.0  // tiles per second
	NPCSpeed        = 3.5
	FleeSpeed       = 6.0
	perceiveEvery   = time.Second // each NPC's picture is refreshed this often
	bubbleHold      = 6 * time.Second
	emoteHold       = 3 * time.Second
	followFor       = 30 * time.Second
	followDistance  = 1.5
)

// Vec is a position in tiles; (x, y) is the centre of tile (x, y).
type Vec struct{ X, Y float64 }

// Tile returns the tile under v.
func (v Vec) Tile() Point { return Point{int(math.Round(v.X)), int(math.Round(v.Y))} }

// Dist is the distance from v to u in tiles.
func (v Vec) Dist(u Vec) float64 { return math.Hypot(v.X-u.X, v.Y-u.Y) }

func vecOf(p Point) Vec { return Vec{float64(p.X), float64(p.Y)} }

// Entity is the player or an NPC.
type Entity struct {
	ID, Name, Kind string // Kind: "player" or "npc"
	Persona        string // persona id, for NPCs
	Role, Tree     string
	Pos            Vec
	Home           Point
	Path           []Point // waypoints left to walk
	Speed          float64
	Inventory      []string
	Health         float64

	// What the player sees over its head; each fades at its Until.
	Emotion      string
	EmotionUntil time.Duration
	Bubble       string // the utterance being spoken, growing with each delta
	BubbleUntil  time.Duration
	Emote        string // what the NPC is doing, in words ("gives bread")
	EmoteUntil   time.Duration

	Action *Running // the act being carried out, if any

	// Designer figures.
	LastDecision string // the last decision, as JSON
	// DecisionShown is LastDecision without the model's raw output, which
	// repeats it escaped (and Korean fonts draw a backslash as ₩).
	DecisionShown string
	AskedAt       time.Time // when the player last spoke to it (wall clock)
	TTFT          time.Duration
	WaitingFirst  bool    // a line was sent and no say delta has come yet
	ModelTTFT     float64 // the decision's own ttft_ms; 0 when not reported
	Reused        int
	ReusedKnown   bool
	TreePath      string // the active tree path ("Sequence > MoveTo"), from tree_path messages
	PathChanges   int    // tree_path messages received
	// Pursued lists the decided actions its tree has run since the
	// player's last line to it (the Action_<name> subtrees seen in its
	// paths, the one running at the line included: a decision to go on
	// with it changes no path): what shows that it acts on what it
	// decided.
	Pursued    []string
	Acts, Says int    // acts received and utterances finished, for tests
	Answers    int    // answers to the player ended: with a final say, or a decision that says nothing
	Errors     int    // error messages the server sent about it
	LastError  string // the last one's text
	LastActID  string // the last act's id
	LastSaid   string // the last final say
	// Statuses counts the action_status messages sent about its acts, by
	// status ("running", "success", "failure").
	Statuses map[string]int

	utterance  string // id of the utterance in Bubble
	reply      int    // 1 + the index in World.Replies of its answer in progress; 0: none
	before     string // the utterance it was speaking when the player last spoke to it
	speaking   bool   // deltas are arriving and the final say has not
	answering  bool   // the player spoke to it and its answer has not ended
	cutOff     bool   // an interrupt was sent for the open utterance
	nextSeeAt  time.Duration
	summonedBy string // an NPC whose call_guard this guard answers
	// superseded are acts a newer act replaced, owed a failure status at
	// the next step unless their cancel comes first; ended the last
	// actions whose final status was sent (a ring, endedAt the oldest);
	// crossed counts statuses that crossed their action's cancel, whose
	// unknown_action answers are expected.
	superseded []string
	ended      [4]string
	endedAt    int
	crossed    int
}

// Running is an act the game is carrying out.
type Running struct {
	ID, Name     string
	Target, Item string
	Place        string // go_to's resolved place name
	Until        time.Duration
	repathAt     time.Duration
}

// Reply is one answer to a line the player said, timed on the wall clock
// (World.Clock): the game's view of an NPC's time to first word.
type Reply struct {
	NPC, Line string
	Sent      time.Time // when Talk queued the line (the frame's Flush sends it)
	// FirstWord is the time from Sent to the first say delta applied to
	// the world, in the Update that polled it (the bubble shows it at the
	// next Draw); 0 until one came, and for an answer without words.
	// Arrived is the time from Sent to that delta's arrival in the game's
	// process (HandleAt's at): FirstWord less the wait for a frame.
	FirstWord, Arrived time.Duration
	Said               string // the final say's text
	Ended              bool   // a final say, or a decision that says nothing
	// From the answer's decision, when it came: the model's own time to
	// first token and its prompt tokens, those reused from the KV cache.
	Decided                    bool
	Action                     string // the action decided
	ModelTTFTMS                float64
	PromptTokens, ReusedTokens int
	Fallback                   bool // no model ran (overload, stand-in)
}

const maxReplies = 4096

// Outgoing is a message for the server about NPC NPC.
type Outgoing struct {
	NPC string
	Msg protocol.Message
}

// World is the game state. It is driven from one goroutine (the game's
// Update): Step advances it, Handle applies a server message, the player's
// methods apply intents, and Drain collects what to send. Nothing in it
// blocks or touches the network.
type World struct {
	Map    *Map
	Now    time.Duration // game clock
	Player *Entity
	NPCs   []*Entity // in spawn order
	Clock  func() time.Time
	Log    []string // recent happenings, newest last, for the screen

	// Replies times every answer to the player's lines, oldest first (at
	// most maxReplies: the oldest are forgotten), for -stats.
	Replies []Reply

	byID    map[string]*Entity
	events  map[string][]protocol.Event // per NPC, not yet perceived
	out     []Outgoing
	rng     *rand.Rand
	statusN int // action_status messages sent, for tests
}

// homes and kits are logically constant: where each Oakvale persona lives
// (a place kind) and what it carries. The lore gives roles; the game gives
// positions and pockets.
var (
	homes = map[string]string{"aldric": "gate", "brannoc": "forge", "hobb": "mill", "maren": "farm",
		"pip": "market", "selka": "inn", "tobin": "well", "wrenna": "healer",
		"deokbae": "inn", "makswe": "forge", "pojol_kim": "gate", "suni": "market"}
	kits = map[string][]string{"aldric": {"whistle", "iron key"}, "brannoc": {"horseshoe", "iron nails"},
		"hobb": {"sack of flour"}, "maren": {"eggs", "barley"}, "pip": {"marble", "wooden sword"},
		"selka": {"ale", "bread"}, "tobin": {"tin cup", "map of the woods"}, "wrenna": {"healing herbs", "salve"},
		"deokbae": {"막걸리", "국밥"}, "makswe": {"호미", "낫"}, "pojol_kim": {"육모방망이"}, "suni": {"공기돌"}}
)

// NewWorld places the player at the square and each persona at its home.
func NewWorld(m *Map, people []*persona.Persona, seed uint64) *World {
	w := &World{Map: m, Clock: time.Now, byID: map[string]*Entity{}, events: map[string][]protocol.Event{},
		rng: rand.New(rand.NewPCG(seed, 1))}
	start, _ := m.Place("market")
	w.Player = &Entity{ID: PlayerID, Name: PlayerName, Kind: "player", Pos: vecOf(start.Spot),
		Speed: PlayerSpeed, Health: 100, Inventory: []string{"copper penny", "copper penny", "bread", "apple"}}
	w.byID[PlayerID] = w.Player
	taken := map[Point]bool{start.Spot: true}
	for i, p := range people {
		home := start.Spot
		if pl, ok := m.Place(homes[p.ID]); ok {
			home = pl.Spot
		}
		// Step aside from the door and from one another.
		for d := 1; taken[home] || !m.At(home).Walkable(); d++ {
			home, _ = m.Nearest(Point{home.X + d%3 - 1, home.Y + d/3})
		}
		taken[home] = true
		e := &Entity{ID: p.ID, Name: p.Name, Kind: "npc", Persona: p.ID, Role: p.Role, Tree: p.Tree,
			Pos: vecOf(home), Home: home, Speed: NPCSpeed, Health: 100,
			Inventory: slices.Clone(kits[p.ID]), nextSeeAt: time.Duration(i) * perceiveEvery / 8}
		w.NPCs = append(w.NPCs, e)
		w.byID[e.ID] = e
	}
	return w
}

// Entity returns the player or NPC with id id.
func (w *World) Entity(id string) *Entity { return w.byID[id] }

// Drain returns the messages queued for the server and forgets them.
func (w *World) Drain() []Outgoing {
	out := w.out
	w.out = nil
	return out
}

func (w *World) send(npc string, m protocol.Message) { w.out = append(w.out, Outgoing{npc, m}) }

func (w *World) logf(format string, args ...any) {
	w.Log = append(w.Log, fmt.Sprintf(format, args...))
	if len(w.Log) > 8 {
		w.Log = w.Log[len(w.Log)-8:]
	}
}

// NearestNPC returns the NPC closest to the player within TalkRadius.
func (w *World) NearestNPC() *Entity {
	var best *Entity
	for _, n := range w.NPCs {
		d := n.Pos.Dist(w.Player.Pos)
		if d <= TalkRadius && (best == nil || d < best.Pos.Dist(w.Player.Pos)) {
			best = n
		}
	}
	return best
}

// ---- intents ----

// MovePlayer moves the player by (dx, dy) tiles for dt of input, sliding
// along walls; it cancels a walk in progress.
func (w *World) MovePlayer(dx, dy float64, dt time.Duration) {
	p := w.Player
	p.Path = nil
	l := math.Hypot(dx, dy)
	if l == 0 {
		return
	}
	step := p.Speed * dt.Seconds() / l
	try := func(v Vec) {
		if w.Map.At(v.Tile()).Walkable() {
			p.Pos = v
		}
	}
	try(Vec{p.Pos.X + dx*step, p.Pos.Y})
	try(Vec{p.Pos.X, p.Pos.Y + dy*step})
}

// WalkPlayerTo sets the player walking to tile to; false if there is no way.
func (w *World) WalkPlayerTo(to Point) bool {
	path := w.Map.FindPath(w.Player.Pos.Tile(), to)
	if path == nil {
		return false
	}
	w.Player.Path = path
	return true
}

// Talk sends the player's line to NPC id, and lets every other NPC in
// earshot hear it as a speech event. NPC id hears it through the
// player_say alone: the same line again in its perceive would reach its
// mind as a second address, which cuts the answer short.
func (w *World) Talk(id, text string) error {
	n := w.byID[id]
	if n == nil || n.Kind != "npc" {
		return fmt.Errorf("village: talk: no NPC %q", id)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return fmt.Errorf("village: talk: empty line")
	}
	w.Player.Bubble, w.Player.BubbleUntil = text, w.Now+bubbleHold
	n.AskedAt, n.WaitingFirst, n.answering = w.Clock(), true, true
	n.before = ""
	if n.speaking {
		n.before = n.utterance
	}
	n.Pursued = n.Pursued[:0]
	n.pursue(strings.Split(n.TreePath, " > "))
	if len(w.Replies) == maxReplies {
		w.Replies = slices.Delete(w.Replies, 0, maxReplies/2)
		for _, o := range w.NPCs {
			o.reply = max(0, o.reply-maxReplies/2)
		}
	}
	w.Replies = append(w.Replies, Reply{NPC: id, Line: text, Sent: n.AskedAt})
	n.reply = len(w.Replies)
	w.hear(protocol.Event{Kind: "speech", Source: PlayerID, Target: id, Text: text}, w.Player.Pos, "", id)
	w.send(id, &protocol.PlayerSay{Speaker: PlayerID, Name: PlayerName, Text: text})
	w.logf("you to %s: %s", n.Name, text)
	return nil
}

// Deed is something the player does to the nearest NPC: "attack", "give"
// or "steal". Every NPC in sight of it perceives it as an event. It returns
// what happened, in words.
func (w *World) Deed(kind string) (string, error) {
	n := w.NearestNPC()
	if n == nil {
		return "", fmt.Errorf("village: %s: nobody within reach", kind)
	}
	ev := protocol.Event{Kind: kind, Source: PlayerID, Target: n.ID}
	var said string
	switch kind {
	case "attack":
		n.Health = max(0, n.Health-10)
		said = fmt.Sprintf("you hit %s", n.Name)
	case "give":
		if len(w.Player.Inventory) == 0 {
			return "", fmt.Errorf("village: give: your pockets are empty")
		}
		ev.Item = w.Player.Inventory[0]
		w.Player.Inventory = w.Player.Inventory[1:]
		n.Inventory = append(n.Inventory, ev.Item)
		said = fmt.Sprintf("you give %s a %s", n.Name, ev.Item)
	case "steal":
		if len(n.Inventory) == 0 {
			return "", fmt.Errorf("village: steal: %s carries nothing", n.Name)
		}
		ev.Item = n.Inventory[len(n.Inventory)-1]
		n.Inventory = n.Inventory[:len(n.Inventory)-1]
		w.Player.Inventory = append(w.Player.Inventory, ev.Item)
		said = fmt.Sprintf("you steal a %s from %s", ev.Item, n.Name)
	default:
		return "", fmt.Errorf("village: deed %q: want attack, give or steal", kind)
	}
	w.hear(ev, w.Player.Pos, "")
	w.logf("%s", said)
	return said, nil
}

// hear queues ev for every NPC within SightRadius of where (and for also,
// wherever it is) but those in except, and makes them perceive at once. Witnesses of the
// player's deeds show a "!" until their mind answers, so the player sees
// who noticed.
func (w *World) hear(ev protocol.Event, where Vec, also string, except ...string) {
	for _, n := range w.NPCs {
		if slices.Contains(except, n.ID) {
			continue
		}
		if n.ID == also || n.Pos.Dist(where) <= SightRadius {
			w.events[n.ID] = append(w.events[n.ID], ev)
			n.nextSeeAt = w.Now
			if ev.Source == PlayerID && ev.Kind != "speech" && n.Action == nil {
				n.Emote, n.EmoteUntil = "! saw you "+ev.Kind, w.Now+emoteHold
			}
		}
	}
}

// ---- server messages ----

// Handle applies one server message addressed to NPC env.NPC. Messages for
// NPCs the game does not have are ignored (they race a despawn).
func (w *World) Handle(env protocol.Envelope) { w.HandleAt(env, w.Clock()) }

// HandleAt is Handle for a message that arrived at at (on w.Clock's
// scale), before this frame polled it.
func (w *World) HandleAt(env protocol.Envelope, at time.Time) {
	n := w.byID[env.NPC]
	if n == nil || n.Kind != "npc" {
		return
	}
	switch m := env.Body.(type) {
	case *protocol.Say:
		// An utterance open when the player spoke (one cut short by the
		// line, or a word to a neighbour) is not the answer.
		answer := m.UtteranceID != n.before
		if n.WaitingFirst && answer && (m.Delta != "" || m.Final) {
			n.TTFT, n.WaitingFirst = w.Clock().Sub(n.AskedAt), false
			if r := w.openReply(n); r != nil {
				r.FirstWord, r.Arrived = n.TTFT, at.Sub(n.AskedAt)
			}
		}
		if m.UtteranceID != n.utterance {
			n.utterance, n.Bubble, n.cutOff = m.UtteranceID, "", false
		}
		n.Bubble += m.Delta
		n.speaking = !m.Final
		if m.Final {
			if n.answering && answer {
				n.answering = false
				n.Answers++
				if r := w.openReply(n); r != nil {
					r.Said, r.Ended = m.Text, true
				}
			}
			// Everyone near hears it, so minds can answer one another.
			w.hear(protocol.Event{Kind: "speech", Source: n.ID, Text: m.Text}, n.Pos, "", n.ID)
			n.Bubble = m.Text
			n.Says++
			n.LastSaid = m.Text
			w.logf("%s: %s", n.Name, m.Text)
		}
		n.BubbleUntil = w.Now + bubbleHold
	case *protocol.Decision:
		if b, err := json.Marshal(m); err == nil {
			n.LastDecision = string(b)
		}
		shown := *m
		shown.Raw = ""
		if b, err := json.Marshal(&shown); err == nil {
			n.DecisionShown = string(b)
		}
		if r := w.openReply(n); r != nil && !r.Decided && (n.answering || r.Ended) {
			r.Decided, r.Action = true, m.Action
			if st := m.Stats; st != nil {
				r.ModelTTFTMS, r.PromptTokens, r.ReusedTokens, r.Fallback = st.TTFTMS, st.PromptTokens, st.ReusedTokens, st.Fallback
			}
		}
		if n.answering && m.Say == "" {
			// It chose to say nothing: no final say will end the answer.
			n.answering, n.WaitingFirst = false, false
			n.Answers++
			if r := w.openReply(n); r != nil {
				r.Ended = true
			}
		}
		if m.Emotion != "" {
			n.Emotion, n.EmotionUntil = m.Emotion, w.Now+bubbleHold
		}
		if m.Stats != nil {
			n.ModelTTFT = m.Stats.TTFTMS
			n.Reused, n.ReusedKnown = m.Stats.ReusedTokens, !m.Stats.Fallback
		}
	case *protocol.TreePath:
		n.TreePath = strings.Join(m.Path, " > ")
		if n.TreePath == "" {
			n.TreePath = "(idle)"
		}
		n.PathChanges++
		n.pursue(m.Path)
	case *protocol.Act:
		n.Acts++
		n.LastActID = m.ActionID
		w.start(n, m)
	case *protocol.Cancel:
		// The server withdrew it: stop, and report nothing more.
		if n.Action != nil && n.Action.ID == m.ActionID {
			n.Action, n.Path = nil, nil
		}
		if i := slices.Index(n.superseded, m.ActionID); i >= 0 {
			n.superseded = slices.Delete(n.superseded, i, i+1)
		} else if slices.Contains(n.ended[:], m.ActionID) {
			n.crossed++ // its final status is on its way; the server will not know it
		}
	case *protocol.Error:
		if m.Code == protocol.CodeUnknownAction && n.crossed > 0 {
			n.crossed--
			return
		}
		n.Errors++
		n.LastError = string(m.Code) + ": " + m.Message
		w.logf("server error for %s: %s", n.Name, m.Message)
	}
}

// ActsOnAnswer reports whether NPC id has decided its answer to the
// player's last line to it and its tree runs, or ran, the decided action
// since the line (its tree paths showed Action_<action>; see Pursued):
// what the player sees as the NPC doing what it said.
func (w *World) ActsOnAnswer(id string) bool {
	n := w.byID[id]
	if n == nil {
		return false
	}
	r := w.openReply(n)
	return r != nil && r.Decided && (r.Action == "" || slices.Contains(n.Pursued, r.Action))
}

// AnswerAction is the action of NPC id's decision answering the player's
// last line, and whether that decision came. (Its last decision may be a
// later one, of its own.)
func (w *World) AnswerAction(id string) (string, bool) {
	n := w.byID[id]
	if n == nil {
		return "", false
	}
	r := w.openReply(n)
	if r == nil || !r.Decided {
		return "", false
	}
	return r.Action, true
}

// pursue notes the decided actions (Action_<name> subtrees) in path.
func (n *Entity) pursue(path []string) {
	for _, l := range path {
		if a, ok := strings.CutPrefix(l, "SubTree Action_"); ok && !slices.Contains(n.Pursued, a) {
			n.Pursued = append(n.Pursued, a)
		}
	}
}

// openReply is n's latest answer to the player, if any.
func (w *World) openReply(n *Entity) *Reply {
	if n.reply == 0 || n.reply > len(w.Replies) {
		return nil
	}
	return &w.Replies[n.reply-1]
}

// status reports an action's progress and, when it ended, forgets it.
func (w *World) status(n *Entity, status, reason string) {
	a := n.Action
	if a == nil {
		return
	}
	w.statusN++
	n.count(status)
	w.send(n.ID, &protocol.ActionStatus{ActionID: a.ID, Status: status, Reason: reason})
	if status != protocol.StatusRunning {
		n.ended[n.endedAt], n.endedAt = a.ID, (n.endedAt+1)%len(n.ended)
		n.Action = nil
		if status == protocol.StatusFailure {
			w.logf("%s could not %s: %s", n.Name, a.Name, reason)
		}
	}
}

func (n *Entity) count(status string) {
	if n.Statuses == nil {
		n.Statuses = map[string]int{}
	}
	n.Statuses[status]++
}

// StatusesSent counts action_status messages queued so far.
func (w *World) StatusesSent() int { return w.statusN }

func argString(a protocol.Args, keys ...string) string {
	for _, k := range keys {
		if s, ok := a[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// start begins act a for n: the running status at once, then success or
// failure when it ends. One body does one thing: a new act ends the old one
// as failed.
func (w *World) start(n *Entity, a *protocol.Act) {
	if n.Action != nil {
		// Its failure goes out at the next step: a server whose tree
		// starts the new action before it halts the old one sends the old
		// one's cancel right behind this act, and then nothing is owed.
		n.superseded = append(n.superseded, n.Action.ID)
		n.Action, n.Path = nil, nil
	}
	r := &Running{ID: a.ActionID, Name: a.Name, Target: argString(a.Args, "target", "entity"),
		Item: argString(a.Args, "item")}
	n.Action, n.Path = r, nil
	w.status(n, protocol.StatusRunning, "")
	fail := func(format string, args ...any) { w.status(n, protocol.StatusFailure, fmt.Sprintf(format, args...)) }
	target := w.byID[r.Target]
	switch a.Name {
	case "go_to", "move_to":
		ref := argString(a.Args, "target", "place", "to")
		var to Point
		if pl, ok := w.Map.Place(ref); ok {
			to, r.Place = pl.Spot, pl.Name
		} else if target != nil {
			to, r.Place = target.Pos.Tile(), target.Name
		} else {
			fail("no place or entity %q", ref)
			return
		}
		if !w.walk(n, to) {
			fail("no way to %s", r.Place)
			return
		}
		n.Emote, n.EmoteUntil = "→ "+r.Place, w.Now+followFor
	case "follow", "attack", "give", "trade", "greet", "heal", "warn", "point_to":
		if target == nil && r.Target != "" && a.Name != "point_to" {
			fail("no entity %q", r.Target)
			return
		}
		if target == nil && a.Name == "follow" {
			fail("follow needs a target")
			return
		}
		if a.Name == "give" {
			if i := w.itemIndex(n, r.Item); i < 0 {
				fail("%s carries no %q", n.Name, r.Item)
				return
			}
		}
		r.Until = w.Now + followFor
		switch a.Name {
		case "follow":
			n.Emote, n.EmoteUntil = "follows "+target.Name, r.Until
		case "trade", "greet", "warn", "point_to":
			// Done on the spot: face the target and show it.
			what := a.Name
			if target != nil {
				what += " " + target.Name
			} else if r.Target != "" {
				what += " " + r.Target
			}
			n.Emote, n.EmoteUntil = strings.ReplaceAll(what, "_", " "), w.Now+emoteHold
			r.Until = w.Now + emoteHold
		}
	case "flee":
		from := w.Player.Pos
		if target != nil {
			from = target.Pos
		}
		dx, dy := n.Pos.X-from.X, n.Pos.Y-from.Y
		if l := math.Hypot(dx, dy); l > 0 {
			dx, dy = dx/l, dy/l
		} else {
			dx = 1
		}
		to, _ := w.Map.Nearest(Vec{n.Pos.X + dx*7, n.Pos.Y + dy*7}.Tile())
		if !w.walk(n, to) {
			fail("nowhere to flee")
			return
		}
		n.Speed = FleeSpeed
		n.Emote, n.EmoteUntil = "flees!", w.Now+emoteHold
	case "call_guard":
		guard := target
		if guard == nil || guard.Tree != "guard" {
			guard = nil
			for _, g := range w.NPCs {
				if g.Tree == "guard" && g != n {
					guard = g
					break
				}
			}
		}
		n.Emote, n.EmoteUntil = "Guard! Guard!", w.Now+emoteHold
		if guard == nil {
			fail("no guard in the village")
			return
		}
		guard.summonedBy = n.ID
		w.walk(guard, n.Pos.Tile())
		guard.Emote, guard.EmoteUntil = "coming!", w.Now+emoteHold
		w.status(n, protocol.StatusSuccess, "")
	case "wander":
		to, _ := w.Map.Nearest(Point{n.Home.X + w.rng.IntN(7) - 3, n.Home.Y + w.rng.IntN(7) - 3})
		if !w.walk(n, to) {
			fail("nowhere to wander")
		}
	case "leave", "hide", "patrol", "guard":
		to := n.Home
		if a.Name == "patrol" {
			g, _ := w.Map.Place("gate")
			to = g.Spot
		}
		if !w.walk(n, to) {
			fail("no way home")
		}
	case "say": // a line the tree speaks without the model
		txt := argString(a.Args, "text", "line", "say")
		if txt == "" {
			fail("say needs a text")
			return
		}
		n.Bubble, n.BubbleUntil, n.utterance = txt, w.Now+bubbleHold, ""
		r.Until = w.Now + emoteHold
	case "emote":
		e := argString(a.Args, "emotion", "emote")
		if e == "" {
			fail("emote needs an emotion")
			return
		}
		n.Emotion, n.EmotionUntil = e, w.Now+bubbleHold
		r.Until = w.Now + emoteHold
	case "idle", "rest", "work", "use_object", "repair", "pick_up":
		n.Emote, n.EmoteUntil = strings.ReplaceAll(a.Name, "_", " ")+"s", w.Now+emoteHold
		if a.Name == "idle" {
			n.Emote = ""
			w.status(n, protocol.StatusSuccess, "")
			return
		}
		r.Until = w.Now + emoteHold
	default:
		fail("the demo cannot do %q", a.Name)
	}
}

func (w *World) itemIndex(n *Entity, item string) int {
	if item == "" && len(n.Inventory) > 0 {
		return 0
	}
	for i, it := range n.Inventory {
		if strings.EqualFold(it, item) {
			return i
		}
	}
	return -1
}

// walk sets e on the way to tile to; false if it cannot get there.
func (w *World) walk(e *Entity, to Point) bool {
	path := w.Map.FindPath(e.Pos.Tile(), to)
	if path == nil {
		return false
	}
	e.Path = path
	return true
}

// ---- time ----

// Step advances the world by dt: people walk, acts progress and end, words
// over heads fade, and NPCs due for a fresh picture get a perceive.
func (w *World) Step(dt time.Duration) {
	w.Now += dt
	w.move(w.Player, dt)
	for _, n := range w.NPCs {
		for _, id := range n.superseded {
			w.statusN++
			n.count(protocol.StatusFailure)
			w.send(n.ID, &protocol.ActionStatus{ActionID: id, Status: protocol.StatusFailure, Reason: "superseded by a newer act"})
			n.ended[n.endedAt], n.endedAt = id, (n.endedAt+1)%len(n.ended)
		}
		n.superseded = n.superseded[:0]
		w.move(n, dt)
		w.progress(n)
		if n.Emote != "" && w.Now >= n.EmoteUntil {
			n.Emote = ""
		}
		if n.Emotion != "" && w.Now >= n.EmotionUntil {
			n.Emotion = ""
		}
		if n.Bubble != "" && w.Now >= n.BubbleUntil {
			n.Bubble = ""
		}
		if n.speaking && n.answering && !n.cutOff && n.Pos.Dist(w.Player.Pos) > InterruptRadius {
			// The player it answers has gone: cut it short instead of
			// letting it talk on (and think on) to the air.
			n.cutOff = true
			w.send(n.ID, &protocol.Interrupt{Reason: "the player walked away"})
		}
		if w.Now >= n.nextSeeAt {
			w.perceive(n)
			n.nextSeeAt = w.Now + perceiveEvery
		}
	}
	if w.Player.Bubble != "" && w.Now >= w.Player.BubbleUntil {
		w.Player.Bubble = ""
	}
}

// move walks e along its path at its speed.
func (w *World) move(e *Entity, dt time.Duration) {
	budget := e.Speed * dt.Seconds()
	for budget > 0 && len(e.Path) > 0 {
		next := vecOf(e.Path[0])
		d := e.Pos.Dist(next)
		if d <= budget {
			e.Pos, budget = next, budget-d
			e.Path = e.Path[1:]
			continue
		}
		e.Pos.X += (next.X - e.Pos.X) / d * budget
		e.Pos.Y += (next.Y - e.Pos.Y) / d * budget
		budget = 0
	}
	if len(e.Path) == 0 && e.Kind == "npc" {
		e.Speed = NPCSpeed
	}
}

// progress ends n's act when its goal is met or its time is up.
func (w *World) progress(n *Entity) {
	if n.summonedBy != "" && len(n.Path) == 0 {
		if c := w.byID[n.summonedBy]; c != nil {
			n.Emote, n.EmoteUntil = "What's the trouble?", w.Now+emoteHold
		}
		n.summonedBy = ""
	}
	a := n.Action
	if a == nil {
		return
	}
	target := w.byID[a.Target]
	switch a.Name {
	case "follow", "attack", "give", "heal":
		if target == nil {
			w.status(n, protocol.StatusFailure, a.Target+" is gone")
			return
		}
		near := n.Pos.Dist(target.Pos) <= followDistance
		if !near && w.Now >= a.repathAt {
			w.walk(n, target.Pos.Tile())
			if len(n.Path) > 0 {
				n.Path = n.Path[:len(n.Path)-1] // stop beside it, not on it
			}
			a.repathAt = w.Now + time.Second/2
		}
		switch {
		case a.Name != "follow" && near:
			w.finish(n, target)
		case w.Now >= a.Until && a.Name == "follow":
			w.status(n, protocol.StatusSuccess, "")
		case w.Now >= a.Until:
			w.status(n, protocol.StatusFailure, "could not reach "+target.Name)
		}
	case "go_to", "move_to", "flee", "wander", "leave", "hide", "patrol", "guard":
		if len(n.Path) == 0 {
			if a.Place != "" {
				n.Emote, n.EmoteUntil = "at "+a.Place, w.Now+emoteHold
			}
			w.status(n, protocol.StatusSuccess, "")
		}
	default:
		if w.Now >= a.Until {
			w.status(n, protocol.StatusSuccess, "")
		}
	}
}

// finish completes an act that needed n beside its target.
func (w *World) finish(n, target *Entity) {
	a := n.Action
	switch a.Name {
	case "give":
		i := w.itemIndex(n, a.Item)
		if i < 0 {
			w.status(n, protocol.StatusFailure, "the item is gone")
			return
		}
		item := n.Inventory[i]
		n.Inventory = slices.Delete(n.Inventory, i, i+1)
		target.Inventory = append(target.Inventory, item)
		n.Emote, n.EmoteUntil = "gives "+item, w.Now+emoteHold
		w.hear(protocol.Event{Kind: "give", Source: n.ID, Target: target.ID, Item: item}, n.Pos, "")
		w.logf("%s gives you a %s", n.Name, item)
	case "attack":
		target.Health = max(0, target.Health-10)
		n.Emote, n.EmoteUntil = "strikes "+target.Name+"!", w.Now+emoteHold
		w.hear(protocol.Event{Kind: "attack", Source: n.ID, Target: target.ID}, n.Pos, "")
	case "heal":
		target.Health = min(100, target.Health+20)
		n.Emote, n.EmoteUntil = "tends "+target.Name, w.Now+emoteHold
	}
	w.status(n, protocol.StatusSuccess, "")
}

// timeOfDay words the game hour as NPCs were trained to hear it: the
// embedded model's corpus says "morning" or "오후", never "09:05", and a
// small model reacts to the difference rather than to the words.
func timeOfDay(hour int, korean bool) string {
	i := 3 // evening
	switch {
	case hour < 12:
		i = 0
	case hour == 12:
		i = 1
	case hour < 17:
		i = 2
	}
	if korean {
		return [...]string{"아침", "한낮", "오후", "저녁"}[i]
	}
	return [...]string{"morning", "noon", "afternoon", "evening"}[i]
}

// perceive queues what n sees now: itself, everyone within SightRadius,
// and the events it witnessed since the last one.
func (w *World) perceive(n *Entity) {
	p := &protocol.Perceive{
		// A game minute passes each second, from nine in the morning.
		Time: timeOfDay(9+int(w.Now.Seconds())/60%12, w.Map.Korean),
		Self: protocol.Self{Position: protocol.Vec{X: n.Pos.X, Y: n.Pos.Y}, Health: n.Health,
			Inventory: slices.Clone(n.Inventory)},
		Events: w.events[n.ID],
	}
	if pl, ok := w.Map.PlaceAt(n.Pos.Tile()); ok {
		p.Self.Location = pl.Name
	}
	if n.Action != nil {
		p.Self.Status = strings.ReplaceAll(n.Action.Name, "_", " ")
	}
	delete(w.events, n.ID)
	for _, e := range append([]*Entity{w.Player}, w.NPCs...) {
		if e == n || e.Pos.Dist(n.Pos) > SightRadius {
			continue
		}
		p.Entities = append(p.Entities, protocol.Entity{ID: e.ID, Kind: e.Kind, Name: e.Name,
			Position: protocol.Vec{X: e.Pos.X, Y: e.Pos.Y}})
	}
	w.send(n.ID, p)
}
