package protocol_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/anima-rt/anima/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// codecs are the two encodings under test; golden files end in ext.
var codecs = []struct {
	codec protocol.Codec
	ext   string
}{
	{protocol.JSONCodec{}, ".json"},
	{protocol.MsgpackCodec{}, ".msgpack.hex"},
}

// goldenBytes renders a frame as stored: JSON as is, msgpack as hex lines of
// 32 bytes so that diffs stay readable.
func goldenBytes(ext string, frame []byte) []byte {
	if ext == ".json" {
		return append(append([]byte(nil), frame...), '\n')
	}
	var b strings.Builder
	for len(frame) > 0 {
		n := min(32, len(frame))
		b.WriteString(hex.EncodeToString(frame[:n]))
		b.WriteByte('\n')
		frame = frame[n:]
	}
	return []byte(b.String())
}

func frameFromGolden(t testing.TB, ext string, data []byte) []byte {
	if ext == ".json" {
		return bytes.TrimSuffix(data, []byte("\n"))
	}
	frame, err := hex.DecodeString(strings.ReplaceAll(string(data), "\n", ""))
	if err != nil {
		t.Fatalf("golden hex: %v", err)
	}
	return frame
}

// TestGolden pins the encoding of every sample message in both codecs, and
// checks that each golden frame decodes back to the sample.
func TestGolden(t *testing.T) {
	for _, c := range codecs {
		for _, s := range samples {
			t.Run(s.name+c.ext, func(t *testing.T) {
				frame, err := c.codec.Encode(s.env)
				if err != nil {
					t.Fatalf("Encode(%s) error: %v", s.name, err)
				}
				path := filepath.Join("testdata", "golden", s.name+c.ext)
				if *update {
					if err := os.WriteFile(path, goldenBytes(c.ext, frame), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if got := goldenBytes(c.ext, frame); !bytes.Equal(got, want) {
					t.Errorf("Encode(%s) =\n%s\nwant (%s)\n%s", s.name, got, path, want)
				}
				env, err := c.codec.Decode(frameFromGolden(t, c.ext, want))
				if err != nil {
					t.Fatalf("Decode(%s) error: %v", path, err)
				}
				if !reflect.DeepEqual(env, s.env) {
					t.Errorf("Decode(%s) = %+v; want %+v", path, env, s.env)
				}
			})
		}
	}
}

// TestSamplesCoverEveryType keeps the goldens complete as messages are added.
func TestSamplesCoverEveryType(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range samples {
		seen[s.env.Type] = true
	}
	for _, typ := range []string{"hello", "world", "spawn", "despawn", "perceive", "player_say",
		"interrupt", "action_status", "ping", "welcome", "spawned", "act", "cancel", "say",
		"decision", "error", "pong"} {
		if protocol.NewMessage(typ) == nil {
			t.Errorf("NewMessage(%q) = nil; want a body", typ)
		}
		if !seen[typ] {
			t.Errorf("no sample of %q; add one so its encoding is pinned", typ)
		}
	}
}
