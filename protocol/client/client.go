// Package client is the Go client of Anima's protocol v1 (PROTOCOL.md): what
// a game server uses to spawn NPCs, stream their perceptions and players'
// lines, and receive their dialogue and actions. The tests, the demo and the
// load tool all use it.
//
// A Client holds one websocket connection at a time, with one reader and one
// writer goroutine. When the connection drops it reconnects with the
// session's resume token and the last seq it received, the server replays
// what was sent meanwhile, and the client drops replayed messages it already
// had, so Events sees each sequenced message once and in order.
//
// # Receiving
//
// Server messages that answer no waiting request arrive on Events: act,
// cancel, say, decision, tree_path (for NPCs spawned with TreePath), errors,
// spawned replayed after a resume, and a welcome after every reconnection
// (check Resumed: when false the session is new and the NPCs must be spawned
// again). Events is bounded (Options.EventBuffer). When it is full, the
// reader drops what the protocol lets servers drop too, non-final say
// deltas, decisions and tree paths (a final say carries the whole
// utterance), and counts them in Stats.Dropped; for anything else it waits,
// which stops reading the socket and lets the server's own queue policy
// act. So read Events promptly, and not from the goroutine that waits in
// Spawn or Ping.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/anima-rt/anima/protocol"
)

// Errors a Client returns; server errors are *protocol.Error values.
var (
	// ErrClosed: the client was closed, or gave up reconnecting (Err says
	// why).
	ErrClosed = errors.New("client: closed")
	// ErrDisconnected: the connection dropped while a request waited for
	// its reply, or for good with reconnection off.
	ErrDisconnected = errors.New("client: disconnected")
	// ErrTakenOver: another connection resumed this client's session (the
	// server closed this one with CloseSessionTakenOver); the client stops
	// rather than take the session back.
	ErrTakenOver = errors.New("client: session taken over by another connection")
)

// CloseSessionTakenOver is the websocket close code with which the server
// closes a connection whose session was resumed on another (PROTOCOL.md §9).
const CloseSessionTakenOver = 4001

