package village

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Limits on a script, so a wrong file is an error and not a memory spike.
const (
	MaxScriptLines    = 10000
	MaxScriptLineSize = 4096
	MaxWait           = 10 * time.Minute
	defaultAwait      = 10 * time.Second
	defaultApproach   = 30 * time.Second
	approachDistance  = TalkRadius - 0.5 // close enough to talk, with room for the NPC to step
)

// Command is one line of a script. The format, one command a line, blank
// lines and lines starting with # ignored:
//
//	move X Y                  walk the player to tile (X, Y); the script goes on on arrival
//	approach NPC [DUR]        walk the player up to NPC, wherever it goes, until within
//	                          talking distance (default 30s)
//	wait DURATION             let game time pass (500ms, 2s)
//	talk NPC "line"           say line (a Go quoted string) to NPC
//	type NPC "line"           open the talk box to NPC with line typed in it
//	                          (it is sent by key Enter, dropped by key Esc)
//	key K                     press a key: F attack, G give, R steal, Tab overlay,
//	                          Enter, Esc
//	await reply NPC [DUR]     wait until NPC finished answering the last talk: its
//	                          final say, or a decision that says nothing (default 10s)
//	await act NPC [DUR]       wait until NPC got an act since the last talk (whose
//	                          running status the game sends at once)
//	await acted NPC [DUR]     wait until NPC decided its answer to the last talk and
//	                          its tree runs the decided action (World.ActsOnAnswer)
//	screenshot FILE           save the screen as PNG
//	quit                      stop the game
//
// Durations are game time: 60 ticks a second, however fast the machine.
type Command struct {
	Line   int    // 1-based, for errors
	Op     string // move, approach, wait, talk, type, key, await, screenshot, quit
	X, Y   int
	Dur    time.Duration
	NPC    string
	Text   string // talk's line; await's what: "reply" or "act"
	Key    string // F, G, R, Tab
	File   string
	Source string // the line as written
}

// keys is logically constant: the keys a script may press, by any case.
var keys = map[string]string{"f": "F", "g": "G", "r": "R", "tab": "Tab", "enter": "Enter", "esc": "Esc"}

// ParseScript reads a script; the error names the line at fault.
func ParseScript(r io.Reader) ([]Command, error) {
	var cmds []Command
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), MaxScriptLineSize)
	n := 0
	for sc.Scan() {
		n++
		if n > MaxScriptLines {
			return nil, fmt.Errorf("village: script: more than %d lines", MaxScriptLines)
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c, err := parseCommand(line)
		if err != nil {
			return nil, fmt.Errorf("village: script line %d: %w", n, err)
		}
		c.Line, c.Source = n, line
		cmds = append(cmds, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("village: script line %d: %w", n+1, err)
	}
	return cmds, nil
}

func parseCommand(line string) (Command, error) {
	op, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	f := strings.Fields(rest)
	c := Command{Op: op}
	nargs := func(lo, hi int) error {
		if len(f) < lo || len(f) > hi {
			if lo == hi {
				return fmt.Errorf("%s wants %d arguments, got %d", op, lo, len(f))
			}
			return fmt.Errorf("%s wants %d to %d arguments, got %d", op, lo, hi, len(f))
		}
		return nil
	}
	dur := func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%s: bad duration %q", op, s)
		}
		if d < 0 || d > MaxWait {
			return 0, fmt.Errorf("%s: duration %v is outside 0..%v", op, d, MaxWait)
		}
		return d, nil
	}
	var err error
	switch op {
	case "move":
		if err := nargs(2, 2); err != nil {
			return c, err
		}
		if c.X, err = strconv.Atoi(f[0]); err != nil || c.X < 0 || c.X >= Width {
			return c, fmt.Errorf("move: x %q is not a column 0..%d", f[0], Width-1)
		}
		if c.Y, err = strconv.Atoi(f[1]); err != nil || c.Y < 0 || c.Y >= Height {
			return c, fmt.Errorf("move: y %q is not a row 0..%d", f[1], Height-1)
		}
	case "wait":
		if err := nargs(1, 1); err != nil {
			return c, err
		}
		c.Dur, err = dur(f[0])
	case "approach":
		if err := nargs(1, 2); err != nil {
			return c, err
		}
		c.NPC, c.Dur = f[0], defaultApproach
		if len(f) == 2 {
			c.Dur, err = dur(f[1])
		}
	case "talk", "type":
		npc, quoted, ok := strings.Cut(rest, " ")
		if !ok || npc == "" {
			return c, fmt.Errorf(`%s wants an NPC id and a quoted line: %s pip "hello"`, op, op)
		}
		c.NPC = npc
		if c.Text, err = strconv.Unquote(strings.TrimSpace(quoted)); err != nil {
			return c, fmt.Errorf("%s: the line %s is not a Go quoted string", op, strings.TrimSpace(quoted))
		}
		if strings.TrimSpace(c.Text) == "" {
			return c, fmt.Errorf("%s: empty line", op)
		}
	case "key":
		if err := nargs(1, 1); err != nil {
			return c, err
		}
		k, ok := keys[strings.ToLower(f[0])]
		if !ok {
			return c, fmt.Errorf("key %q: want F, G, R, Tab, Enter or Esc", f[0])
		}
		c.Key = k
	case "await":
		if err := nargs(2, 3); err != nil {
			return c, err
		}
		if f[0] != "reply" && f[0] != "act" && f[0] != "acted" {
			return c, fmt.Errorf("await %q: want reply, act or acted", f[0])
		}
		c.Text, c.NPC, c.Dur = f[0], f[1], defaultAwait
		if len(f) == 3 {
			c.Dur, err = dur(f[2])
		}
	case "screenshot":
		if err := nargs(1, 1); err != nil {
			return c, err
		}
		c.File = f[0]
	case "quit":
		err = nargs(0, 0)
	default:
		return c, fmt.Errorf("unknown command %q (want move, wait, talk, key, await, screenshot or quit)", op)
	}
	return c, err
}

