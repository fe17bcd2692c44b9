// Package demo is Anima's demo game: the village of Oakvale drawn with
// ebiten, whose NPCs think on an Anima server. It is a real client of the
// runtime: it starts a server in this process (or connects to one), spawns
// the NPCs by persona, streams what each of them perceives, sends the
// player's lines, carries out the acts that come back and reports their
// status, and shows the replies as they stream in.
//
// Threads: ebiten's game loop runs Update and Draw on the main goroutine.
// The network never runs there: the client's own goroutines read the
// socket, Update drains its Events channel without blocking, and what the
// game sends goes through a bounded channel to one sender goroutine. Update
// turns keys and script lines into intents, applies them to the world
// (package village) and steps it; Draw only reads.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/anima-rt/anima/assets"
	"github.com/anima-rt/anima/demo/village"
	"github.com/anima-rt/anima/npc/catalog"
	"github.com/anima-rt/anima/npc/persona"
	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/protocol/client"
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
}

// NPCReport is what one NPC did during a run, for tests and tools.
type NPCReport struct {
	ID, Name   string
	Says, Acts int    // utterances finished, acts received
	LastAct    string // the last act's action id
	LastSaid   string // the last final say
	Bubble     string // what its speech bubble showed last
}

// Report is the outcome of a run.
type Report struct {
	SessionID string
	Statuses  int // action_status messages sent
	NPCs      map[string]NPCReport
	Frames    int
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
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, world, people, err := LoadVillage(opt.World)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	url := opt.Addr
	if url == "" {
		if opt.Server.Host == nil {
			return nil, errors.New("demo: no -addr and no NPC host for the in-process server")
		}
		if opt.Server.Logger == nil {
			opt.Server.Logger = log
		}
		srv, err := server.New(opt.Server)
		if err != nil {
			return nil, fmt.Errorf("demo: start server: %w", err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("demo: start server: %w", err)
		}
		served := make(chan error, 1)
		// Serve returns when ctx is cancelled (Run's return) and the drain ends.
		go func() { served <- srv.Serve(ctx, ln) }()
		defer func() {
			cancel()
			if err := <-served; err != nil {
				log.Warn("demo: server stopped", "err", err)
			}
		}()
		url = "ws://" + ln.Addr().String() + "/v1/ws"
	}

	c, err := client.Dial(ctx, url, client.Options{Name: "anima-demo", APIKey: opt.APIKey, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("demo: connect to %s: %w", url, err)
	}
	defer c.Close()
	lore := world.Lore + "\nPlaces: "
	for i, p := range world.Places {
		if i > 0 {
			lore += "; "
		}
		lore += p.Name + " (" + p.Note + ")"
	}
	w := village.NewWorld(m, people, opt.Seed)
	wmsg := &protocol.World{WorldID: world.ID, Lore: lore}
	if err := spawnAll(ctx, c, wmsg, spawnSpecs(w)); err != nil {
		return nil, err
	}

	out := make(chan village.Outgoing, 1024)
	var wg sync.WaitGroup
	wg.Add(1)
	// The sender exits when out is closed (after the game loop) or ctx ends.
	go func() {
		defer wg.Done()
		send(ctx, c, out, log)
	}()

	// The spawner spawns the NPCs again when a reconnection finds the
	// session gone; it exits when respawns is closed (after the game loop).
	respawns := make(chan []spawnSpec, 1)
	respawned := make(chan error, 1)
	var spawner sync.WaitGroup
	spawner.Add(1)
	go func() {
		defer spawner.Done()
		for specs := range respawns {
			respawned <- spawnAll(ctx, c, wmsg, specs)
		}
	}()

	g, err := newGame(ctx.Done(), w, c, out, opt)
	if err != nil {
		close(out)
		close(respawns)
		wg.Wait()
		spawner.Wait()
		return nil, err
	}
	g.respawns, g.respawned = respawns, respawned
	ebiten.SetWindowSize(ScreenW, ScreenH)
	ebiten.SetWindowTitle("Anima — " + world.Name)
	ebiten.SetRunnableOnUnfocused(true)
	runErr := ebiten.RunGame(g)
	close(out)
	close(respawns)
	// Give the sender a moment to send what the game queued (the last
	// action statuses), then cancel: a send or spawn stuck on a dead
	// connection gives up.
	sent := make(chan struct{})
	// Exits when the sender has.
	go func() { wg.Wait(); close(sent) }()
	select {
	case <-sent:
	case <-time.After(2 * time.Second):
	}
	cancel()
	<-sent
	spawner.Wait()
	g.shots.Wait()
	rep := g.report()
	rep.SessionID = c.Welcome().SessionID
	if runErr != nil {
		return rep, fmt.Errorf("demo: %w", runErr)
	}
	if g.failed != nil {
		return rep, g.failed
	}
	if err := g.shotErr(); err != nil {
		return rep, err
	}
	return rep, nil
}

// spawnSpec is one NPC's spawn, snapshot on the game goroutine.
type spawnSpec struct {
	id   string
	body *protocol.Spawn
}

// spawnSpecs describes every NPC of w as it is now: persona, tree, home and
// what it carries.
func spawnSpecs(w *village.World) []spawnSpec {
	var specs []spawnSpec
	for _, n := range w.NPCs {
		home, _ := w.Map.PlaceAt(n.Home)
		inv := make([]any, len(n.Inventory)) // Args hold JSON values only
		for i, it := range n.Inventory {
			inv[i] = it
		}
		specs = append(specs, spawnSpec{n.ID, &protocol.Spawn{Persona: n.Persona, Tree: n.Tree,
			Blackboard: protocol.Args{"home": home.Name, "inventory": inv}}})
	}
	return specs
}

// spawnAll sends the world's lore and spawns every NPC, waiting for each
// spawned; it runs before the game loop, and on a goroutine of its own when
// a reconnection finds the session gone.
func spawnAll(ctx context.Context, c *client.Client, world *protocol.World, specs []spawnSpec) error {
	if err := c.World(ctx, world); err != nil {
		return fmt.Errorf("demo: send world: %w", err)
	}
	for _, s := range specs {
		if _, err := c.Spawn(ctx, s.id, s.body); err != nil {
			return fmt.Errorf("demo: spawn %s: %w", s.id, err)
		}
	}
	return nil
}

// send writes the game's messages to the server in order. A failed send is
// logged and dropped: the game goes on, and a perceive a second later
// replaces a lost one.
func send(ctx context.Context, c *client.Client, out <-chan village.Outgoing, log *slog.Logger) {
	for o := range out {
		var err error
		switch m := o.Msg.(type) {
		case *protocol.Perceive:
			err = c.Perceive(ctx, o.NPC, m)
		case *protocol.PlayerSay:
			err = c.PlayerSay(ctx, o.NPC, m)
		case *protocol.ActionStatus:
			err = c.ActionStatus(ctx, o.NPC, m)
		default:
			err = fmt.Errorf("demo: cannot send %T", m)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("demo: send", "npc", o.NPC, "type", o.Msg.MessageType(), "err", err)
		}
	}
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
