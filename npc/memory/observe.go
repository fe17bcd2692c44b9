package memory

import (
	"strings"
	"time"
	"unicode"

	"github.com/anima-rt/anima/npc/perception"
)

// Importance of events, by rule (Generative Agents asks the model to rate
// each memory; rules cost nothing and keep the model's time for players).
// Being the one attacked, robbed or given something matters more than
// seeing it happen to someone else.
func importance(e perception.Event) int {
	self := e.ToSelf()
	switch e.Kind {
	case perception.Attacked:
		return pick(self, 9, 6)
	case perception.Stole:
		return pick(self, 8, 5)
	case perception.Gift:
		return pick(self, 6, 3)
	case perception.Speech:
		return pick(e.Addressed, 4, 2)
	case perception.Appeared:
		if e.ActorKind == "creature" {
			return 4
		}
		return pick(e.ActorKind == "player", 3, 2)
	case perception.Left, perception.TimeOfDay:
		return 1
	case perception.Sound:
		return 2
	}
	return 3
}

func pick[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

// Relationship changes per event, toward the actor. Witnessing harm done
// to others costs the actor trust too, less so.
type delta struct{ trust, affinity float64 }

func relationDelta(e perception.Event) (delta, bool) {
	self := e.ToSelf()
	switch e.Kind {
	case perception.Attacked:
		return pick(self, delta{-0.5, -0.4}, delta{-0.2, -0.1}), true
	case perception.Stole:
		return pick(self, delta{-0.3, -0.2}, delta{-0.15, -0.05}), true
	case perception.Gift:
		return pick(self, delta{0.05, 0.15}, delta{0.02, 0.03}), true
	case perception.Speech:
		if !e.Addressed {
			return delta{}, false
		}
		switch tone(e.Text) {
		case 1:
			return delta{0.02, 0.05}, true
		case -1:
			return delta{-0.02, -0.08}, true
		}
	}
	return delta{}, false
}

// kindWords and rudeWords are logically constant: a tiny tone lexicon, so
// that kind words warm an NPC and insults cool it without asking the model.
var (
	kindWords = []string{"thank", "please", "friend", "kind", "sorry", "welcome", "lovely", "appreciate",
		"고마", "감사", "부탁", "친구", "미안", "반가"}
	rudeWords = []string{"stupid", "idiot", "fool", "hate", "shut up", "ugly", "liar", "thief",
		"바보", "멍청", "닥쳐", "꺼져", "거짓말", "도둑"}
)

// tone is +1 for kind words, -1 for rude ones (rude wins), 0 otherwise.
func tone(s string) int {
	s = strings.ToLower(s)
	for _, w := range rudeWords {
		if strings.Contains(s, w) {
			return -1
		}
	}
	for _, w := range kindWords {
		if strings.Contains(s, w) {
			return 1
		}
	}
	return 0
}

// Observe records a perceived event as a memory in the NPC's language
// ("en" or "ko"), moves the relationship with its actor, and returns the
// entry. Time-of-day changes and departures are kept too, at importance 1,
// so compaction folds them first.
func (s *Stream) Observe(e perception.Event, lang string) Entry {
	if d, ok := relationDelta(e); ok && e.Actor != "" {
		s.Nudge(e.Actor, e.ActorKind, d.trust, d.affinity)
	}
	var ents []string
	for _, id := range []string{e.Actor, e.Target} {
		if id != "" && !containsStr(ents, id) {
			ents = append(ents, id)
		}
	}
	return s.Add(Entry{
		Time: e.Time, Kind: Observation, Importance: importance(e),
		Text: word(e, lang), Entities: ents, Topic: e.Kind, Actor: e.Actor, Item: e.Item,
	})
}

// Said records what the NPC said to the entity to (named toName; both may
// be empty). Record only what was actually said: when a player interrupts
// an utterance, pass the part that was streamed, not the whole decision.
func (s *Stream) Said(now time.Time, to, toName, text, lang string) Entry {
	var ents []string
	if to != "" {
		ents = []string{to}
	}
	line := "You said: " + quote(text)
	switch {
	case lang == "ko" && to != "":
		n := name(toName, to, lang)
		line = n + "에게 한 말: " + quote(text)
	case lang == "ko":
		line = "내가 한 말: " + quote(text)
	case to != "":
		line = "You told " + name(toName, to, lang) + ": " + quote(text)
	}
	return s.Add(Entry{Time: now, Kind: Said, Importance: 3, Text: line, Entities: ents, Topic: "said", Actor: to})
}

// Did records an action the NPC chose (a catalog action name, with its
// target and item, named when known).
func (s *Stream) Did(now time.Time, action, target, targetName, item, lang string) Entry {
	verb := strings.ReplaceAll(action, "_", " ")
	var ents []string
	if target != "" {
		ents = []string{target}
	}
	var line string
	if lang == "ko" {
		line = "행동: " + verb
		if target != "" {
			line += " → " + name(targetName, target, lang)
		}
		if item != "" {
			line += " (" + item + ")"
		}
		line += "."
	} else {
		line = "You chose to " + verb
		if target != "" {
			line += " " + name(targetName, target, lang)
		}
		if item != "" {
			line += " (" + item + ")"
		}
		line += "."
	}
	return s.Add(Entry{Time: now, Kind: Did, Importance: 3, Text: line, Entities: ents, Topic: "did:" + action, Actor: target, Item: item})
}

func containsStr(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// maxQuote bounds a remembered line of speech, in runes.
const maxQuote = 160

func quote(s string) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) > maxQuote {
		r = append(r[:maxQuote], '…')
	}
	return `"` + strings.ReplaceAll(string(r), `"`, `'`) + `"`
}

