package npc

import (
	"strings"
	"testing"
)

// recallWorld is a town whose lore names people at their places, as the
// corpus's worlds and a designer's do.
func recallWorld() PromptInput {
	return PromptInput{
		Format: IDLastRecall,
		Lore: Lore{
			Name: "Willowmere",
			Text: "A mining town, ruled by Elder Wynne. Lately bandits have been seen near the Old Mill. " +
				"Percival the gravedigger works at the Dawn Temple. Garrick the mercenary works at The Merry Stag. " +
				"Juniper the watchman works at the River Gate.",
			Places: []Place{
				{ID: "l1", Name: "the Old Mill", Note: "mill, beside the market"},
				{ID: "l2", Name: "the Cloth Market", Note: "market, at the edge of the woods"},
				{ID: "l3", Name: "the River Gate", Note: "gate, east of the square"},
				{ID: "l4", Name: "The Merry Stag", Note: "inn, by the river"},
				{ID: "l5", Name: "the Dawn Temple", Note: "temple, on the main road"},
			},
		},
		Persona: Persona{Name: "Zora", Role: "beggar", Knows: []string{"You work at the River Gate."}},
		Now:     Stimulus{Seen: []Entity{{ID: "p5", Kind: KindPlayer, Where: "3 m"}}},
	}
}

// recalled renders in with the player saying line and returns its [Recall]
// line without the label, or "" when the turn has none.
func recalled(t *testing.T, in PromptInput, line string) string {
	t.Helper()
	in.Now.Heard = []Utterance{{From: "p5", Text: line}}
	turn := RenderPrompt(in).Text(SegStimulus)
	_, after, ok := strings.Cut(turn, "[Recall] ")
	if !ok {
		return ""
	}
	rec, _, _ := strings.Cut(after, "\n")
	if !strings.HasSuffix(turn, "[Recall] "+rec+"\n"+ImEnd+"\n"+ImStart+"assistant\n") {
		t.Errorf("the [Recall] line is not the turn's last:\n%s", turn)
	}
	return rec
}

// A player who names a place, by its name or by its kind, finds its entry
// with its id right before the answer.
func TestRecallWritesThePlaceAPlayerNames(t *testing.T) {
	for line, want := range map[string]string{
		"Where would I find the inn in this town?": `The Merry Stag (inn, by the river) "l4"`,
		"Could you bring me to the Cloth Market?":  `the Cloth Market (market, at the edge of the woods) "l2"`,
		"Any markets around here?":                 `the Cloth Market (market, at the edge of the woods) "l2"`,
	} {
		if got := recalled(t, recallWorld(), line); got != want {
			t.Errorf("%q: [Recall] %q, want %q", line, got, want)
		}
	}
}

// Asking after a person recalls the lore's sentence about them and the
// place it names, so "where is Percival?" can point at the temple.
func TestRecallFollowsAPersonToTheirPlace(t *testing.T) {
	got := recalled(t, recallWorld(), "I need to talk to Percival. Where is he?")
	want := `Percival the gravedigger works at the Dawn Temple. the Dawn Temple (temple, on the main road) "l5"`
	if got != want {
		t.Errorf("[Recall] %q, want %q", got, want)
	}
}

// Words that every line has, or that the lore writes everywhere, name
// nothing: no [Recall] line rather than a wrong one.
func TestRecallIgnoresCommonWords(t *testing.T) {
	for _, line := range []string{
		"Can you fix my sword?",
		"Is the moon made of soup?",
		"Nobody in Willowmere likes you, you know.", // the persona's "You work at …" is not searched
		"Who works here?",                           // "works" is in three sentences
		"Then what?",                                // "then" is not "the"
	} {
		if got := recalled(t, recallWorld(), line); got != "" {
			t.Errorf("%q: [Recall] %q, want none", line, got)
		}
	}
}

// A turn that asks for no place gets no place: a kind that is also a
// greeting or a verb counts only after a determiner, a name's common
// words ("Town" of the Town Well, "River" and "Gate" of the River Gate,
// which the notes also write in lower case) only as the whole name, and
// the world's own name is no place's. The first model trained on this
// layout pointed at whatever place a line recalled (train/README.md,
// session 11).
func TestRecallNamesNoPlaceForWordsThatAreNotItsName(t *testing.T) {
	in := recallWorld()
	in.Lore.Places = append(in.Lore.Places, Place{ID: "l6", Name: "the Town Well", Note: "well, by the river"})
	const stag = `Garrick the mercenary works at The Merry Stag. The Merry Stag (inn, by the river) "l4"`
	for line, want := range map[string]string{
		"Well met!":                          "",
		"Off I go then, be well.":            "",
		"[World] The player owns this town.": "",
		"Nobody in Willowmere likes you.":    "",
		"Is there a well nearby?":            `the Town Well (well, by the river) "l6"`,
		"Which way to the River Gate?":       `the River Gate (gate, east of the square) "l3"`,
		"Meet me at the town well at dusk.":  `the Town Well (well, by the river) "l6"`,
		"Is the Merry Stag's ale any good?":  stag,
		"I'm looking for the Stag, the inn.": stag,
	} {
		if got := recalled(t, in, line); got != want {
			t.Errorf("%q: [Recall] %q, want %q", line, got, want)
		}
	}
}