// Options configure Dial. The zero value is usable: msgpack, reconnection
// on, default buffers.
type Options struct {
	// APIKey is sent as "Authorization: Bearer <key>" on every upgrade.
	APIKey string
	// KeyInHello sends APIKey in hello's api_key instead of the header, as
	// clients that cannot set headers (browsers) must.
	KeyInHello bool
	// Subprotocol is protocol.SubprotocolMsgpack (default) or
	// protocol.SubprotocolJSON.
	Subprotocol string
	// Name is hello's client field, for the server's logs (default
	// "anima-go-client").
	Name string
	// ResumeToken and LastSeq resume a session from an earlier process.
	ResumeToken string
	LastSeq     uint64
	// Header holds extra upgrade headers; Dialer, if set, replaces
	// websocket.DefaultDialer.
	Header http.Header
	Dialer *websocket.Dialer
	// EventBuffer is Events' capacity (default 256; each slot costs 72
	// bytes, allocated at Dial); SendBuffer is how many encoded messages may
	// wait for the writer (default 256).
	EventBuffer int
	SendBuffer  int
	// NoReconnect makes a dropped connection final.
	NoReconnect bool
	// ReconnectFor bounds how long the client keeps trying to reconnect;
	// default: the server's grace period from welcome, or 30 s.
	ReconnectFor time.Duration
	// MinBackoff and MaxBackoff bound the pause between attempts
	// (defaults 50 ms and 2 s), doubling from one to the other, jittered.
	MinBackoff, MaxBackoff time.Duration
	// HandshakeTimeout bounds one dial plus hello/welcome (default 10 s);
	// WriteTimeout one frame write (default 10 s).
	HandshakeTimeout time.Duration
	WriteTimeout     time.Duration
	// ReadTimeout drops a connection that has been silent this long
	// (default: three times the server's ping interval, from welcome).
	ReadTimeout time.Duration
	// Logger receives connection events; nil means slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MinBackoff, 50*time.Millisecond)
	def(&o.MaxBackoff, 2*time.Second)
	def(&o.HandshakeTimeout, 10*time.Second)
	def(&o.WriteTimeout, 10*time.Second)
	if o.Subprotocol == "" {
		o.Subprotocol = protocol.SubprotocolMsgpack
	}
	if o.Name == "" {
		o.Name = "anima-go-client"
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = 256
	}
	if o.SendBuffer <= 0 {
		o.SendBuffer = 256
	}
	if o.Dialer == nil {
		o.Dialer = websocket.DefaultDialer
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Stats are a client's counters since Dial.
type Stats struct {
	Received   uint64 // frames read, replies and duplicates included
	Duplicates uint64 // replayed messages already seen, dropped
	Dropped    uint64 // say deltas and decisions dropped because Events was full
	BadFrames  uint64 // server frames that did not decode, dropped
	Reconnects uint64 // successful reconnections
}

// Client is a connection to an Anima server; see the package comment. Its
// methods are safe for concurrent use.
type Client struct {
	url   string
	opts  Options
	codec protocol.Codec
	log   *slog.Logger

	events  chan protocol.Envelope // to the user; closed when the client stops
	out     chan []byte            // encoded frames for the writer
	closing chan struct{}          // closed by Close
	once    sync.Once
	done    chan struct{} // closed when the connection manager exits
	err     error         // why the client stopped; written before done closes

	nextID atomic.Uint64
	// lastSeq is the highest seq received; written by the reader, read by
	// the manager between connections and by LastSeq.
	lastSeq atomic.Uint64

	mu      sync.Mutex // guards pending and welcome
	pending map[string]chan protocol.Envelope
	welcome protocol.Welcome

	received, duplicates, dropped, badFrames, reconnects atomic.Uint64
}

// Dial connects to url (ws://host:port/v1/ws), says hello and waits for
// welcome. An error from the server (unauthorized, unsupported_version, …)
// is returned as a *protocol.Error.
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	opts = opts.withDefaults()
	codec, err := protocol.NewCodec(opts.Subprotocol, protocol.FromServer, 0)
	if err != nil {
		return nil, fmt.Errorf("client: dial: %w", err)
	}
	c := &Client{
		url:     url,
		opts:    opts,
		codec:   codec,
		log:     opts.Logger.With("url", url),
		events:  make(chan protocol.Envelope, opts.EventBuffer),
		out:     make(chan []byte, opts.SendBuffer),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		pending: make(map[string]chan protocol.Envelope),
	}
	c.lastSeq.Store(opts.LastSeq)
	ws, w, err := c.handshake(ctx, opts.ResumeToken)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", url, err)
	}
	c.accept(w)
	// The manager exits when Close is called or reconnection gives up.
	go c.run(ws)
	return c, nil
}

// Events returns the channel of server messages; it is closed when the
// client stops. See the package comment for what arrives there.
func (c *Client) Events() <-chan protocol.Envelope { return c.events }

// Done is closed when the client has stopped (Close, or reconnection gave up).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the client stopped: nil after Close, the last failure when
// reconnection gave up. Valid once Done is closed.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Welcome returns the latest welcome: the session id, limits and model.
func (c *Client) Welcome() protocol.Welcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// LastSeq is the highest sequence number received; with Welcome's resume
// token it lets another process resume the session (Options.LastSeq).
func (c *Client) LastSeq() uint64 { return c.lastSeq.Load() }

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Received: c.received.Load(), Duplicates: c.duplicates.Load(), Dropped: c.dropped.Load(),
		BadFrames: c.badFrames.Load(), Reconnects: c.reconnects.Load(),
	}
}

// Close sends what is already queued (best effort), closes the connection
// and stops the client; Events is closed. It is safe to call more than once.
func (c *Client) Close() error {
	c.once.Do(func() { close(c.closing) })
	<-c.done
	return nil
}

func (c *Client) setWelcome(w *protocol.Welcome) {
	c.mu.Lock()
	c.welcome = *w
	c.mu.Unlock()
}

// newID returns a request id unique within this client.
func (c *Client) newID() string { return "c" + strconv.FormatUint(c.nextID.Add(1), 10) }

