package npc

import (
	"strings"
	"testing"
)

// A names prompt refers to everything by its alias, quoted and last in its
// entry, and a decision names its target the same way.
func TestNamesRefersToThingsByName(t *testing.T) {
	in := withFormat(oakvale(), Names)
	in.Now.Events = []Event{{Kind: EventGift, Actor: "p1", Item: &Item{ID: "i7", Name: "iron ore"}}}
	raw := in
	in, al := in.Aliased()
	got := RenderPrompt(in).String()
	for _, want := range []string{
		`[Places] inn, east of the square: "The Rusty Anchor"; by the north gate: "Brannoc's forge"` + "\n",
		`[Self] at "Brannoc's forge"; working at the anvil; carrying "hammer"` + "\n",
		`[Seen] player, 2 m (holding "notched sword"): "Aren"; npc, child, at the well: "Pip"; object, 1 m: "anvil"` + "\n",
		`[Events] "Aren" gave you "iron ore"` + "\n",
		`[Heard] "Aren": "Can you fix my sword?"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("names prompt lacks %q:\n%s", want, got)
		}
	}
	for _, id := range []string{"l1", "p1", "i4"} {
		if strings.Contains(got, `"`+id+`"`) {
			t.Errorf("names prompt still shows id %q:\n%s", id, got)
		}
	}
	d := Decision{Emotion: "neutral", Action: Intent{Name: "give", Target: "p1", Item: "i1"}, Say: "Here."}
	if got, want := al.Decision(d).JSON(), `{"emotion":"neutral","action":{"name":"give","target":"Aren","item":"hammer"},"say":"Here."}`; got != want {
		t.Errorf("aliased decision = %s, want %s", got, want)
	}
	if back := al.Resolve(al.Decision(d)); back != d {
		t.Errorf("Resolve(Decision(d)) = %+v, want %+v", back, d)
	}
	// Every target the schema offers resolves to a game id the raw input
	// makes available, and back.
	rawTargets := raw.Targets()
	for alias, kind := range in.Targets() {
		id := al.ID(alias)
		if rawTargets[id] != kind {
			t.Errorf("alias %q resolves to %q (%v), not a %v target of the input", alias, id, rawTargets[id], kind)
		}
		if al.Alias(id) != alias {
			t.Errorf("Alias(ID(%q)) = %q", alias, al.Alias(id))
		}
	}
	if len(in.Targets()) != len(rawTargets) {
		t.Errorf("aliased input offers %d targets, the input %d", len(in.Targets()), len(rawTargets))
	}
}

// Two things of one name get distinct aliases, in the order the prompt
// lists them; unnamed ones are called by role or kind; quotes and
// backslashes, which a decision would have to escape, are dropped, and long
// names cut.
func TestAliasesAreUnique(t *testing.T) {
	in := PromptInput{
		Format: Names,
		Lore:   Lore{Places: []Place{{ID: "l1", Name: "Well"}, {ID: "l2", Name: "Well"}}},
		Now: Stimulus{
			Self: Self{Inventory: []Item{{ID: "i1", Name: "apple"}, {ID: "i2", Name: "apple"}}},
			Seen: []Entity{
				{ID: "p1", Kind: KindPlayer},
				{ID: "n1", Kind: KindNPC, Role: "guard"},
				{ID: "n2", Name: `Big "Red" \Tom`, Kind: KindNPC},
				{ID: "n3", Name: strings.Repeat("very ", 20) + "long", Kind: KindNPC},
				{ID: "n4", Name: "Well", Kind: KindNPC},
			},
		},
	}
	_, al := in.Aliased()
	for id, want := range map[string]string{
		"l1": "Well", "l2": "Well 2", "i1": "apple", "i2": "apple 2", "p1": "player", "n1": "guard",
		"n2": "Big Red Tom", "n3": strings.TrimSpace(strings.Repeat("very ", 7)[:MaxAliasRunes]), "n4": "Well 3",
	} {
		if got := al.Alias(id); got != want {
			t.Errorf("Alias(%q) = %q, want %q", id, got, want)
		}
		if got := al.ID(want); got != id {
			t.Errorf("ID(%q) = %q, want %q", want, got, id)
		}
	}
	if got := al.ID("nobody"); got != "nobody" {
		t.Errorf("an unknown alias resolved to %q", got)
	}
}

// A stranger who gives a name keeps the alias they first had, so the
// conversation's earlier turns render the same; the entry then says the
// name too.
func TestAliasesKeepEarlierTurns(t *testing.T) {
	first := withFormat(oakvale(), Names)
	first.Now.Seen = []Entity{{ID: "p1", Kind: KindPlayer, Where: "3 m"}}
	first.Now.Heard = []Utterance{{From: "p1", Text: "Hello! I'm Aren."}}
	d := Decision{Emotion: "neutral", Action: Intent{Name: "greet", Target: "p1"}, Say: "Welcome."}
	next := first
	next.History = []Turn{{Stimulus: first.Now, Reply: d}}
	next.Now = oakvale().Now // now the game knows the name

	a1, al1 := first.Aliased()
	a2, al2 := next.Aliased()
	if al1.Alias("p1") != "player" || al2.Alias("p1") != "player" {
		t.Fatalf("p1's alias: first %q, next %q; want player both times", al1.Alias("p1"), al2.Alias("p1"))
	}
	prev := RenderPrompt(a1).String()
	got := RenderPrompt(a2)
	want := prev + al1.Decision(d).Completion() + "\n" + got.Text(SegStimulus)
	if got.String() != want {
		t.Errorf("follow-up names prompt =\n%q\nwant\n%q", got.String(), want)
	}
	if s := got.Text(SegStimulus); !strings.Contains(s, `Aren, player, 2 m (holding "notched sword"): "player"`) {
		t.Errorf("a renamed entity's entry should carry its name:\n%s", s)
	}
}

// Other formats keep the game's ids: Aliased is the identity.
func TestAliasedIsTheIdentityForOtherFormats(t *testing.T) {
	for _, f := range []PromptFormat{IDFirst, NameFirst, IDLast, IDLastColon} {
		in := withFormat(oakvale(), f)
		got, al := in.Aliased()
		if al != nil || RenderPrompt(got).String() != RenderPrompt(in).String() {
			t.Errorf("%v: Aliased changed the input", f)
		}
		d := Decision{Action: Intent{Name: "repair", Target: "i4"}}
		if al.Decision(d) != d || al.Resolve(d) != d {
			t.Errorf("%v: a nil table changed a decision", f)
		}
	}
}

// Names from outside — whatever a game sends — never break the prompt's
// structure as aliases, stay unique, and map back to their ids.
func FuzzAliases(f *testing.F) {
	f.Add("Aren", "rusty sword", "The Rusty Anchor")
	f.Add(`"<|im_end|>`, "\\", "\n[World]")
	f.Add("player", "player", "player 2")
	f.Fuzz(func(t *testing.T, name, item, place string) {
		in := withFormat(oakvale(), Names)
		in.Lore.Places = append(in.Lore.Places, Place{ID: "l9", Name: place})
		in.Now.Seen[0].Name = name
		in.Now.Seen[1].Name = place
		in.Now.Seen[0].Holding = []Item{{ID: "i4", Name: item}, {ID: "i5", Name: item}}
		in.Now.Heard = []Utterance{{From: "p1", Name: name, Text: "hello " + name}}
		in.History = []Turn{{Stimulus: in.Now, Reply: Decision{Emotion: "neutral", Action: Intent{Name: "greet", Target: "p1"}, Say: name}}}
		ain, al := in.Aliased()
		checkStructure(t, name, RenderPrompt(ain))
		seen := map[string]string{}
		for _, id := range []string{"l1", "l2", "l9", "p1", "n3", "o1", "i1", "i4", "i5"} {
			a := al.Alias(id)
			if a == "" || strings.ContainsAny(a, "\"\\\n") || len([]rune(a)) > MaxAliasRunes+4 {
				t.Fatalf("id %q: alias %q", id, a)
			}
			if other, dup := seen[a]; dup {
				t.Fatalf("ids %q and %q share the alias %q", other, id, a)
			}
			seen[a] = id
			if al.ID(a) != id {
				t.Fatalf("ID(Alias(%q)) = %q", id, al.ID(a))
			}
		}
	})
}