// Intent is what the player (keyboard or script) wants done. The game turns
// key presses and script lines alike into intents before any logic sees them.
type Intent struct {
	Kind   string  // move, walk, talk, type, enter, esc, deed, overlay, screenshot, quit
	DX, DY float64 // move: direction
	To     Point   // walk
	NPC    string  // talk, type
	Text   string  // talk, type: the line; deed: attack, give or steal
	File   string  // screenshot
}

// KeyIntent is the intent of pressing key k (F, G, R, Tab).
func KeyIntent(k string) Intent {
	switch k {
	case "F":
		return Intent{Kind: "deed", Text: "attack"}
	case "G":
		return Intent{Kind: "deed", Text: "give"}
	case "R":
		return Intent{Kind: "deed", Text: "steal"}
	case "Enter":
		return Intent{Kind: "enter"}
	case "Esc":
		return Intent{Kind: "esc"}
	}
	return Intent{Kind: "overlay"}
}

// Runner plays a script against a world, one game tick at a time.
type Runner struct {
	cmds      []Command
	i         int
	started   bool
	since     time.Duration // game time the current command started
	answersAt map[string]int
	actsAt    map[string]int
	repathAt  time.Duration // approach: when to aim at the NPC's tile again
}

// NewRunner plays cmds.
func NewRunner(cmds []Command) *Runner {
	return &Runner{cmds: cmds, answersAt: map[string]int{}, actsAt: map[string]int{}}
}

// Done reports whether every command has run.
func (r *Runner) Done() bool { return r.i >= len(r.cmds) }

// Tick runs the script as far as it can go this tick and returns the
// intents to apply now. An await that times out, or a command that cannot
// be done, is an error naming its line.
func (r *Runner) Tick(w *World) ([]Intent, error) {
	var out []Intent
	for r.i < len(r.cmds) {
		c := r.cmds[r.i]
		if !r.started {
			r.started, r.since = true, w.Now
			if c.NPC != "" {
				if n := w.Entity(c.NPC); n == nil || n.Kind != "npc" {
					return out, fmt.Errorf("village: script line %d: no NPC %q", c.Line, c.NPC)
				}
			}
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("village: script line %d (%s): %s", c.Line, c.Source, fmt.Sprintf(format, args...))
		}
		done := true
		switch c.Op {
		case "move":
			to := Point{c.X, c.Y}
			if w.Player.Pos.Tile() != to || len(w.Player.Path) > 0 {
				if w.Now == r.since {
					if !w.Map.At(to).Walkable() || w.Map.FindPath(w.Player.Pos.Tile(), to) == nil {
						return out, fail("no way to %v", to)
					}
					out = append(out, Intent{Kind: "walk", To: to})
				}
				done = false
			}
		case "approach":
			n := w.Entity(c.NPC)
			if w.Player.Pos.Dist(n.Pos) > approachDistance {
				if w.Now-r.since >= c.Dur {
					return out, fail("could not reach %s within %v", c.NPC, c.Dur)
				}
				// The NPC may walk on: aim at where it is now, twice a second.
				if len(w.Player.Path) == 0 || w.Now >= r.repathAt {
					out = append(out, Intent{Kind: "walk", To: n.Pos.Tile()})
					r.repathAt = w.Now + time.Second/2
				}
				done = false
			} else {
				out = append(out, Intent{Kind: "move"}) // stop walking
			}
		case "wait":
			done = w.Now-r.since >= c.Dur
		case "talk", "type":
			n := w.Entity(c.NPC)
			r.answersAt[c.NPC], r.actsAt[c.NPC] = n.Answers, n.Acts
			out = append(out, Intent{Kind: c.Op, NPC: c.NPC, Text: c.Text})
		case "key":
			out = append(out, KeyIntent(c.Key))
		case "await":
			n := w.Entity(c.NPC)
			switch c.Text {
			case "reply":
				done = n.Answers > r.answersAt[c.NPC]
			case "act":
				done = n.Acts > r.actsAt[c.NPC]
			default:
				done = w.ActsOnAnswer(c.NPC)
			}
			if !done && w.Now-r.since >= c.Dur {
				return out, fail("no %s from %s within %v", c.Text, c.NPC, c.Dur)
			}
		case "screenshot":
			out = append(out, Intent{Kind: "screenshot", File: c.File})
		case "quit":
			out = append(out, Intent{Kind: "quit"})
		}
		if !done {
			return out, nil
		}
		r.i++
		r.started = false
		if c.Op == "screenshot" || c.Op == "quit" {
			// Let a frame be drawn before anything else happens.
			return out, nil
		}
	}
	return out, nil
}
