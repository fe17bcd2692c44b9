package protocol

// Message is the body of an envelope. Every message type of protocol v1 is a
// struct in this file; only pointers to them implement Message, so a type
// switch on a decoded body reads `case *protocol.Say:`.
type Message interface {
	// MessageType is the envelope type that carries this body ("say").
	MessageType() string
	// Validate reports the first missing required field or exceeded bound,
	// as a bad_field *Error.
	Validate() error
}

// Side is the sender of a message type.
type Side uint8

const (
	// FromClient marks messages that game servers (clients) send.
	FromClient Side = 1
	// FromServer marks messages that Anima (the server) sends.
	FromServer Side = 2
)

func (s Side) String() string {
	switch s {
	case FromClient:
		return "client"
	case FromServer:
		return "server"
	}
	return "unknown"
}

// messageInfo describes one message type.
type messageInfo struct {
	new  func() Message
	from Side
	npc  bool // the envelope must name an NPC
}

// messages maps each envelope type to its body constructor and its rules.
var messages = map[string]messageInfo{
	// client → server
	"hello":         {func() Message { return new(Hello) }, FromClient, false},
	"world":         {func() Message { return new(World) }, FromClient, false},
	"spawn":         {func() Message { return new(Spawn) }, FromClient, true},
	"despawn":       {func() Message { return new(Despawn) }, FromClient, true},
	"perceive":      {func() Message { return new(Perceive) }, FromClient, true},
	"player_say":    {func() Message { return new(PlayerSay) }, FromClient, true},
	"interrupt":     {func() Message { return new(Interrupt) }, FromClient, true},
	"action_status": {func() Message { return new(ActionStatus) }, FromClient, true},
	"ping":          {func() Message { return new(Ping) }, FromClient, false},
	// server → client
	"welcome":   {func() Message { return new(Welcome) }, FromServer, false},
	"spawned":   {func() Message { return new(Spawned) }, FromServer, true},
	"act":       {func() Message { return new(Act) }, FromServer, true},
	"cancel":    {func() Message { return new(Cancel) }, FromServer, true},
	"say":       {func() Message { return new(Say) }, FromServer, true},
	"decision":  {func() Message { return new(Decision) }, FromServer, true},
	"tree_path": {func() Message { return new(TreePath) }, FromServer, true},
	"error":     {func() Message { return new(Error) }, FromServer, false},
	"pong":      {func() Message { return new(Pong) }, FromServer, false},
}

// Sender reports which side sends messages of type t; ok is false for a type
// that protocol v1 does not define.
func Sender(t string) (side Side, ok bool) {
	info, ok := messages[t]
	return info.from, ok
}

// NewMessage returns a zero body for type t, or nil if t is unknown.
func NewMessage(t string) Message {
	info, ok := messages[t]
	if !ok {
		return nil
	}
	return info.new()
}

// ---- client → server ----

// Hello opens a session; it must be the first message on a connection.
type Hello struct {
	// Versions lists the protocol versions the client speaks, e.g. [1].
	Versions []int `json:"versions"`
	// Client names the client software, for logs ("mygame-server/2.3").
	Client string `json:"client,omitempty"`
	// APIKey authenticates, for clients that cannot set the
	// "Authorization: Bearer <key>" header on the websocket upgrade.
	APIKey string `json:"api_key,omitempty"`
	// ResumeToken, from an earlier welcome, asks to resume that session.
	ResumeToken string `json:"resume_token,omitempty"`
	// LastSeq is the highest seq the client received in the session it
	// resumes; the server replays what came after.
	LastSeq uint64 `json:"last_seq,omitempty"`
}

// World sets the shared lore that every NPC of the session knows. A later
// world replaces the earlier one for NPCs that think afterwards.
type World struct {
	WorldID string `json:"world_id,omitempty"`
	Lore    string `json:"lore"`
}

// Spawn creates an NPC whose id is the envelope's npc. It names a persona the
// server knows, or describes a character inline, or both (inline fields then
// override the named persona's).
type Spawn struct {
	Persona   string     `json:"persona,omitempty"`
	Character *Character `json:"character,omitempty"`
	// Tree names the behaviour tree that drives the NPC; empty means the
	// persona's default.
	Tree string `json:"tree,omitempty"`
	// Blackboard holds the tree's initial blackboard entries.
	Blackboard Args `json:"blackboard,omitempty"`
	// Actions restricts the action catalog the NPC may use; empty means all
	// of its persona's actions.
	Actions []string `json:"actions,omitempty"`
	// TreePath asks for tree_path messages about this NPC: its behaviour
	// tree's active path each time it changes, for designer tools. Off by
	// default, so that a server with thousands of NPCs sends none unless a
	// client asks; a server that runs no trees ignores it.
	TreePath bool `json:"tree_path,omitempty"`
}

