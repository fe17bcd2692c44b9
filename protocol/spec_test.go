package protocol_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/anima-rt/anima/protocol"
)

// TestSpecExamples keeps PROTOCOL.md honest: every JSON example in it must
// decode and re-encode to exactly the same bytes, so the specification
// cannot drift from the codec.
func TestSpecExamples(t *testing.T) {
	doc, err := os.ReadFile("../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)\n```").FindAllSubmatch(doc, -1)
	if len(blocks) < 17 {
		t.Fatalf("PROTOCOL.md has %d JSON examples; want one per message type at least", len(blocks))
	}
	seen := map[string]bool{}
	codec := protocol.JSONCodec{}
	for _, b := range blocks {
		example := b[1]
		env, err := codec.Decode(example)
		if err != nil {
			t.Errorf("Decode(%s) = %v", example, err)
			continue
		}
		seen[env.Type] = true
		again, err := codec.Encode(env)
		if err != nil {
			t.Errorf("Encode(Decode(%s)) = %v", example, err)
			continue
		}
		if string(again) != string(example) {
			t.Errorf("PROTOCOL.md example\n%s\nencodes as\n%s", example, again)
		}
	}
	for _, typ := range []string{"hello", "world", "spawn", "despawn", "perceive", "player_say",
		"interrupt", "action_status", "ping", "welcome", "spawned", "act", "cancel", "say",
		"decision", "tree_path", "error", "pong"} {
		if !seen[typ] {
			t.Errorf("PROTOCOL.md has no example of %q", typ)
		}
	}
}
