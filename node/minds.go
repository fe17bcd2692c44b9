package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/anima-rt/anima/npc/memory"
	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/server"
)

// Minds is a mind.Host with the memory store it owns and the histogram
// of its trees' tick lag.
type Minds struct {
	*mind.Host
	store   *memory.Store // nil without a data directory
	tickLag prometheus.Histogram
}

// OpenMinds starts NPC minds on d with the embedded assets, their memories
// in dataDir/memory.db (created as needed; "" keeps them in RAM). cfg's
// Assets, Store and TickLag are filled in, and its Generator unless set (a
// test's wrapper around d); a zero ContextTokens takes d's context.
func OpenMinds(d *Decoder, dataDir string, cfg mind.Config) (*Minds, error) {
	a, err := mind.DefaultAssets()
	if err != nil {
		return nil, err
	}
	m := &Minds{tickLag: server.NewTickLag()}
	if dataDir != "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("node: memory store: %w", err)
		}
		if m.store, err = memory.Open(filepath.Join(dataDir, "memory.db"), 0); err != nil {
			return nil, err
		}
	}
	local := cfg.Generator == nil && d.remote == nil && d.eng != nil
	if cfg.Generator == nil {
		// d's prompts are rendered in the layout its model learnt.
		cfg.Generator, cfg.PromptFormat = d, d.format
	}
	cfg.Assets, cfg.Store = a, m.store
	cfg.TickLag = func(lag time.Duration) { m.tickLag.Observe(lag.Seconds()) }
	if cfg.ContextTokens == 0 {
		cfg.ContextTokens = d.context
	}
	if cfg.Workers == 0 && local {
		// As many thinks at once as the engine decodes: more would wait
		// in its queue in arrival order, out of reach of the minds' own
		// queue, which serves the newest lines first when behind. At
		// 2,000 NPCs (anima load, 2 min runs) 10 workers instead of 16
		// halved the first say's p50 (1,049 -> 582 ms) at the same
		// throughput.
		cfg.Workers = d.eng.Slots()
	}
	if m.Host, err = mind.New(cfg); err != nil {
		if m.store != nil {
			m.store.Close()
		}
		return nil, err
	}
	return m, nil
}

// NPCHost is the server's view of the minds (server.NewMinds), their
// counters and anima_behavior_tick_lag_seconds registered on reg (nil:
// none). Call it once per registry.
func (m *Minds) NPCHost(reg prometheus.Registerer) (*server.Minds, error) {
	h, err := server.NewMinds(m.Host, reg)
	if err != nil || reg == nil {
		return h, err
	}
	if err := reg.Register(m.tickLag); err != nil {
		return nil, fmt.Errorf("node: register tick lag: %w", err)
	}
	return h, nil
}

// Close stops the minds, saving every NPC's memory, then closes the store.
func (m *Minds) Close() error {
	err := m.Host.Close()
	if m.store != nil {
		err = errors.Join(err, m.store.Close())
	}
	return err
}