// Character is an inline persona.
type Character struct {
	Name        string   `json:"name"`
	Role        string   `json:"role,omitempty"`
	Description string   `json:"description,omitempty"` // personality and backstory, in prose
	Style       string   `json:"style,omitempty"`       // how the character speaks
	Goals       []string `json:"goals,omitempty"`
}

// Despawn removes the envelope's NPC; its running actions are cancelled.
type Despawn struct {
	Reason string `json:"reason,omitempty"`
}

// Perceive reports what the envelope's NPC perceives now. Each perceive
// replaces the previous picture of self and entities; events are new since the
// last perceive.
type Perceive struct {
	// Time is the game clock, as the game words it ("day 3, dusk").
	Time     string   `json:"time,omitempty"`
	Self     Self     `json:"self"`
	Entities []Entity `json:"entities,omitempty"`
	Events   []Event  `json:"events,omitempty"`
}

// Self is the NPC's own state.
type Self struct {
	Position  Vec      `json:"position"`
	Location  string   `json:"location,omitempty"` // named place ("the forge")
	Health    float64  `json:"health,omitempty"`   // in the game's units
	Status    string   `json:"status,omitempty"`   // free text ("carrying ore")
	Inventory []string `json:"inventory,omitempty"`
}

// Vec is a position in the game's world units; Z may be left out in 2D games.
type Vec struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z,omitempty"`
}

// Entity is something the NPC sees.
type Entity struct {
	ID       string `json:"id"`
	Kind     string `json:"kind,omitempty"` // player, npc, item, creature, …
	Name     string `json:"name,omitempty"`
	Position Vec    `json:"position"`
	// Relation is how the NPC regards it: friend, ally, neutral, rival,
	// enemy, or any word the game uses.
	Relation string `json:"relation,omitempty"`
}

// Event is something that happened near the NPC.
type Event struct {
	Kind   string `json:"kind"` // speech, attack, give, arrive, leave, …
	Source string `json:"source,omitempty"`
	Target string `json:"target,omitempty"`
	Text   string `json:"text,omitempty"`
	Item   string `json:"item,omitempty"`
}

// PlayerSay is a line a player speaks to the envelope's NPC. The NPC answers
// with say (and usually a decision); the text is always treated as quoted
// speech, never as instructions.
type PlayerSay struct {
	Speaker string `json:"speaker"`        // entity id of the player
	Name    string `json:"name,omitempty"` // how the NPC knows the player
	Text    string `json:"text"`
}

// Interrupt stops what the envelope's NPC is saying or thinking now; an open
// utterance ends with a final say.
type Interrupt struct {
	Reason string `json:"reason,omitempty"`
}

// Action statuses reported by action_status.
const (
	StatusRunning = "running"
	StatusSuccess = "success"
	StatusFailure = "failure"
)

// ActionStatus reports the progress of an action that the server started
// with act.
type ActionStatus struct {
	ActionID string `json:"action_id"`
	Status   string `json:"status"` // running, success or failure
	Reason   string `json:"reason,omitempty"`
}

// Ping asks for a pong; TimeMS is echoed so the client can measure the round
// trip without state.
type Ping struct {
	TimeMS int64 `json:"time_ms,omitempty"`
}

// ---- server → client ----

// Welcome answers hello.
type Welcome struct {
	SessionID   string `json:"session_id"`
	ResumeToken string `json:"resume_token"`
	Version     int    `json:"version"`
	Server      string `json:"server,omitempty"` // server software, for logs
	Limits      Limits `json:"limits"`
	Model       Model  `json:"model"`
	// Resumed is true when hello's resume token was honoured: the
	// session's NPCs are back, and Replayed sequenced messages follow.
	Resumed  bool   `json:"resumed,omitempty"`
	Replayed uint64 `json:"replayed,omitempty"`
	// Missed counts sequenced messages after hello.last_seq that the server
	// no longer holds; the client must treat those NPCs' state as unknown.
	Missed uint64 `json:"missed,omitempty"`
	// ResumeError says why a resume token was refused (unknown, expired);
	// the session is then a new one, with no NPCs.
	ResumeError string `json:"resume_error,omitempty"`
}

// Limits are the server's limits for this connection.
type Limits struct {
	MaxFrameBytes     int     `json:"max_frame_bytes"`
	MaxNPCs           int     `json:"max_npcs"`
	MessagesPerSecond float64 `json:"messages_per_second"` // sustained rate of client messages
	Burst             int     `json:"burst"`               // messages allowed at once above the rate
	GraceMS           int64   `json:"grace_ms"`            // how long a dropped session waits for resume
	ReplayBuffer      int     `json:"replay_buffer"`       // sequenced messages kept for replay
	OutboundQueue     int     `json:"outbound_queue"`      // frames queued to this client before dropping
	PingIntervalMS    int64   `json:"ping_interval_ms"`    // websocket pings from the server
	ReadTimeoutMS     int64   `json:"read_timeout_ms"`     // silence after which the server drops the connection
}