// Send validates, encodes and queues env for the writer. It blocks while
// the send buffer is full (also while reconnecting), until ctx ends.
func (c *Client) Send(ctx context.Context, env protocol.Envelope) error {
	if env.Type == "" && env.Body != nil {
		env.Type = env.Body.MessageType()
	}
	if err := env.CheckSender(protocol.FromClient); err != nil {
		return fmt.Errorf("client: send: %w", err)
	}
	if err := env.Validate(); err != nil {
		return fmt.Errorf("client: send %s: %w", env.Type, err)
	}
	frame, err := c.codec.Encode(env)
	if err != nil {
		return fmt.Errorf("client: send: %w", err)
	}
	// The server would refuse it; saying so here names the caller's bug
	// without a round trip.
	if max := c.Welcome().Limits.MaxFrameBytes; max > 0 && len(frame) > max {
		return fmt.Errorf("client: send %s: %w", env.Type, protocol.ErrFrameTooLarge(len(frame), max))
	}
	select {
	case <-c.closing:
		return ErrClosed
	case <-c.done:
		return ErrClosed
	default:
	}
	select {
	case c.out <- frame:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("client: send %s: %w", env.Type, ctx.Err())
	case <-c.closing:
		return ErrClosed
	case <-c.done:
		return ErrClosed
	}
}

// request sends env with a fresh request id and waits for the reply that
// carries that id, returning an error reply as its *protocol.Error.
func (c *Client) request(ctx context.Context, env protocol.Envelope) (protocol.Envelope, error) {
	env.ID = c.newID()
	reply := make(chan protocol.Envelope, 1)
	c.mu.Lock()
	c.pending[env.ID] = reply
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, env.ID)
		c.mu.Unlock()
	}()
	if err := c.Send(ctx, env); err != nil {
		return protocol.Envelope{}, err
	}
	select {
	case r := <-reply:
		if perr, ok := r.Body.(*protocol.Error); ok {
			return r, perr
		}
		if r.Type == "" { // the connection dropped; see failPending
			return r, ErrDisconnected
		}
		return r, nil
	case <-ctx.Done():
		return protocol.Envelope{}, ctx.Err()
	case <-c.done:
		return protocol.Envelope{}, ErrClosed
	}
}

// World sets the session's shared lore.
func (c *Client) World(ctx context.Context, w *protocol.World) error {
	return c.Send(ctx, protocol.NewEnvelope(c.newID(), "", w))
}

// Spawn creates NPC npc and waits for spawned (or the error that refused it).
func (c *Client) Spawn(ctx context.Context, npc string, s *protocol.Spawn) (*protocol.Spawned, error) {
	r, err := c.request(ctx, protocol.NewEnvelope("", npc, s))
	if err != nil {
		return nil, fmt.Errorf("client: spawn %q: %w", npc, err)
	}
	sp, ok := r.Body.(*protocol.Spawned)
	if !ok {
		return nil, fmt.Errorf("client: spawn %q: server answered %s", npc, r.Type)
	}
	return sp, nil
}

// Despawn removes NPC npc.
func (c *Client) Despawn(ctx context.Context, npc, reason string) error {
	return c.Send(ctx, protocol.NewEnvelope(c.newID(), npc, &protocol.Despawn{Reason: reason}))
}

// Perceive sends what NPC npc perceives now.
func (c *Client) Perceive(ctx context.Context, npc string, p *protocol.Perceive) error {
	return c.Send(ctx, protocol.NewEnvelope(c.newID(), npc, p))
}

// PlayerSay sends a player's line to NPC npc; the answer arrives on Events
// as say (and decision, act) messages for npc.
func (c *Client) PlayerSay(ctx context.Context, npc string, p *protocol.PlayerSay) error {
	return c.Send(ctx, protocol.NewEnvelope(c.newID(), npc, p))
}

// Interrupt stops what NPC npc is saying or thinking.
func (c *Client) Interrupt(ctx context.Context, npc, reason string) error {
	return c.Send(ctx, protocol.NewEnvelope(c.newID(), npc, &protocol.Interrupt{Reason: reason}))
}

// ActionStatus reports the progress of an act.
func (c *Client) ActionStatus(ctx context.Context, npc string, s *protocol.ActionStatus) error {
	return c.Send(ctx, protocol.NewEnvelope(c.newID(), npc, s))
}

// Ping measures the round trip to the server through both queues.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	_, err := c.request(ctx, protocol.NewEnvelope("", "", &protocol.Ping{TimeMS: start.UnixMilli()}))
	if err != nil {
		return 0, fmt.Errorf("client: ping: %w", err)
	}
	return time.Since(start), nil
}
