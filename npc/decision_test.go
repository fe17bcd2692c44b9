package npc

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/anima-rt/anima/npc/catalog"
)

func TestDecisionJSON(t *testing.T) {
	cases := []struct {
		d    Decision
		want string
	}{
		{Decision{Emotion: "wary", Action: Intent{Name: "follow", Target: "player_1"}, Say: "Stay close. The bridge isn't safe after dark."},
			`{"emotion":"wary","action":{"name":"follow","target":"player_1"},"say":"Stay close. The bridge isn't safe after dark."}`},
		{Decision{Emotion: "neutral", Action: Intent{Name: "idle"}, Say: ""},
			`{"emotion":"neutral","action":{"name":"idle"},"say":""}`},
		{Decision{Emotion: "happy", Action: Intent{Name: "give", Target: "p1", Item: "i2"}, Say: "여기 있어요, \"손님\".\n<b>&"},
			`{"emotion":"happy","action":{"name":"give","target":"p1","item":"i2"},"say":"여기 있어요, \"손님\".\n<b>&"}`},
		{Decision{Emotion: "neutral", Action: Intent{Name: "idle"}, Say: "<|im_end|>\x01"},
			`{"emotion":"neutral","action":{"name":"idle"},"say":"<\u007cim_end|>\u0001"}`},
	}
	for _, tc := range cases {
		got := tc.d.JSON()
		if got != tc.want {
			t.Errorf("%+v.JSON() = %s; want %s", tc.d, got, tc.want)
		}
		back, err := ParseDecision([]byte(got))
		if err != nil || back != tc.d {
			t.Errorf("ParseDecision(%s) = %+v, %v; want %+v", got, back, err, tc.d)
		}
		var viaStd Decision
		if err := json.Unmarshal([]byte(got), &viaStd); err != nil || viaStd != tc.d {
			t.Errorf("json.Unmarshal(%s) = %+v, %v; want %+v", got, viaStd, err, tc.d)
		}
		if c := tc.d.Completion(); c != tc.want+ImEnd {
			t.Errorf("Completion() = %q; want %q", c, tc.want+ImEnd)
		}
	}
}

func TestParseDecisionErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{``, "EOF"},
		{`{"emotion":"x","action":{"name":"idle"}}`, `missing "say"`},
		{`{"action":{"name":"idle"},"say":""}`, `missing "emotion"`},
		{`{"emotion":"x","say":""}`, `missing "action"`},
		{`{"emotion":"x","action":{"target":"p1"},"say":""}`, `missing "action"."name"`},
		{`{"emotion":"x","action":{"name":"idle","speed":3},"say":""}`, `unknown field "speed"`},
		{`{"emotion":"x","action":{"name":"idle"},"say":""} {}`, "trailing data"},
		{`{"emotion":"x","action":{"name":"idle"},"say":""}}`, "trailing data"},
		{`{"emotion":1,"action":{"name":"idle"},"say":""}`, "cannot unmarshal number"},
		{`{"emotion":"` + strings.Repeat("a", MaxDecisionBytes) + `"}`, "exceeds the limit"},
	}
	for _, tc := range cases {
		_, err := ParseDecision([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseDecision(%.60q) error = %v; want one containing %q", tc.in, err, tc.want)
		}
	}
	if _, err := ParseDecision([]byte(` {"emotion":"x","action":{"name":"idle"},"say":""}<|im_end|> `)); err != nil {
		t.Errorf("ParseDecision with a trailing <|im_end|> error = %v; want nil", err)
	}
}

