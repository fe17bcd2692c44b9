// Command anima-demo plays Anima's demo game (docs/DEMO.md): the village of
// Oakvale, whose NPCs think on an Anima server.
//
// It is its own binary, not an anima subcommand, because ebiten opens the
// display when its package initialises and panics where there is none: linked
// into anima, it would stop anima serve from starting on a headless server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anima-rt/anima/demo"
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
// in-process server built as anima serve builds it; -addr plays against a
// running server instead.
func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("anima-demo", flag.ContinueOnError)
	addr := fs.String("addr", "", "websocket URL of a running server (ws://host:port/v1/ws); empty starts one in this process")
	apiKey := fs.String("api-key", os.Getenv("ANIMA_API_KEY"), "API key for -addr (default $ANIMA_API_KEY)")
	world := fs.String("world", "oakvale", "world to play (assets/worlds)")
	script := fs.String("script", "", "play the player's inputs from this script file (see demo/village.Command)")
	shot := fs.String("screenshot", "", "save the screen as PNG here: at the script's end, or after 3 s, then quit")
	delay := fs.Duration("standin-delay", 40*time.Millisecond, "pause between the stand-in NPC's say deltas")
	verbose := fs.Bool("v", false, "log the server and the client to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	opt := demo.Options{Addr: *addr, APIKey: *apiKey, World: *world, Screenshot: *shot}
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
	if *addr == "" {
		// The NPC minds: the one line to change when the NPC pipeline
		// (issue 7) replaces the stand-in.
		host := server.NewStandIn(server.StandInOptions{DeltaDelay: *delay})
		defer host.Close()
		opt.Server = server.Options{Host: host, Registry: prometheus.NewRegistry(),
			Model: protocol.Model{Name: "stand-in", Backend: "standin"}}
	}
	rep, err := demo.Run(ctx, opt)
	if err != nil {
		return err
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