// word turns an event into a memory line, second person in English (as the
// persona block is) and subject-only in Korean (as the corpus's memories are).
func word(e perception.Event, lang string) string {
	a := name(e.ActorName, e.Actor, lang)
	t := name(e.TargetName, e.Target, lang)
	item := e.Item
	if item == "" {
		item = pick(lang == "ko", "물건", "something")
	}
	self := e.ToSelf()
	if lang == "ko" {
		switch e.Kind {
		case perception.Attacked:
			return pick(self, a+josa(a, "이", "가")+" 나를 공격했다.", a+josa(a, "이", "가")+" "+t+josa(t, "을", "를")+" 공격했다.")
		case perception.Stole:
			return pick(self, a+josa(a, "이", "가")+" 내 "+item+josa(item, "을", "를")+" 훔쳐 갔다.",
				a+josa(a, "이", "가")+" "+t+"의 "+item+josa(item, "을", "를")+" 훔쳤다.")
		case perception.Gift:
			return pick(self, a+josa(a, "이", "가")+" "+item+josa(item, "을", "를")+" 주었다.",
				a+josa(a, "이", "가")+" "+t+"에게 "+item+josa(item, "을", "를")+" 주었다.")
		case perception.Speech:
			return pick(e.Addressed, a+josa(a, "이", "가")+" 내게 말했다: ", a+josa(a, "이", "가")+" 말했다: ") + quote(e.Text)
		case perception.Appeared:
			return a + josa(a, "이", "가") + " 왔다."
		case perception.Left:
			return a + josa(a, "이", "가") + " 떠났다."
		case perception.Sound:
			return "소리가 들렸다: " + quote(e.Text)
		case perception.TimeOfDay:
			return "시간이 흘러 " + e.Text + josa(e.Text, "이", "가") + " 되었다."
		}
		return e.Kind + ": " + pick(e.Actor != "", a+" ", "") + quote(e.Text)
	}
	switch e.Kind {
	case perception.Attacked:
		return a + " attacked " + pick(self, "you", t) + "."
	case perception.Stole:
		return a + " stole " + item + " from " + pick(self, "you", t) + "."
	case perception.Gift:
		return a + " gave " + pick(self, "you", t) + " " + item + "."
	case perception.Speech:
		return a + pick(e.Addressed, " told you: ", " said: ") + quote(e.Text)
	case perception.Appeared:
		return a + " arrived."
	case perception.Left:
		return a + " left."
	case perception.Sound:
		return "You heard " + quote(e.Text) + "."
	case perception.TimeOfDay:
		return "It became " + e.Text + "."
	}
	return e.Kind + ": " + pick(e.Actor != "", a+" ", "") + quote(e.Text)
}

// name is how a memory names an entity: its name, or its id.
func name(n, id, lang string) string {
	switch {
	case n != "":
		return n
	case id != "":
		return id
	}
	return pick(lang == "ko", "누군가", "someone")
}

// josa picks a Korean particle by whether the word before it ends in a
// final consonant (batchim): a for 이/을, b for 가/를. Non-Hangul words
// are read as ending in a vowel unless their last letter is a consonant.
func josa(word, a, b string) string {
	r := []rune(word)
	if len(r) == 0 {
		return b
	}
	last := r[len(r)-1]
	if last >= 0xAC00 && last <= 0xD7A3 {
		return pick((last-0xAC00)%28 != 0, a, b)
	}
	if unicode.IsLetter(last) && !strings.ContainsRune("aeiouyAEIOUY", last) {
		return a
	}
	return b
}

func hasHangul(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Hangul, r) {
			return true
		}
	}
	return false
}