func TestDecisionValidate(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	avail := oakvale().Targets()
	cases := []struct {
		d    Decision
		want string // "" for valid
	}{
		{Decision{"neutral", Intent{Name: "repair", Target: "i4"}, "Leave it."}, ""},
		{Decision{"neutral", Intent{Name: "repair", Target: "p1"}, ""}, ""},
		{Decision{"happy", Intent{Name: "give", Target: "p1", Item: "i1"}, "Here."}, ""},
		{Decision{"neutral", Intent{Name: "go_to", Target: "l1"}, ""}, ""},
		{Decision{"neutral", Intent{Name: "use_object", Target: "o1"}, ""}, ""},
		{Decision{"neutral", Intent{Name: "idle"}, ""}, ""},
		{Decision{"ecstatic", Intent{Name: "idle"}, ""}, `unknown emotion "ecstatic"`},
		{Decision{"neutral", Intent{Name: "dance"}, ""}, `unknown action "dance"`},
		{Decision{"neutral", Intent{Name: "idle", Target: "p1"}, ""}, `action "idle" takes no target`},
		{Decision{"neutral", Intent{Name: "follow"}, ""}, `action "follow" needs a target`},
		{Decision{"neutral", Intent{Name: "follow", Target: "p9"}, ""}, `target "p9" is not present`},
		{Decision{"neutral", Intent{Name: "go_to", Target: "p1"}, ""}, `target "p1" is a entity`},
		{Decision{"neutral", Intent{Name: "use_object", Target: "n3"}, ""}, `target "n3" is a entity`},
		{Decision{"neutral", Intent{Name: "give", Target: "p1"}, ""}, `action "give" needs an item`},
		{Decision{"neutral", Intent{Name: "give", Target: "p1", Item: "i99"}, ""}, `item "i99" is not present`},
		{Decision{"neutral", Intent{Name: "give", Target: "p1", Item: "n3"}, ""}, `item "n3" is not present`},
		{Decision{"neutral", Intent{Name: "greet", Target: "p1", Item: "i1"}, ""}, `action "greet" takes no item`},
		{Decision{"neutral", Intent{Name: "idle"}, strings.Repeat("é", MaxSayRunes+1)}, "say is"},
	}
	for _, tc := range cases {
		err := tc.d.Validate(cat, avail)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s.Validate() = %v; want nil", tc.d.JSON(), err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s.Validate() = %v; want an error containing %q", tc.d.JSON(), err, tc.want)
		}
	}
}

func FuzzParseDecision(f *testing.F) {
	f.Add([]byte(`{"emotion":"wary","action":{"name":"follow","target":"p1"},"say":"Stay close."}`))
	f.Add([]byte(`{"emotion":"happy","action":{"name":"give","target":"p1","item":"i2"},"say":"여기"}<|im_end|>`))
	f.Add([]byte(`{"emotion":"","action":{"name":""},"say":"<\u007c"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDecision(data)
		if err != nil {
			return
		}
		// Whatever parses re-encodes canonically and parses back to itself
		// (invalid UTF-8 aside, which the encoder replaces).
		again, err := ParseDecision([]byte(d.JSON()))
		if err != nil {
			t.Fatalf("ParseDecision(%s) of a canonical form: %v", d.JSON(), err)
		}
		if again.JSON() != d.JSON() {
			t.Fatalf("canonical form is not stable: %s vs %s", again.JSON(), d.JSON())
		}
		if strings.Contains(d.JSON(), "<|") {
			t.Fatalf("canonical form %s contains a special-token prefix", d.JSON())
		}
	})
}

func TestTargetsFor(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	avail := oakvale().Targets()
	cases := []struct {
		action string
		want   []string
	}{
		{"go_to", []string{"l1", "l2"}},
		{"follow", []string{"n3", "p1"}},
		{"point_to", []string{"l1", "l2", "n3", "p1"}},
		{"use_object", []string{"o1"}},
		{"repair", []string{"i1", "i4", "n3", "p1"}},
		{"idle", nil},
	}
	for _, c := range cases {
		a, _ := cat.Action(c.action)
		if got := avail.For(a); !slices.Equal(got, c.want) {
			t.Errorf("Targets.For(%q) = %v; want %v", c.action, got, c.want)
		}
	}
	if got, want := avail.Items(), []string{"i1", "i4"}; !slices.Equal(got, want) {
		t.Errorf("Targets.Items() = %v; want %v", got, want)
	}
}

func TestValidateForPersonaActions(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	in := oakvale()
	in.Persona.Actions = []string{"idle", "repair", "trade"}
	if err := (Decision{"neutral", Intent{Name: "repair", Target: "i4"}, ""}).ValidateFor(cat, in); err != nil {
		t.Errorf("ValidateFor(repair) = %v; want nil", err)
	}
	err = Decision{"neutral", Intent{Name: "attack", Target: "p1"}, ""}.ValidateFor(cat, in)
	if err == nil || !strings.Contains(err.Error(), `action "attack" is not among Brannoc's actions`) {
		t.Errorf("ValidateFor(attack) = %v; want an error naming the persona's actions", err)
	}
}
