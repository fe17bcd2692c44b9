// Package link connects the demo's world (package village) to an Anima
// server: it starts one in this process or dials a running one, spawns the
// NPCs, and carries messages both ways without ever making the game loop
// wait. It draws nothing, so the whole client side of the demo is tested
// without a display.
//
// Goroutines: the client's reader and writer; one relay, which stamps each
// server message with the time it came off the client (so the game can
// tell the network's share of a wait from its own frame's) and hands it on
// through a bounded channel (when it is full the relay waits, and the
// client's own buffer policy applies); one sender, which writes what
// the game queued (a bounded channel: when it is full the game drops the
// message and counts it, and a perceive a second later replaces a lost
// one); one spawner, which spawns the NPCs again when a reconnection finds
// the session gone; and, in process, the server's. Poll and Flush are
// called from the game loop and never block.
package link

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/anima-rt/anima/demo/village"
	"github.com/anima-rt/anima/protocol"
	"github.com/anima-rt/anima/protocol/client"
	"github.com/anima-rt/anima/server"
)

// Sizes of the queues between the game loop and the network.
const (
	outQueue         = 1024
	inQueue          = 1024
	maxEventsPerPoll = 256 // a burst is spread over frames instead of stalling one
	flushGrace       = 2 * time.Second
)

// Options configure Start.
type Options struct {
	// Addr is a running server's websocket URL (ws://host:port/v1/ws);
	// empty starts one in this process from Server.
	Addr   string
	APIKey string
	// Server builds the in-process server, as anima serve does; its Host
	// (the NPC minds) is required when Addr is empty.
	Server server.Options
	Logger *slog.Logger
}

// Link is a live connection of a world to a server. Poll, Flush, Status and
// Dropped belong to the game loop's goroutine.
type Link struct {
	c      *client.Client
	cancel context.CancelFunc
	served chan error // the in-process server's Serve result; nil for -addr
	log    *slog.Logger

	in        chan arrival // from the relay, which closes it when it exits
	relay     sync.WaitGroup
	out       chan village.Outgoing
	sender    sync.WaitGroup
	respawns  chan []spawnSpec
	respawned chan error
	spawner   sync.WaitGroup

	respawning bool
	status     string // the latest connection news, for the screen
	dropped    int    // messages the game could not queue
	closed     bool
}

// arrival is a server message and when it came off the client.
type arrival struct {
	env protocol.Envelope
	at  time.Time
}

// Start connects: it starts the in-process server if opt.Addr is empty,
// dials, sends the lore and spawns every NPC of w, waiting for each
// spawned (before the game loop runs, so waiting is fine here).
func Start(ctx context.Context, opt Options, w *village.World, lore *protocol.World) (*Link, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Link{cancel: cancel, log: log, out: make(chan village.Outgoing, outQueue), in: make(chan arrival, inQueue),
		respawns: make(chan []spawnSpec, 1), respawned: make(chan error, 1)}
	url := opt.Addr
	if url == "" {
		if opt.Server.Host == nil {
			cancel()
			return nil, errors.New("link: start: no server address and no NPC host for an in-process server")
		}
		if opt.Server.Logger == nil {
			opt.Server.Logger = log
		}
		srv, err := server.New(opt.Server)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("link: start server: %w", err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			cancel()
			return nil, fmt.Errorf("link: start server: %w", err)
		}
		l.served = make(chan error, 1)
		// Serve returns when ctx is cancelled (Close) and the drain ends.
		go func() { l.served <- srv.Serve(ctx, ln) }()
		url = "ws://" + ln.Addr().String() + "/v1/ws"
	}
	c, err := client.Dial(ctx, url, client.Options{Name: "anima-demo", APIKey: opt.APIKey, Logger: log})
	if err != nil {
		l.stopServer()
		return nil, fmt.Errorf("link: connect to %s: %w", url, err)
	}
	l.c = c
	if err := spawnAll(ctx, c, lore, spawnSpecs(w)); err != nil {
		c.Close()
		l.stopServer()
		return nil, err
	}
	l.relay.Add(1)
	// The relay exits when the client's Events closes (Close closes the
	// client) or Close cancels ctx.
	go func() {
		defer l.relay.Done()
		defer close(l.in)
		for env := range c.Events() {
			select {
			case l.in <- arrival{env, time.Now()}:
			case <-ctx.Done():
				return
			}
		}
	}()
	l.sender.Add(1)
	// The sender exits when Close closes out.
	go func() {
		defer l.sender.Done()
		send(ctx, c, l.out, log)
	}()
	l.spawner.Add(1)
	// The spawner exits when Close closes respawns.
	go func() {
		defer l.spawner.Done()
		for specs := range l.respawns {
			l.respawned <- spawnAll(ctx, c, lore, specs)
		}
	}()
	return l, nil
}