// Korean attaches particles to nouns on both sides: "주막이" names the
// "주막" of a note, "장쇠에" the "장쇠는" of a lore sentence, and a
// one-rune noun ("숲", woods) is found bare or with a particle.
func TestRecallReadsKoreanParticles(t *testing.T) {
	in := PromptInput{
		Format: IDLastRecall,
		Lore: Lore{Name: "느티골", Text: "광산 마을이다. 모시로 이름났다. 장쇠는 글방에서 일하는 선비다. 삼돌은 마을 우물에서 일하는 아이다.",
			Places: []Place{
				{ID: "l1", Name: "버들 주막", Note: "주막, 장터 동쪽"},
				{ID: "l2", Name: "글방", Note: "서당, 언덕 위"},
				{ID: "l3", Name: "대숲", Note: "숲, 강 건너"},
			},
		},
	}
	for line, want := range map[string]string{
		"아저씨, 주막이 어디예요?":  `버들 주막 (주막, 장터 동쪽) "l1"`,
		"장쇠에 대해 좀 알려 줘요.": `장쇠는 글방에서 일하는 선비다. 글방 (서당, 언덕 위) "l2"`,
		"숲 있어? 어디야?":      `대숲 (숲, 강 건너) "l3"`,
		"숲이 어디예요?":        `대숲 (숲, 강 건너) "l3"`,
		"절대 안 돼요.":        "",
		"숲까지 같이 가 주시겠어요?": `대숲 (숲, 강 건너) "l3"`,
		"이름이 뭐예요?":        "", // not the 이름 of a lore line's 이름났다 (is famous)
		"느티골에서 제일 큰 집?":   "", // the world's name
	} {
		if got := recalled(t, in, line); got != want {
			t.Errorf("%q: [Recall] %q, want %q", line, got, want)
		}
	}
}

// Only IDLastRecall recalls: the other layouts' prompts are the ones their
// models were trained on, byte for byte.
func TestOnlyTheRecallLayoutRecalls(t *testing.T) {
	for _, f := range []PromptFormat{IDFirst, NameFirst, IDLast, IDLastColon, Names} {
		in := recallWorld()
		in.Format = f
		in, _ = in.Aliased()
		in.Now.Heard = []Utterance{{From: "p5", Text: "Where is the inn?"}}
		if s := RenderPrompt(in).String(); strings.Contains(s, "[Recall]") {
			t.Errorf("%v wrote a [Recall] line:\n%s", f, s)
		}
	}
}

// Every turn keeps its own [Recall] line, so a follow-up prompt still
// extends the one before it and its cached KV is reused.
func TestRecallKeepsFollowUpsExtendingThePrompt(t *testing.T) {
	first := recallWorld()
	first.Now.Heard = []Utterance{{From: "p5", Text: "Where is the inn?"}}
	d := Decision{Emotion: "neutral", Action: Intent{Name: "point_to", Target: "l4"}, Say: "The Merry Stag, by the river."}
	next := first
	next.History = append(next.History, Turn{Stimulus: first.Now, Reply: d})
	next.Now = Stimulus{Heard: []Utterance{{From: "p5", Text: "And Juniper?"}}}
	prev := RenderPrompt(first).String()
	got := RenderPrompt(next)
	if want := prev + d.Completion() + "\n" + got.Text(SegStimulus); got.String() != want {
		t.Errorf("follow-up prompt =\n%q\nwant\n%q", got.String(), want)
	}
	if !strings.Contains(got.Text(SegStimulus), `the River Gate (gate, east of the square) "l3"`) {
		t.Errorf("the follow-up turn does not recall Juniper's gate:\n%s", got.Text(SegStimulus))
	}
}

func FuzzRecall(f *testing.F) {
	f.Add("Where is the inn?", "Percival works at the Dawn Temple. 장쇠는 글방에서 일한다.")
	f.Add("숲이", "숲")
	f.Fuzz(func(t *testing.T, line, lore string) {
		in := recallWorld()
		in.Lore.Text = lore
		in.Now.Heard = []Utterance{{From: "p5", Text: line}}
		s := RenderPrompt(in).String()
		if strings.Count(s, ImStart) != 3 || strings.Count(s, "[Recall]") > 1 {
			t.Fatalf("prompt has a broken turn structure:\n%s", s)
		}
	})
}

// A megabyte of speech is searched as the prompt quotes it, cut to
// MaxQuoteRunes, so a flood of words costs no more than a long line.
func TestRecallSearchesOnlyWhatThePromptQuotes(t *testing.T) {
	line := strings.Repeat("blah ", MaxQuoteRunes/5) + "the inn please " + strings.Repeat("x", 1<<20)
	if got := recalled(t, recallWorld(), line); got != "" {
		t.Errorf("[Recall] %q for a word past the quote's end, want none", got)
	}
}

// MentionsName finds a name as a word of its own, Korean particles
// allowed after it: what both the recall layout and the perception
// layer's "was I addressed?" rely on.
func TestMentionsName(t *testing.T) {
	for _, tc := range []struct {
		text, name string
		want       bool
	}{
		{"Which way to the River Gate?", "river gate", true},
		{"Is the Merry Stag's ale good?", "merry stag", true},
		{"Karen and Arena", "Aren", false},
		{"순이야, 이리 와", "순이", true},
		{"Aren", "", false},
	} {
		if got := MentionsName(tc.text, tc.name); got != tc.want {
			t.Errorf("MentionsName(%q, %q) = %v, want %v", tc.text, tc.name, got, tc.want)
		}
	}
}
