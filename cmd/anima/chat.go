package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/anima-rt/anima/node"
	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/npc/persona"
	"github.com/anima-rt/anima/protocol"
)

// runChat talks to one NPC from the terminal on the embedded model.
func runChat(ctx context.Context, args []string) error {
	return chat(ctx, args, os.Stdin, os.Stdout, os.Stderr, nil)
}

// chatOutbox hands an NPC's messages to the chat loop. Send never blocks:
// the buffer holds far more than one reply, and a say delta that finds it
// full is dropped (the final say carries the whole line).
type chatOutbox chan protocol.Envelope

func (o chatOutbox) Send(npcID, requestID string, m protocol.Message) {
	env := protocol.NewEnvelope(requestID, npcID, m)
	if s, ok := m.(*protocol.Say); ok && !s.Final {
		select {
		case o <- env:
		default:
		}
		return
	}
	o <- env
}

// chat runs anima chat with stdin, stdout and stderr given; d, when not
// nil, is the model to use (tests share one).
func chat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, d *node.Decoder) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	personaID := fs.String("persona", "brannoc", "persona to talk to (assets/personas)")
	sayText := fs.String("say", "", "say this once, print the decision as one JSON line, and exit")
	name := fs.String("name", "", "your name, as the NPC sees you (empty: a stranger)")
	modelPath := fs.String("m", "", "GGUF model `file` instead of the embedded one")
	threads := fs.Int("threads", 0, "compute threads (0: all cores)")
	dataDir := fs.String("data", "", "`dir`ectory of the NPC memory store, to remember across chats (empty: forget on exit)")
	maxTokens := fs.Int("max-tokens", 0, "tokens per decision at most (default 128)")
	temp := fs.Float64("temp", 0.7, "sampling temperature; 0 is greedy")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: anima chat [-persona NAME] [-say TEXT] [flags]\n\n"+
			"Talk to one NPC on the embedded model: its words stream as decoded, then its\n"+
			"decision JSON, cache reuse and timings. Lines starting with / are commands:\n"+
			"/memory, /prompt, /quit. With -say it answers once and prints the decision\n"+
			"message as one JSON line.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if d == nil {
		var err error
		if d, err = node.LoadDecoder(*modelPath, *threads); err != nil {
			return err
		}
		defer d.Close()
	}
	temperature := float32(*temp)
	if temperature == 0 {
		temperature = -1 // mind.Config: negative is greedy
	}
	m, err := node.OpenMinds(d, *dataDir, mind.Config{NoAmbient: true, KeepPrompt: true, MaxTokens: *maxTokens, Temperature: temperature,
		Workers: 1, Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	defer m.Close()
	set := m.Assets().Set
	p := set.Personas[*personaID]
	if p == nil {
		return fmt.Errorf("unknown persona %q (known: %s)", *personaID, strings.Join(set.PersonaIDs(), ", "))
	}

	out := make(chatOutbox, 4096)
	ref := mind.Ref{Session: "chat", NPC: *personaID}
	if _, err := m.Spawn(ref, &protocol.Spawn{Persona: *personaID}, out); err != nil {
		return err
	}
	// The player stands two metres away; the perceive is repeated before
	// each line, as a game would keep sending them.
	// The NPC is at work in the morning, worded as the embedded model was
	// trained to read it.
	scene := &protocol.Perceive{Time: "morning", Self: protocol.Self{Location: workplace(p.Knowledge), Status: "working"},
		Entities: []protocol.Entity{{ID: "p1", Kind: "player", Name: *name, Position: protocol.Vec{X: 2}}}}
	if p.Language == persona.Korean {
		scene.Time, scene.Self.Status = "아침", "일하는 중"
	}

	turn := 0
	ask := func(text string, interactive bool) (*protocol.Decision, error) {
		turn++
		id := fmt.Sprintf("c%d", turn)
		if err := m.Perceive(ref, scene); err != nil {
			return nil, err
		}
		if err := m.PlayerSay(ref, id, &protocol.PlayerSay{Speaker: "p1", Name: *name, Text: text}); err != nil {
			return nil, err
		}
		for {
			select {
			case env := <-out:
				switch b := env.Body.(type) {
				case *protocol.Say:
					if interactive && env.ID == id && !b.Final {
						fmt.Fprint(stdout, b.Delta)
					}
				case *protocol.Act:
					// A game would carry it out; here it is done at once.
					m.ActionStatus(ref, &protocol.ActionStatus{ActionID: b.ActionID, Status: protocol.StatusSuccess})
				case *protocol.Decision:
					if env.ID == id {
						return b, nil
					}
				case *protocol.Error:
					if env.ID == id {
						return nil, b
					}
				}
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}

	if *sayText != "" {
		dec, err := ask(*sayText, false)
		if err != nil {
			return err
		}
		line, err := json.Marshal(dec)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", line)
		return err
	}

	fmt.Fprintf(stdout, "Talking to %s (%s) on %s. /memory, /prompt, /quit.\n", p.Name, p.Role, d.Info().Name)
	in := bufio.NewScanner(stdin)
	for {
		fmt.Fprint(stdout, "> ")
		if !in.Scan() {
			fmt.Fprintln(stdout)
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
		switch line {
		case "":
			continue
		case "/quit", "/exit":
			return nil
		case "/memory", "/prompt":
			insp, err := m.Inspect(ref)
			if err != nil {
				return err
			}
			if line == "/prompt" {
				fmt.Fprintln(stdout, insp.Prompt)
			} else {
				for _, mem := range insp.Memories {
					fmt.Fprintln(stdout, "  -", mem)
				}
			}
			continue
		}
		fmt.Fprintf(stdout, "%s: ", p.Name)
		start := time.Now()
		dec, err := ask(line, true)
		var perr *protocol.Error
		if errors.As(err, &perr) {
			fmt.Fprintf(stdout, "\n(%v)\n", perr)
			continue
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		fmt.Fprintf(stdout, "  %s\n", dec.Raw)
		if s := dec.Stats; s != nil {
			reuse := 0.0
			if s.PromptTokens > 0 {
				reuse = 100 * float64(s.ReusedTokens) / float64(s.PromptTokens)
			}
			fmt.Fprintf(stdout, "  [%d of %d prompt tokens from cache (%.0f%%), %d generated; first token %.0f ms, decision %.0f ms, reply %.0f ms]\n",
				s.ReusedTokens, s.PromptTokens, reuse, s.GeneratedTokens, s.TTFTMS, s.TotalMS, float64(time.Since(start).Microseconds())/1000)
		}
	}
}

// workplace is the place a persona's knowledge says it works at ("You work
// at the Ember Forge", "쇠메 대장간에서 일한다"), or "".
func workplace(knowledge []string) string {
	for _, k := range knowledge {
		k = strings.TrimSuffix(strings.TrimSpace(k), ".")
		if w, ok := strings.CutPrefix(k, "You work at "); ok {
			return w
		}
		if w, ok := strings.CutSuffix(k, "에서 일한다"); ok {
			return w
		}
	}
	return ""
}
