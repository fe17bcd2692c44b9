// Package demo is Anima's demo game: the village of Oakvale drawn with
// ebiten, whose NPCs think on an Anima server. It is a real client of the
// runtime: it starts a server in this process (or connects to one), spawns
// the NPCs by persona, streams what each of them perceives, sends the
// player's lines, carries out the acts that come back and reports their
// status, and shows the replies as they stream in.
//
// Layers: package village is the world (map, people, acts, perception,
// scripts), package link its connection to the server, and this package
// the window: ebiten's loop runs Update and Draw on the main goroutine, and
// the network never runs there (link's Poll and Flush never wait). Update
// turns keys and script lines into intents, applies them to the world and
// steps it; Draw only reads.
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/demo/link"
	"github.com/anima-rt/anima/demo/village"
	"github.com/anima-rt/anima/npc/catalog"
	"github.com/anima-rt/anima/npc/persona"
	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/server"
)

// Options configure Run.
type Options struct {
	// Addr is a running server's websocket URL (ws://host:port/v1/ws);
	// empty starts one in this process from Server.
	Addr   string
	APIKey string
	// Server builds the in-process server, exactly as anima serve does;
	// its Host (the NPC minds) is required when Addr is empty.
	Server server.Options
	// World is the world file's id; default "oakvale".
	World string
	// Script, if set, is played as the player's input (village.ParseScript);
	// the game ends when it quits or fails.
	Script []village.Command
	// Screenshot, if set, saves the screen there: at the end of the script,
	// or after three seconds without one, and then the game ends.
	Screenshot string
	Logger     *slog.Logger
	// Seed makes wandering repeatable.
	Seed uint64
	// Stats measures the run: each reply's time to first word, and the
	// duration of every Update and Draw (Report.Stats).
	Stats bool
}

// NPCReport is what one NPC did during a run, for tests and tools.
type NPCReport struct {
	ID, Name   string
	Says, Acts int    // utterances finished, acts received
	Answers    int    // answers to the player ended (a final say, or a decision that says nothing)
	Errors     int    // error messages the server sent about it
	LastError  string // the last one
	Decision   string // the last decision, as JSON
	LastAct    string // the last act's action id
	LastSaid   string // the last final say
	Bubble     string // what its speech bubble showed last
	TreePath   string // the active tree path the server reported last
	// PathChanges counts the tree_path messages received; Statuses counts
	// the action_status messages the game sent about it, by status.
	PathChanges int
	Statuses    map[string]int
	Pursued     []string // decided actions its tree ran since the last line (village.Entity.Pursued)
	// Answered is the action of the decision that answered the player's
	// last line, when Decided; Decision may be a later one, of the NPC's
	// own.
	Answered string
	Decided  bool
}

// Report is the outcome of a run.
type Report struct {
	SessionID string
	Statuses  int // action_status messages sent
	NPCs      map[string]NPCReport
	Frames    int
	Stats     *Stats // with Options.Stats
}

// trees is logically constant: the main behaviour trees the personas may
// name (assets/trees/*.xml other than the shared actions.xml).
var trees = []string{"child", "farmer", "guard", "innkeeper", "merchant", "wanderer"}

// LoadVillage builds the map and the people of world id from the embedded
// assets: every persona of that world, sorted by id.
func LoadVillage(id string) (*village.Map, *persona.World, []*persona.Persona, error) {
	cat, err := catalog.Default()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("demo: load catalog: %w", err)
	}
	set, err := persona.LoadFS(assets.Personas(), assets.Worlds(), persona.Known{Catalog: cat, Trees: trees})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("demo: load personas: %w", err)
	}
	w := set.Worlds[id]
	if w == nil {
		var ids []string
		for k := range set.Worlds {
			ids = append(ids, k)
		}
		sort.Strings(ids)
		return nil, nil, nil, fmt.Errorf("demo: no world %q (have %s)", id, strings.Join(ids, ", "))
	}
	var people []*persona.Persona
	for _, pid := range set.PersonaIDs() {
		if p := set.Personas[pid]; p.World == id {
			people = append(people, p)
		}
	}
	m, _ := village.Build(w)
	return m, w, people, nil
}

// Run plays the demo until the window closes, the script quits or ctx is
// cancelled. It must be called from the main goroutine (ebiten's rule).
func Run(ctx context.Context, opt Options) (*Report, error) {
	if opt.World == "" {
		opt.World = "oakvale"
	}
	m, world, people, err := LoadVillage(opt.World)
	if err != nil {
		return nil, err
	}
	w := village.NewWorld(m, people, opt.Seed)
	// The lore alone: a server that knows the world id (every Anima server
	// ships assets/worlds) lists its places with their prompt ids under
	// [Places]; naming them in the lore text too put each place in every
	// prompt twice (~80 tokens).
	l, err := link.Start(ctx, link.Options{Addr: opt.Addr, APIKey: opt.APIKey, Server: opt.Server, Logger: opt.Logger},
		w, &protocol.World{WorldID: world.ID, Lore: world.Lore})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	g, err := newGame(ctx.Done(), w, l, opt)
	if err != nil {
		l.Close()
		return nil, err
	}
	ebiten.SetWindowSize(ScreenW, ScreenH)
	ebiten.SetWindowTitle("Anima — " + world.Name)
	ebiten.SetRunnableOnUnfocused(true)
	runErr := ebiten.RunGame(g)
	rep := g.report()
	rep.SessionID = l.SessionID()
	closeErr := l.Close()
	g.shots.Wait()
	switch {
	case runErr != nil:
		return rep, fmt.Errorf("demo: %w", runErr)
	case g.failed != nil:
		return rep, g.failed
	}
	if err := g.shotErr(); err != nil {
		return rep, err
	}
	if closeErr != nil {
		opt.logger().Warn("demo: close", "err", closeErr)
	}
	return rep, nil
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o.Logger
}

// ReadScript parses the script file at path.
func ReadScript(path string) ([]village.Command, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("demo: script: %w", err)
	}
	defer f.Close()
	cmds, err := village.ParseScript(f)
	if err != nil {
		return nil, fmt.Errorf("demo: %s: %w", path, err)
	}
	return cmds, nil
}
