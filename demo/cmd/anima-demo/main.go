// Command anima-demo plays Anima's demo game (docs/DEMO.md): the village of
// Oakvale, whose NPCs think on an Anima server.
//
// It is its own binary, not an anima subcommand, because ebiten opens the
// display when its package initialises and panics where there is none: linked
// into anima, it would stop anima serve from starting on a headless server.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/demo"
	"github.com/anima-rt/anima/node"
	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runDemo(ctx, os.Args[1:])
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "anima-demo:", err)
		os.Exit(1)
	}
}

// runDemo plays the demo game. By default it serves the NPCs from an
// in-process server built as anima serve builds it: NPC minds on the
// embedded model (package node). -standin serves them from the keyword
// stand-in instead, for quick runs; -addr plays against a running server.
func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("anima-demo", flag.ContinueOnError)
	addr := fs.String("addr", "", "websocket URL of a running server (ws://host:port/v1/ws); empty starts one in this process")
	apiKey := fs.String("api-key", os.Getenv("ANIMA_API_KEY"), "API key for -addr (default $ANIMA_API_KEY)")
	world := fs.String("world", "oakvale", "world to play (assets/worlds)")
	script := fs.String("script", "", "play the player's inputs from this script file (see demo/village.Command)")
	shot := fs.String("screenshot", "", "save the screen as PNG here: at the script's end, or after 3 s, then quit")
	standin := fs.Bool("standin", false, "in-process server: NPCs answer from the stand-in's keyword table, no model (quick runs)")
	delay := fs.Duration("standin-delay", 40*time.Millisecond, "with -standin: pause between say deltas")
	modelPath := fs.String("m", "", "in-process server: GGUF model `file` instead of the embedded one")
	threads := fs.Int("threads", 0, "in-process server: compute threads of the model (0: all cores)")
	stats := fs.String("stats", "", "write the run's figures here as JSON: each reply's time to first word, Update/Draw durations, TPS/FPS (docs/DEMO.md)")
	ambient := fs.Bool("ambient", true, "in-process minds: NPCs also think unprompted (idle chatter); false: only when spoken to")
	verbose := fs.Bool("v", false, "log the server and the client to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *stats != "" {
		// Found now, not after the designer has played: the file is
		// created empty and written at the end.
		if err := os.WriteFile(*stats, nil, 0o644); err != nil {
			return fmt.Errorf("-stats: %w", err)
		}
	}
	opt := demo.Options{Addr: *addr, APIKey: *apiKey, World: *world, Screenshot: *shot, Stats: *stats != ""}
	if *verbose {
		opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if *script != "" {
		cmds, err := demo.ReadScript(*script)
		if err != nil {
			return err
		}
		opt.Script = cmds
	}
	closeMinds := func() error { return nil }
	switch {
	case *addr != "":
	case *standin:
		host := server.NewStandIn(server.StandInOptions{DeltaDelay: *delay})
		defer host.Close()
		opt.Server = server.Options{Host: host, Registry: prometheus.NewRegistry(),
			Model: protocol.Model{Name: "stand-in", Backend: "standin"}}
	default:
		d, err := node.LoadDecoder(*modelPath, *threads)
		if errors.Is(err, assets.ErrNoModel) {
			return fmt.Errorf("%w, or play without one: anima-demo -standin", err)
		}
		if err != nil {
			return err
		}
		defer d.Close()
		// Memories last as long as the game: every run starts the
		// village afresh.
		log := opt.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		m, err := node.OpenMinds(d, "", mind.Config{Logger: log, NoAmbient: !*ambient})
		if err != nil {
			return err
		}
		closeMinds = m.Close // once the game has stopped its server
		reg := prometheus.NewRegistry()
		host, err := m.NPCHost(reg)
		if err != nil {
			return errors.Join(err, m.Close())
		}
		opt.Server = server.Options{Host: host, Registry: reg, Model: d.Info()}
	}
	rep, err := demo.Run(ctx, opt)
	if err := errors.Join(err, closeMinds()); err != nil {
		return err
	}
	if *stats != "" {
		if err := writeStats(*stats, rep.Stats); err != nil {
			return err
		}
	}
	if *script != "" {
		for _, n := range rep.NPCs {
			if n.Says+n.Acts > 0 {
				fmt.Printf("%s: %d replies, %d acts; last said %q\n", n.Name, n.Says, n.Acts, n.LastSaid)
			}
		}
		fmt.Printf("%d action statuses sent, %d frames\n", rep.Statuses, rep.Frames)
	}
	return nil
}

// writeStats writes the run's figures as indented JSON, and their gist to
// stdout.
func writeStats(path string, s *demo.Stats) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	fmt.Printf("first word: %d replies; arrived p50 %.0f ms, max %.0f ms; in the world p50 %.0f ms, max %.0f ms; shown p50 %.0f ms, max %.0f ms; model ttft p50 %.0f ms\n",
		s.FirstWordMS.N, s.ArrivedMS.P50, s.ArrivedMS.Max, s.FirstWordMS.P50, s.FirstWordMS.Max, s.ShownMS.P50, s.ShownMS.Max, s.ModelTTFTMS.P50)
	fmt.Printf("update: p50 %.2f ms, p99 %.2f ms, max %.2f ms; draw: p50 %.2f ms, p99 %.2f ms; frame: p50 %.1f ms\n",
		s.UpdateMS.P50, s.UpdateMS.P99, s.UpdateMS.Max, s.DrawMS.P50, s.DrawMS.P99, s.FrameMS.P50)
	fmt.Printf("while NPCs think: update p99 %.2f ms, max %.2f ms; frame p50 %.1f ms; TPS min %.1f, p50 %.1f; FPS min %.1f, p50 %.1f\n",
		s.UpdateThinkingMS.P99, s.UpdateThinkingMS.Max, s.FrameThinkingMS.P50, s.TPSThinking.Min, s.TPSThinking.P50, s.FPSThinking.Min, s.FPSThinking.P50)
	return nil
}
