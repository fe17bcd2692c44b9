package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/node"
	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/server"
)

// runServe runs the websocket server until ctx is cancelled (SIGINT or
// SIGTERM), then drains it, then saves every NPC's memory. NPCs think with
// the embedded model (or -m FILE); -standin answers from a keyword table
// with no model, for tests of the wire alone.
func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:7777", "listen address; without API keys only a loopback address is allowed")
	configPath := fs.String("config", "", "JSON config file (see server.Config); flags given explicitly override it")
	grace := fs.Duration("grace", 0, "how long a dropped session keeps its NPCs for a resume (default 60s)")
	maxNPCs := fs.Int("max-npcs", 0, "NPC quota per session (default 256)")
	rate := fs.Float64("rate", 0, "messages per second a connection may send (default 200)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log JSON lines instead of text")
	standin := fs.Bool("standin", false, "answer from the stand-in's keyword table instead of a model (no NPC minds)")
	delay := fs.Duration("standin-delay", 40*time.Millisecond, "with -standin: pause between say deltas")
	modelPath := fs.String("m", "", "GGUF model `file` instead of the embedded one")
	threads := fs.Int("threads", 0, "compute threads (0: all cores)")
	cacheMiB := fs.Int64("cache-mib", node.DefaultCacheBytes>>20, "MiB of the prefix store, which keeps prompts' keys and values for the next prompt that starts alike (a conversation's next turn)")
	dataDir := fs.String("data", defaultDataDir(), "`dir`ectory of the NPC memory store; empty: memories last only as long as the process")
	workers := fs.Int("think-workers", 0, "NPC thinks decoded at once (default: as many as the engine decodes together, 10; 16 with -remote)")
	oa := addOpenAIFlags(fs)
	rf := addRemoteFlags(fs)
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
	if *cacheMiB < 1 || *cacheMiB > 1<<20 {
		return fmt.Errorf("-cache-mib %d: want 1 to 1048576", *cacheMiB)
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

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var host server.NPCHost
	info := protocol.Model{Name: "stand-in", Backend: "standin"}
	if *standin {
		si := server.NewStandIn(server.StandInOptions{DeltaDelay: *delay})
		defer si.Close()
		host = si
	} else {
		d, err := rf.decoder(*modelPath, node.Options{Threads: *threads, CacheBytes: *cacheMiB << 20})
		if errors.Is(err, assets.ErrNoModel) {
			return fmt.Errorf("%w, or serve without one: anima serve -standin", err)
		}
		if err != nil {
			return err
		}
		defer d.Close()
		m, err := node.OpenMinds(d, *dataDir, mind.Config{Workers: *workers, Logger: log})
		if err != nil {
			return err
		}
		defer func() {
			if err := m.Close(); err != nil {
				log.Error("closing NPC minds", "err", err)
			}
		}()
		if host, err = m.NPCHost(reg); err != nil {
			return err
		}
		info = d.Info()
		log.Info("npc minds on the model", "model", info.Name, "arch", info.Arch, "context", info.ContextTokens, "data", *dataDir)
		if err := oa.start(d, cfg.APIKeys, log); err != nil {
			return err
		}
		defer oa.stop() // before the decoder closes
	}
	srv, err := server.New(server.Options{
		Config:   cfg,
		Host:     host,
		Registry: reg,
		Logger:   log,
		Model:    info,
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

// defaultDataDir is where NPC memories live unless -data says otherwise:
// $XDG_STATE_HOME/anima, else ~/.local/state/anima, else ./anima-data.
func defaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "anima")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "anima")
	}
	return "anima-data"
}
