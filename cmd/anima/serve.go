package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/server"
)

// runServe runs the websocket server until ctx is cancelled (SIGINT or
// SIGTERM), then drains it. NPCs are answered by the server's stand-in host
// until the NPC pipeline (issue 7) is wired in here.
func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:7777", "listen address; without API keys only a loopback address is allowed")
	configPath := fs.String("config", "", "JSON config file (see server.Config); flags given explicitly override it")
	grace := fs.Duration("grace", 0, "how long a dropped session keeps its NPCs for a resume (default 60s)")
	maxNPCs := fs.Int("max-npcs", 0, "NPC quota per session (default 256)")
	rate := fs.Float64("rate", 0, "messages per second a connection may send (default 200)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log JSON lines instead of text")
	delay := fs.Duration("standin-delay", 40*time.Millisecond, "pause between the stand-in NPC's say deltas")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: anima serve [flags]\n\nAPI keys come from the config file and from ANIMA_API_KEYS (comma-separated).\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler = slog.NewTextHandler(os.Stderr, hopts)
	if *logJSON {
		handler = slog.NewJSONHandler(os.Stderr, hopts)
	}
	log := slog.New(handler)

	var cfg server.Config
	if *configPath != "" {
		var err error
		if cfg, err = server.LoadConfig(*configPath); err != nil {
			return err
		}
	}
	cfg.APIKeys = append(cfg.APIKeys, server.KeysFromEnv(os.Getenv("ANIMA_API_KEYS"))...)
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "grace":
			cfg.Grace = server.Duration(*grace)
		case "max-npcs":
			cfg.MaxNPCs = *maxNPCs
		case "rate":
			cfg.RatePerSecond = *rate
		}
	})

	host := server.NewStandIn(server.StandInOptions{DeltaDelay: *delay})
	defer host.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := server.New(server.Options{
		Config:   cfg,
		Host:     host,
		Registry: reg,
		Logger:   log,
		Model:    protocol.Model{Name: "stand-in", Backend: "standin"},
	})
	if err != nil {
		return err
	}
	// Checked before binding, so a refused address is never opened; Serve
	// checks again for embedders.
	if len(cfg.APIKeys) == 0 && !server.IsLoopback(*addr) {
		return fmt.Errorf("%w: set ANIMA_API_KEYS or api_keys in -config to listen on %s", server.ErrNotLoopback, *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	return srv.Serve(ctx, ln)
}
