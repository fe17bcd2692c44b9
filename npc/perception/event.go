package perception

import (
	"strings"
	"time"

	"github.com/anima-rt/anima/npc"
)

// Canonical event kinds. The game may word them its own way (PROTOCOL.md
// lists "attack", "give", "arrive", "leave"); Normalize maps the known
// synonyms onto these, and keeps other words, lower-cased, as they are.
const (
	Speech    = "speech"
	Attacked  = npc.EventAttacked
	Gift      = npc.EventGift
	Stole     = npc.EventStole
	Sound     = npc.EventSound
	Appeared  = npc.EventAppeared
	Left      = npc.EventLeft
	TimeOfDay = "time" // the game clock moved on: Text is the new time of day
)

// synonyms is logically constant: the game's words for the canonical kinds.
var synonyms = map[string]string{
	"speech": Speech, "say": Speech, "said": Speech, "talk": Speech, "shout": Speech,
	"attacked": Attacked, "attack": Attacked, "hit": Attacked, "hurt": Attacked,
	"gift": Gift, "give": Gift, "gave": Gift,
	"stole": Stole, "steal": Stole, "theft": Stole, "stolen": Stole,
	"sound": Sound, "noise": Sound, "heard": Sound,
	"appeared": Appeared, "appear": Appeared, "arrive": Appeared, "arrived": Appeared, "enter": Appeared, "spawn": Appeared,
	"left": Left, "leave": Left, "depart": Left, "departed": Left, "exit": Left, "despawn": Left,
	"time": TimeOfDay, "time_of_day": TimeOfDay, "clock": TimeOfDay,
}

// Normalize returns the canonical kind for a game's event word.
func Normalize(kind string) string {
	k := strings.ToLower(strings.TrimSpace(kind))
	if c, ok := synonyms[k]; ok {
		return c
	}
	return k
}

// Event is something the NPC perceived, with the names it knew at the time,
// so that memory can word it and salience can weigh it.
type Event struct {
	Time       time.Time
	Kind       string // a canonical kind, or the game's own word
	Actor      string // entity id of who did it; empty for sounds and time
	ActorName  string // its name when known
	ActorKind  string // player, npc, creature, … when known
	Target     string // entity id it was done to; empty: the NPC itself
	TargetName string
	Item       string // item name, for gift and stole
	ItemID     string // the item's prompt id (see WorkingSet.ItemID)
	Text       string // speech, a sound, the new time of day; bounded
	// Addressed is set on speech meant for this NPC: a player_say, speech
	// whose target is the NPC, or speech that names it.
	Addressed bool
}

// ToSelf reports whether the event was done to the NPC itself.
func (e Event) ToSelf() bool { return e.Target == "" }
