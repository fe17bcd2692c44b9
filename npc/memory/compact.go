package memory

import (
	"fmt"
	"slices"
	"strings"
)

// compact brings the stream down to LowWater entries. Old entries (all but
// the newest KeepRecent) below FoldBelow importance are folded, per group of
// the same topic, actor and item, into one summary entry each (merging an
// existing summary of the group), which keeps counts and the most important
// fact: "Aren gave you iron ore (3 times)." If folding is not enough, the
// least important old entries (oldest first) are forgotten outright.
//
// Summaries reuse the Seq of their group's newest member, so a stream's
// Seqs stay unique and a store's record of that Seq is simply replaced.
func (s *Stream) compact() {
	old := len(s.entries) - s.cfg.KeepRecent
	if old <= 0 {
		return
	}
	type group struct {
		members []int // indexes into s.entries, ascending
	}
	groups := map[string]*group{}
	var order []string
	for i := range old {
		e := &s.entries[i]
		if e.Importance >= s.cfg.FoldBelow || e.Topic == "" {
			continue
		}
		key := e.Topic + "\x00" + e.Actor + "\x00" + e.Item
		g := groups[key]
		if g == nil {
			g = &group{}
			groups[key] = g
			order = append(order, key)
		}
		g.members = append(g.members, i)
	}
	remove := map[int]bool{}
	replace := map[int]Entry{}
	for _, key := range order {
		g := groups[key]
		if len(g.members) < 2 {
			continue
		}
		sum := s.fold(g.members)
		last := g.members[len(g.members)-1]
		for _, i := range g.members[:len(g.members)-1] {
			remove[i] = true
		}
		replace[last] = sum
	}
	kept := s.entries[:0]
	for i, e := range s.entries {
		switch {
		case remove[i]:
			s.del(e.Seq)
		case replace[i].Seq != 0:
			r := replace[i]
			s.put(r)
			kept = append(kept, r)
		default:
			kept = append(kept, e)
		}
	}
	clear(s.entries[len(kept):])
	s.entries = kept
	if len(s.entries) <= s.cfg.LowWater {
		return
	}
	// Forget: the least important old entries, oldest first.
	old = len(s.entries) - s.cfg.KeepRecent
	idx := make([]int, old)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return s.entries[a].Importance - s.entries[b].Importance })
	n := min(len(s.entries)-s.cfg.LowWater, len(idx))
	drop := map[int]bool{}
	for _, i := range idx[:n] {
		drop[i] = true
	}
	kept = s.entries[:0]
	for i, e := range s.entries {
		if drop[i] {
			s.del(e.Seq)
			s.forgotten++
			delete(s.digest, e.Seq)
			continue
		}
		kept = append(kept, e)
	}
	clear(s.entries[len(kept):])
	s.entries = kept
}

// fold makes the summary of a group of entries (indexes ascending): the
// text of its most important member (the newest on ties) with a count.
func (s *Stream) fold(members []int) Entry {
	best := members[0]
	count := 0
	var ents []string
	for _, i := range members {
		e := &s.entries[i]
		if e.Importance >= s.entries[best].Importance {
			best = i
		}
		count += max(e.Count, 1)
		for _, id := range e.Entities {
			if len(ents) < MaxEntities && !slices.Contains(ents, id) {
				ents = append(ents, id)
			}
		}
	}
	newest := s.entries[members[len(members)-1]]
	b := s.entries[best]
	sum := Entry{
		Seq: newest.Seq, Time: newest.Time, Kind: Summary, Importance: b.Importance,
		Topic: b.Topic, Actor: b.Actor, Item: b.Item, Count: count, Entities: ents,
		Text: summaryText(b, count),
	}
	sum.Text = cut(sum.Text, MaxTextBytes)
	sum.tokens = terms(sum.Text)
	return sum
}

// summaryText words a group's summary from its most important member. A
// member that is itself a summary carries its count in parentheses; that
// part is replaced.
func summaryText(b Entry, count int) string {
	base := b.Text
	if b.Kind == Summary {
		if i := strings.LastIndex(base, " ("); i >= 0 {
			base = base[:i]
		}
	}
	base = strings.TrimRight(base, ".。 ")
	ko := hasHangul(base)
	switch {
	case b.Topic == "speech" || b.Topic == "said":
		if ko {
			return fmt.Sprintf("%s (외 %d마디).", base, count-1)
		}
		return fmt.Sprintf("%s (and %d more lines).", base, count-1)
	case ko:
		return fmt.Sprintf("%s (%d번).", base, count)
	}
	return fmt.Sprintf("%s (%d times).", base, count)
}