func (l *Link) stopServer() {
	l.cancel()
	if l.served != nil {
		if err := <-l.served; err != nil {
			l.log.Warn("link: server stopped", "err", err)
		}
		l.served = nil
	}
}

// Close sends what the game queued (waiting up to two seconds for a slow
// connection), then closes the connection and stops the in-process server.
func (l *Link) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.out)
	close(l.respawns)
	sent := make(chan struct{})
	// Exits when the sender has.
	go func() { l.sender.Wait(); close(sent) }()
	select {
	case <-sent:
	case <-time.After(flushGrace):
	}
	l.cancel() // a send or spawn stuck on a dead connection gives up
	<-sent
	l.spawner.Wait()
	err := l.c.Close()
	l.relay.Wait()
	l.stopServer()
	return err
}

// SessionID is the server's id of this session.
func (l *Link) SessionID() string { return l.c.Welcome().SessionID }

// Model names the model that drives the NPCs, from the server's welcome.
func (l *Link) Model() string { return l.c.Welcome().Model.Name }

// Status is the latest connection news ("" when there is none).
func (l *Link) Status() string { return l.status }

// Dropped counts messages the game could not queue because the sender lagged.
func (l *Link) Dropped() int { return l.dropped }

// Poll applies to w the server messages that have arrived, without waiting
// for more.
func (l *Link) Poll(w *village.World) {
	if l.respawning {
		select {
		case err := <-l.respawned:
			l.respawning, l.status = false, "reconnected; NPCs spawned again"
			if err != nil {
				l.status = err.Error()
			}
		default:
		}
	}
	for range maxEventsPerPoll {
		select {
		case a, ok := <-l.in:
			if !ok {
				l.status = "disconnected"
				return
			}
			env := a.env
			if wel, ok := env.Body.(*protocol.Welcome); ok && !wel.Resumed {
				l.respawn(w)
			} else if env.NPC == "" {
				l.status = "server: " + env.Type
			}
			w.HandleAt(env, a.at)
		default:
			return
		}
	}
}

// Flush queues what w has to say to the server.
func (l *Link) Flush(w *village.World) {
	for _, o := range w.Drain() {
		select {
		case l.out <- o:
		default:
			l.dropped++
		}
	}
}

// respawn spawns every NPC again after a reconnection that found the
// session gone (the server restarted, or the grace period ran out): the
// server has forgotten them and their acts, so the game forgets the acts
// too.
func (l *Link) respawn(w *village.World) {
	l.status = "reconnected to a new session; spawning NPCs again"
	for _, n := range w.NPCs {
		n.Action, n.Path = nil, nil
	}
	if l.respawning {
		return // one is running; the server refuses duplicates anyway
	}
	select {
	case l.respawns <- spawnSpecs(w):
		l.respawning = true
	default: // cannot happen: the channel has room when none is running
	}
}

// spawnSpec is one NPC's spawn, snapshot on the game goroutine.
type spawnSpec struct {
	id   string
	body *protocol.Spawn
}

// spawnSpecs describes every NPC of w as it is now: persona, tree and
// home. What it carries goes in every perceive (self.inventory), where
// the mind reads it; NPC minds take only strings, numbers and booleans on
// the blackboard. Every NPC asks for tree_path, for the designer view: a
// village of eight costs the server nothing to speak of.
func spawnSpecs(w *village.World) []spawnSpec {
	var specs []spawnSpec
	for _, n := range w.NPCs {
		home, _ := w.Map.PlaceAt(n.Home)
		specs = append(specs, spawnSpec{n.ID, &protocol.Spawn{Persona: n.Persona, Tree: n.Tree,
			Blackboard: protocol.Args{"home": home.Name}, TreePath: true}})
	}
	return specs
}

// spawnAll sends the world's lore and spawns every NPC, waiting for each
// spawned.
func spawnAll(ctx context.Context, c *client.Client, world *protocol.World, specs []spawnSpec) error {
	if err := c.World(ctx, world); err != nil {
		return fmt.Errorf("link: send world: %w", err)
	}
	for _, s := range specs {
		if _, err := c.Spawn(ctx, s.id, s.body); err != nil {
			return fmt.Errorf("link: spawn %s: %w", s.id, err)
		}
	}
	return nil
}

// send writes the game's messages to the server in order. A failed send is
// logged and dropped: the game goes on.
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
		case *protocol.Interrupt:
			err = c.Interrupt(ctx, o.NPC, m.Reason)
		default:
			err = fmt.Errorf("link: cannot send %T", m)
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("link: send", "npc", o.NPC, "type", o.Msg.MessageType(), "err", err)
		}
	}
}
