package salience

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anima-rt/anima/npc/perception"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual output")

// TestScript runs testdata/script.txt: blocks of one command, "----", and
// the expected output, separated by blank lines (Pebble's datadriven
// format). Commands:
//
//	config rate=R burst=B reserve=N cooldown=D urgent=D idle=D   (a fresh gate at t=0)
//	at SECONDS                       set the clock
//	event NPC KIND [addressed] [to=ID] [actor=KIND]
//	idle NPC
//	overload | fallback NPC | forget NPC | counters
func TestScript(t *testing.T) {
	path := "testdata/script.txt"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		now  = t0
		g    *Gate
		out  strings.Builder
		fail bool
	)
	clock := func() time.Time { return now }
	for _, block := range strings.Split(strings.TrimSpace(string(data)), "\n\n") {
		cmd, want, _ := strings.Cut(block, "\n----\n")
		cmd = strings.TrimSpace(cmd)
		lines := strings.Split(cmd, "\n")
		for len(lines) > 1 && strings.HasPrefix(lines[0], "#") {
			out.WriteString(lines[0] + "\n")
			lines = lines[1:]
		}
		cmd = lines[0]
		f := strings.Fields(cmd)
		var got string
		switch f[0] {
		case "config":
			var cfg Config
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				d, _ := time.ParseDuration(v)
				x, _ := strconv.ParseFloat(v, 64)
				switch k {
				case "rate":
					cfg.Rate = x
				case "burst":
					cfg.Burst = x
				case "reserve":
					cfg.Reserve = x
				case "cooldown":
					cfg.Cooldown = d
				case "urgent":
					cfg.UrgentCooldown = d
				case "idle":
					cfg.IdleEvery = d
				default:
					t.Fatalf("config: unknown key %q", k)
				}
			}
			now = t0
			g = New(cfg, clock, rand.New(rand.NewPCG(7, 7)))
			got = "ok"
		case "at":
			s, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("at: %v", err)
			}
			now = t0.Add(time.Duration(s * float64(time.Second)))
			got = "ok"
		case "event":
			ev := perception.Event{Kind: f[2], Actor: "p1", ActorKind: "player"}
			for _, a := range f[3:] {
				switch k, v, _ := strings.Cut(a, "="); k {
				case "addressed":
					ev.Addressed = true
				case "to":
					ev.Target = v
				case "actor":
					ev.ActorKind = v
				}
			}
			got = g.Event(f[1], ev).String()
		case "idle":
			got = g.Idle(f[1]).String()
		case "overload":
			g.Overloaded()
			got = "ok"
		case "fallback":
			g.Fallback(f[1])
			got = "ok"
		case "forget":
			g.Forget(f[1])
			got = "ok"
		case "counters":
			c := g.Counters()
			var parts []string
			for r := Addressed; r < numReasons; r++ {
				if c.Thinks[r] > 0 {
					parts = append(parts, fmt.Sprintf("%s=%d", r, c.Thinks[r]))
				}
			}
			got = fmt.Sprintf("thinks: %s\ncooldown=%d budget=%d overload=%d tree_only=%d", strings.Join(parts, " "), c.Cooldown, c.Budget, c.Overload, c.TreeOnly)
		default:
			t.Fatalf("unknown command %q", cmd)
		}
		if strings.TrimSpace(want) != got {
			fail = true
			if !*update {
				t.Errorf("%s\n got: %s\nwant: %s", cmd, got, strings.TrimSpace(want))
			}
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n\n", cmd, got)
	}
	if *update && fail {
		if err := os.WriteFile(path, []byte(strings.TrimSpace(out.String())+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
