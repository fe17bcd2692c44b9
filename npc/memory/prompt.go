package memory

import (
	"strings"
	"time"

	"github.com/anima-rt/anima/npc"
)

// QueryFor builds the retrieval query for a stimulus: the words heard, the
// names, kinds and roles seen, and the events' texts and items; and the ids
// of everyone seen, heard or acting.
func QueryFor(now time.Time, st npc.Stimulus) Query {
	var b strings.Builder
	var ids []string
	add := func(id string) {
		if id != "" && !containsStr(ids, id) && len(ids) < 2*MaxEntities {
			ids = append(ids, id)
		}
	}
	for _, u := range st.Heard {
		b.WriteString(u.Text)
		b.WriteByte(' ')
		add(u.From)
	}
	for _, e := range st.Events {
		b.WriteString(e.Text)
		b.WriteByte(' ')
		if e.Item != nil {
			b.WriteString(e.Item.Name)
			b.WriteByte(' ')
		}
		add(e.Actor)
		add(e.Target)
	}
	for _, e := range st.Seen {
		b.WriteString(e.Name)
		b.WriteByte(' ')
		b.WriteString(e.Role)
		b.WriteByte(' ')
		add(e.ID)
	}
	return Query{Now: now, Text: b.String(), Entities: ids}
}

// Label words a relationship the way the prompt's [Seen] relation does
// (and the corpus taught the model): "friend" or "hostile" (친구, 적대 in
// Korean) when the feeling is strong enough, else "".
func Label(r Relation, lang string) string {
	switch {
	case r.Trust <= -0.5 || r.Affinity <= -0.5:
		return pick(lang == "ko", "적대", "hostile")
	case r.Trust >= 0.3 && r.Affinity >= 0.5:
		return pick(lang == "ko", "친구", "friend")
	}
	return ""
}

// LabelSeen fills the relation of each seen entity the game left without
// one from the NPC's own feelings about it (Label), so what the NPC has
// lived through shows in how it regards whom it sees.
func (s *Stream) LabelSeen(st *npc.Stimulus, lang string) {
	for i := range st.Seen {
		e := &st.Seen[i]
		if e.Relation != "" {
			continue
		}
		if r, ok := s.Relation(e.ID, e.Kind); ok {
			e.Relation = Label(r, lang)
		}
	}
}
