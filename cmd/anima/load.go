package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/loadtest"
	"github.com/anima-rt/anima/node"
	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/server"
)

// runLoad runs a load scenario (package loadtest) against an in-process
// server on a loopback port, or against -addr, and prints its report.
func runLoad(ctx context.Context, args []string) error {
	return load(ctx, args, os.Stdout)
}

// load is runLoad with the report written to stdout.
func load(ctx context.Context, args []string, stdout io.Writer) error {
	def := loadtest.DefaultConfig()
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	conns := fs.Int("conns", def.Conns, "simulated game servers, one websocket connection each")
	npcs := fs.Int("npcs", def.NPCs, "NPCs per connection")
	duration := fs.Duration("duration", def.Duration, "whole run, ramp included")
	ramp := fs.Duration("ramp", def.Ramp, "the first part of the run, in which connections start one after another")
	sayEvery := fs.Duration("say-every", def.SayEvery, "mean pause between player lines across the whole run")
	perceiveEvery := fs.Duration("perceive-every", def.PerceiveEvery, "how often each NPC gets a perceive")
	eventEvery := fs.Duration("event-every", def.EventEvery, "mean pause between attacks, gifts and thefts per connection")
	korean := fs.Float64("korean", def.KoreanShare, "share of player lines in Korean (0 for none)")
	conversation := fs.Float64("conversation", def.Conversation, "mean lines a player says to one NPC before turning to another (1: every line to a random NPC)")
	seed := fs.Uint64("seed", def.Seed, "random seed of the simulation's choices")
	persona := fs.String("persona", "", "persona to spawn every NPC with (default: an inline character each)")
	addr := fs.String("addr", "", "load a running server at this ws:// URL (loopback only) instead of an in-process one")
	apiKey := fs.String("api-key", "", "API key for -addr (default $ANIMA_API_KEY)")
	standin := fs.Bool("standin", false, "in-process server with the stand-in host (a keyword table, no model): measures the server alone")
	delay := fs.Duration("standin-delay", 40*time.Millisecond, "with -standin: pause between say deltas")
	modelPath := fs.String("m", "", "in-process server: GGUF model `file` instead of the embedded one")
	threads := fs.Int("threads", 0, "in-process server: compute threads (0: all cores)")
	cacheMiB := fs.Int64("cache-mib", node.DefaultCacheBytes>>20, "in-process server: MiB of the engine's prefix store")
	workers := fs.Int("think-workers", 0, "in-process server: NPC thinks decoded at once (default: as many as the engine decodes together, 10; 16 with -remote)")
	jsonOut := fs.Bool("json", false, "print the report as one JSON object instead of the summary")
	htmlOut := fs.String("html", "", "also write a self-contained HTML report with charts to this file")
	quiet := fs.Bool("q", false, "no progress line")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole process (server and clients) to this `file` (go tool pprof)")
	memProfile := fs.String("memprofile", "", "write a heap profile of the whole process to this `file` at the end of the run, before anything is closed (go tool pprof)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: anima load [flags]\n\nSimulates -conns game servers with -npcs NPCs each against a real server and reports latencies,\nthroughput, errors and resources. Without -addr the server runs in this process on 127.0.0.1,\nwith NPC minds on the embedded model (or -m FILE), as anima serve runs them; -standin\nputs the keyword stand-in in their place, to measure the server alone.\n\nflags:\n")
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
	if *korean == 0 {
		*korean = -1 // Config's zero means the default share
	}
	cfg := loadtest.Config{
		Conns: *conns, NPCs: *npcs, Duration: *duration, Ramp: *ramp,
		SayEvery: *sayEvery, PerceiveEvery: *perceiveEvery, EventEvery: *eventEvery,
		KoreanShare: *korean, Conversation: *conversation, Seed: *seed, Persona: *persona,
	}

	if *addr == "" {
		opt := server.Options{Config: localConfig(*npcs, *perceiveEvery, *sayEvery, *conns), Registry: loadtest.NewRegistry()}
		if *standin {
			host := server.NewStandIn(server.StandInOptions{DeltaDelay: *delay})
			defer host.Close()
			opt.Host, opt.Model = host, protocol.Model{Name: "stand-in", Backend: "standin"}
			cfg.Target = "in-process server, stand-in NPC host"
		} else {
			d, err := node.LoadDecoderWith(*modelPath, node.Options{Threads: *threads, CacheBytes: *cacheMiB << 20})
			if errors.Is(err, assets.ErrNoModel) {
				return fmt.Errorf("%w, or load the server alone: anima load -standin", err)
			}
			if err != nil {
				return err
			}
			defer d.Close()
			// The minds' own log (invalid outputs, failed thinks) would
			// break the progress line; what they count is in the report.
			m, err := node.OpenMinds(d, "", mind.Config{Workers: *workers, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				return err
			}
			defer m.Close()
			if opt.Host, err = m.NPCHost(opt.Registry); err != nil {
				return err
			}
			opt.Model = d.Info()
			cfg.Target = "in-process server, NPC minds on " + d.Info().Name
		}
		local, err := loadtest.StartLocal(opt)
		if err != nil {
			return err
		}
		defer local.Close()
		cfg.URL = local.URL
		cfg.ServerMetrics = local.Gather
		cfg.Resources = loadtest.SelfResources
		cfg.ResourcesFrom = "this process: server and load clients together"
	} else {
		murl, err := loadtest.MetricsURL(*addr)
		if err != nil {
			return err
		}
		scrape := loadtest.Scraper(murl)
		cfg.URL, cfg.Target = *addr, *addr
		cfg.APIKey = *apiKey
		if cfg.APIKey == "" {
			cfg.APIKey = os.Getenv("ANIMA_API_KEY")
		}
		cfg.ServerMetrics = scrape
		cfg.Resources = func(ctx context.Context) (loadtest.Resources, error) {
			fams, err := scrape(ctx)
			if err != nil {
				return loadtest.Resources{}, err
			}
			res, _ := loadtest.ResourcesFromMetrics(fams)
			return res, nil
		}
		cfg.ResourcesFrom = "the server's /metrics"
	}

	if !*quiet && term.IsTerminal(int(os.Stdout.Fd())) {
		bar := progressbar.NewOptions(int(cfg.Duration.Seconds()),
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetWidth(20),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionClearOnFinish(),
		)
		defer bar.Exit()
		cfg.Progress = func(s loadtest.Sample, done float64) {
			first, dec := s.Latency["first_say"], s.Latency["decision"]
			bar.Describe(fmt.Sprintf("%d conns %d NPCs | %.0f lines/s %.0f dec/s | first say p50 %.0fms p99 %.0fms | decision p99 %.0fms | %.0f err/s | %.0f MiB",
				s.Conns, s.NPCs, s.Lines, s.Decisions, first.P50MS, first.P99MS, dec.P99MS, s.Errors, float64(s.RSSBytes)/(1<<20)))
			bar.Set(int(done * cfg.Duration.Seconds()))
		}
	}

	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	if *memProfile != "" {
		// Created now, so that a bad path fails before the run, not after.
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		// At the run's end the server, its NPCs and the clients are all
		// still live: the profile shows what a node of this size holds.
		cfg.AtEnd = func() error {
			runtime.GC()
			if err := pprof.WriteHeapProfile(f); err != nil {
				return err
			}
			return f.Close() // the deferred Close then does nothing
		}
	}
	rep, err := loadtest.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *htmlOut != "" {
		f, err := os.Create(*htmlOut)
		if err != nil {
			return err
		}
		if err := rep.WriteHTML(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if *jsonOut {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	// A run with errors fails, after its report, so scripts and CI can gate
	// on the exit status rather than parse the summary.
	var n uint64
	for _, c := range rep.Errors {
		n += c
	}
	if n > 0 {
		return fmt.Errorf("%d errors during the run (by kind in the report above)", n)
	}
	return nil
}

// localConfig is the in-process server's config: the defaults, with the
// per-connection rate limit and NPC quota raised to fit the scenario, so
// the run measures the server rather than its abuse limits.
func localConfig(npcs int, perceiveEvery, sayEvery time.Duration, conns int) server.Config {
	cfg := server.DefaultConfig()
	perConn := float64(npcs) * float64(time.Second) / float64(perceiveEvery)                            // perceives
	perConn += 4 * float64(time.Second) / float64(max(sayEvery*time.Duration(conns), time.Millisecond)) // lines and the statuses and pings they cause
	cfg.RatePerSecond = max(cfg.RatePerSecond, 2*perConn)
	cfg.RateBurst = max(cfg.RateBurst, int(2*cfg.RatePerSecond))
	cfg.MaxNPCs = max(cfg.MaxNPCs, npcs)
	return cfg
}

// startCPUProfile starts a CPU profile into path (none if path is empty)
// and returns what stops it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
