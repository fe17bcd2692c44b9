package npc

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxAliasRunes bounds an alias: a name is what a model copies into its
// decision, and a designer's three-line place name must not become a
// three-line target.
const MaxAliasRunes = 32

// Aliases maps the game's ids to the prompt-local aliases of the Names
// format and back. A nil *Aliases is the identity, what every other
// format gets.
type Aliases struct {
	toAlias map[string]string
	toID    map[string]string
}

// Aliased returns in with every id — places, entities, items, events'
// actors, targets and items, speakers, earlier decisions' targets and
// items — replaced by its alias, and the table that maps them back. For
// any format but Names it returns in unchanged and a nil table.
//
// An alias is the thing's name (an unnamed entity's role or kind), cleaned
// and cut to MaxAliasRunes, made unique within the prompt by " 2", " 3"…
// in the order the prompt lists things: the lore's places, then each
// earlier turn, then the present. So a conversation's aliases never change
// as it grows (a follow-up prompt extends the previous one, and the cache
// reuses it), and the lore's are the same for every NPC of a world.
func (in PromptInput) Aliased() (PromptInput, *Aliases) {
	if in.Format != Names {
		return in, nil
	}
	a := &Aliases{toAlias: map[string]string{}, toID: map[string]string{}}
	out := in
	out.Lore.Places = make([]Place, len(in.Lore.Places))
	for i, p := range in.Lore.Places {
		p.ID = a.add(p.ID, p.Name, "place")
		out.Lore.Places[i] = p
	}
	if in.History != nil {
		out.History = make([]Turn, len(in.History))
		for i, t := range in.History {
			out.History[i] = Turn{Stimulus: a.stimulus(t.Stimulus), Reply: a.Decision(t.Reply)}
		}
	}
	out.Now = a.stimulus(in.Now)
	return out, a
}

// stimulus aliases s's ids, in the order writeStimulus renders them.
func (a *Aliases) stimulus(s Stimulus) Stimulus {
	s.Self.Place = a.add(s.Self.Place, "", "place")
	s.Self.Inventory = a.items(s.Self.Inventory)
	if s.Seen != nil {
		seen := make([]Entity, len(s.Seen))
		for i, e := range s.Seen {
			fallback := e.Role
			if fallback == "" {
				fallback = e.Kind
			}
			e.ID = a.add(e.ID, e.Name, fallback)
			e.Holding = a.items(e.Holding)
			seen[i] = e
		}
		s.Seen = seen
	}
	if s.Events != nil {
		evs := make([]Event, len(s.Events))
		for i, e := range s.Events {
			e.Actor = a.add(e.Actor, "", "someone")
			e.Target = a.add(e.Target, "", "someone")
			if e.Item != nil {
				it := *e.Item
				it.ID = a.add(it.ID, it.Name, "item")
				e.Item = &it
			}
			evs[i] = e
		}
		s.Events = evs
	}
	if s.Heard != nil {
		heard := make([]Utterance, len(s.Heard))
		for i, u := range s.Heard {
			u.From = a.add(u.From, u.Name, "someone")
			heard[i] = u
		}
		s.Heard = heard
	}
	return s
}

func (a *Aliases) items(its []Item) []Item {
	if its == nil {
		return nil
	}
	out := make([]Item, len(its))
	for i, it := range its {
		it.ID = a.add(it.ID, it.Name, "item")
		out[i] = it
	}
	return out
}

// add returns id's alias, giving it one from name (or fallback, or the id
// itself) on first sight. The empty id stays empty.
func (a *Aliases) add(id, name, fallback string) string {
	if id == "" {
		return ""
	}
	if al, ok := a.toAlias[id]; ok {
		return al
	}
	base := aliasBase(name)
	if base == "" {
		base = aliasBase(fallback)
	}
	if base == "" {
		base = aliasBase(id)
	}
	if base == "" {
		base = "someone"
	}
	al := base
	for n := 2; a.toID[al] != ""; n++ {
		al = base + " " + strconv.Itoa(n)
	}
	a.toAlias[id], a.toID[al] = al, id
	return al
}

// aliasBase is the alias a name would get before it is made unique: the
// cleaned name, without quotes or backslashes (so that prompt and decision
// write it byte for byte alike, unescaped), spaces collapsed, at most
// MaxAliasRunes runes.
func aliasBase(name string) string {
	s := strings.Join(strings.Fields(unquote.Replace(clean(name))), " ")
	if utf8.RuneCountInString(s) > MaxAliasRunes {
		s = strings.TrimSpace(string([]rune(s)[:MaxAliasRunes]))
	}
	return s
}

var unquote = strings.NewReplacer(`"`, "", `\`, "")

// Alias returns id's alias; an id the table does not know is its own
// alias.
func (a *Aliases) Alias(id string) string {
	if a == nil {
		return id
	}
	return lookup(a.toAlias, id)
}

// ID returns the game's id behind alias; an unknown alias is returned as
// it is (validation against the aliased input's Targets rejects it).
func (a *Aliases) ID(alias string) string {
	if a == nil {
		return alias
	}
	return lookup(a.toID, alias)
}

// lookup is m[k], or k itself where m has none.
func lookup(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return k
}

// Decision writes d's target and item as aliases: an earlier reply as the
// prompt renders it, or a training label as the model must write it.
func (a *Aliases) Decision(d Decision) Decision {
	d.Action.Target = a.Alias(d.Action.Target)
	d.Action.Item = a.Alias(d.Action.Item)
	return d
}

// Resolve maps a decision the model wrote back to the game's ids.
func (a *Aliases) Resolve(d Decision) Decision {
	d.Action.Target = a.ID(d.Action.Target)
	d.Action.Item = a.ID(d.Action.Item)
	return d
}