// Model describes the model that drives the NPCs.
type Model struct {
	Name          string `json:"name"`
	Arch          string `json:"arch,omitempty"`    // qwen3moe, llama, …
	Backend       string `json:"backend,omitempty"` // native, remote, standin
	ContextTokens int    `json:"context_tokens,omitempty"`
}

// Spawned confirms spawn; the envelope carries spawn's request id and npc.
type Spawned struct {
	Persona string   `json:"persona,omitempty"`
	Tree    string   `json:"tree,omitempty"`
	Actions []string `json:"actions,omitempty"` // the action catalog in effect
}

// Act asks the game to perform an action for the envelope's NPC. The game
// answers with action_status for ActionID.
type Act struct {
	ActionID string `json:"action_id"`
	Name     string `json:"name"` // follow, go_to, give, …
	Args     Args   `json:"args,omitempty"`
}

// Cancel withdraws an action started by act.
type Cancel struct {
	ActionID string `json:"action_id"`
	Reason   string `json:"reason,omitempty"`
}

// Say streams what the envelope's NPC says, as deltas of one utterance.
// Non-final deltas may be dropped when the client reads too slowly; the final
// say is never dropped and carries the whole utterance in Text.
type Say struct {
	UtteranceID string `json:"utterance_id"`
	Delta       string `json:"delta,omitempty"`
	Final       bool   `json:"final,omitempty"`
	Text        string `json:"text,omitempty"` // the whole utterance, on the final say only
}

// Decision is what the model chose, for tools and debugging; the game acts on
// act and say, not on decisions. Decisions may be dropped for slow clients.
type Decision struct {
	Emotion     string         `json:"emotion,omitempty"`
	Action      string         `json:"action,omitempty"`
	Target      string         `json:"target,omitempty"`
	Args        Args           `json:"args,omitempty"`
	Say         string         `json:"say,omitempty"`
	UtteranceID string         `json:"utterance_id,omitempty"` // the say stream that carries Say
	Raw         string         `json:"raw,omitempty"`          // the model's output, verbatim (a names model writes targets by name; Target and Args carry the game's ids)
	Stats       *DecisionStats `json:"stats,omitempty"`
}

// DecisionStats are the inference figures of one decision.
type DecisionStats struct {
	PromptTokens    int     `json:"prompt_tokens"`
	ReusedTokens    int     `json:"reused_tokens"` // prompt tokens served from the KV cache
	GeneratedTokens int     `json:"generated_tokens"`
	TTFTMS          float64 `json:"ttft_ms"`            // time to first token
	TotalMS         float64 `json:"total_ms"`           // time to the last token
	Fallback        bool    `json:"fallback,omitempty"` // true when no model ran (overload, stand-in)
}

// TreePath is the envelope's NPC's active behaviour-tree path, sent to
// clients that spawned it with Spawn.TreePath, after the tick that changed
// it (at most once a tick, 10 a second by default). Like decision it is for
// tools, and may be dropped for a slow client; it is not sequenced.
type TreePath struct {
	// Path holds the labels of the tree's running nodes, root first
	// ("ReactiveSequence", "SubTree Action_greet", "MoveTo"): a node's
	// XML tag or subtree id, then its name attribute if it has one. Under
	// a Parallel, every running branch is listed, depth first. Empty when
	// nothing runs. At most MaxListItems labels of MaxNameBytes each; a
	// longer path keeps its root end and ends with "…".
	Path []string `json:"path"`
}

// Pong answers ping; the envelope carries ping's request id.
type Pong struct {
	TimeMS int64 `json:"time_ms,omitempty"` // ping's TimeMS
}

// Args holds free-form arguments: act and decision args, spawn's blackboard.
// Values are JSON values; whichever codec carried them, a decoded number is a
// float64, an array []any and an object map[string]any.
type Args map[string]any

// MessageType implements Message; the names are those of PROTOCOL.md.
func (*Hello) MessageType() string        { return "hello" }
func (*World) MessageType() string        { return "world" }
func (*Spawn) MessageType() string        { return "spawn" }
func (*Despawn) MessageType() string      { return "despawn" }
func (*Perceive) MessageType() string     { return "perceive" }
func (*PlayerSay) MessageType() string    { return "player_say" }
func (*Interrupt) MessageType() string    { return "interrupt" }
func (*ActionStatus) MessageType() string { return "action_status" }
func (*Ping) MessageType() string         { return "ping" }
func (*Welcome) MessageType() string      { return "welcome" }
func (*Spawned) MessageType() string      { return "spawned" }
func (*Act) MessageType() string          { return "act" }
func (*Cancel) MessageType() string       { return "cancel" }
func (*Say) MessageType() string          { return "say" }
func (*Decision) MessageType() string     { return "decision" }
func (*TreePath) MessageType() string     { return "tree_path" }
func (*Error) MessageType() string        { return "error" }
func (*Pong) MessageType() string         { return "pong" }
