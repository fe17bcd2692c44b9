package server

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anima-rt/anima/protocol"
)

// recorder is an Outbox that keeps what it is sent.
type recorder struct {
	mu   sync.Mutex // guards msgs
	msgs []protocol.Message
}

func (r *recorder) Send(npc, requestID string, m protocol.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
}

func (r *recorder) snapshot() []protocol.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]protocol.Message(nil), r.msgs...)
}

// finals returns the final says recorded.
func (r *recorder) finals() []*protocol.Say {
	var out []*protocol.Say
	for _, m := range r.snapshot() {
		if s, ok := m.(*protocol.Say); ok && s.Final {
			out = append(out, s)
		}
	}
	return out
}

func TestStandInAnswers(t *testing.T) {
	tests := []struct {
		text, action, reply string
	}{
		{"Hello!", "idle", "Well met, traveller. What brings you here?"},
		{"please HELP", "follow", "Lead the way. I'll be right behind you."},
		{"what's the price", "trade", "Let's see what you've got, then."},
		{"helpful", "idle", `You said "helpful". I am only a stand-in; my mind comes later.`},
	}
	for _, tt := range tests {
		if got := standInAnswer(tt.text); got.action != tt.action || got.text != tt.reply {
			t.Errorf("standInAnswer(%q) = %s %q; want %s %q", tt.text, got.action, got.text, tt.action, tt.reply)
		}
	}
	for _, text := range []string{"a b c d e f g", "one", ""} {
		if got := strings.Join(splitDeltas(text, 4), ""); got != text {
			t.Errorf("splitDeltas(%q) joins to %q", text, got)
		}
	}
}

// TestStandInInterrupt: an interrupt ends a streaming utterance at once,
// with a final say of what was said, and the stream sends nothing after it.
func TestStandInInterrupt(t *testing.T) {
	si := NewStandIn(StandInOptions{DeltaDelay: time.Hour})
	defer si.Close()
	ref := NPCRef{Session: "s", NPC: "n"}
	out := &recorder{}
	if _, err := si.Spawn(ref, &protocol.Spawn{Persona: "smith"}, out); err != nil {
		t.Fatal(err)
	}
	if err := si.PlayerSay(ref, "q", &protocol.PlayerSay{Speaker: "p", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	var first string
	waitFor(t, "the first delta", func() bool {
		for _, m := range out.snapshot() {
			if s, ok := m.(*protocol.Say); ok && !s.Final {
				first = s.Delta
				return true
			}
		}
		return false
	})
	if err := si.Interrupt(ref, &protocol.Interrupt{}); err != nil {
		t.Fatal(err)
	}
	if f := out.finals(); len(f) != 1 || f[0].Text != first {
		t.Fatalf("final says after the interrupt = %+v; want one with %q", f, first)
	}
	if err := si.Interrupt(ref, &protocol.Interrupt{}); err != nil || len(out.finals()) != 1 {
		t.Errorf("a second interrupt: %v, %d finals; want nil and still one", err, len(out.finals()))
	}
}

func TestStandInErrors(t *testing.T) {
	si := NewStandIn(StandInOptions{Workers: 1, Queue: 1, DeltaDelay: time.Hour})
	defer si.Close()
	ghost := NPCRef{Session: "s", NPC: "ghost"}
	code := func(err error) protocol.Code {
		var perr *protocol.Error
		if errors.As(err, &perr) {
			return perr.Code
		}
		return ""
	}
	if err := si.Perceive(ghost, &protocol.Perceive{}); code(err) != protocol.CodeUnknownNPC {
		t.Errorf("Perceive(unspawned) = %v; want unknown_npc", err)
	}
	ref := NPCRef{Session: "s", NPC: "n"}
	si.Spawn(ref, &protocol.Spawn{Persona: "smith"}, &recorder{})
	if err := si.ActionStatus(ref, &protocol.ActionStatus{ActionID: "nope", Status: "success"}); code(err) != protocol.CodeUnknownAction {
		t.Errorf("ActionStatus(unknown action) = %v; want unknown_action", err)
	}
	// Hold the one worker, fill the one-slot queue: the next line is refused.
	block := make(chan struct{})
	si.jobs <- func() { <-block }
	defer close(block)
	waitFor(t, "the worker to take the blocking job", func() bool { return len(si.jobs) == 0 })
	var err error
	for i := 0; i < 2 && err == nil; i++ {
		err = si.PlayerSay(ref, "", &protocol.PlayerSay{Speaker: "p", Text: "hi"})
	}
	if code(err) != protocol.CodeOverloaded {
		t.Errorf("PlayerSay with a full queue = %v; want overloaded", err)
	}
}
