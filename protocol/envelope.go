package protocol

// Envelope is one protocol message: a type, the ids that route it, and a body.
type Envelope struct {
	// Type names the message ("perceive"); it selects Body's Go type.
	Type string
	// ID is an optional request id chosen by the client. The server copies
	// it into the spawned, pong or error that answers the request.
	ID string
	// NPC is the NPC the message concerns; required where PROTOCOL.md says.
	NPC string
	// Seq numbers the server's sequenced messages (those Sequenced names:
	// spawned, act, cancel, say, decision) from 1 upwards within a session,
	// so a resuming client can say what it has seen and drop replayed
	// duplicates. It is 0 on every other message, errors included: an error
	// answers a request on the connection that made it and is not replayed.
	Seq uint64
	// Body is a pointer to the message struct for Type (*Say for "say").
	Body Message
}

// NewEnvelope returns an envelope carrying body, its type taken from body.
func NewEnvelope(id, npc string, body Message) Envelope {
	return Envelope{Type: body.MessageType(), ID: id, NPC: npc, Body: body}
}

// Sequenced reports whether messages of type t carry a seq and are replayed
// on resume.
func Sequenced(t string) bool {
	switch t {
	case "spawned", "act", "cancel", "say", "decision":
		return true
	}
	return false
}

// CheckSender returns an unknown_type error unless messages of e's type are
// sent by side s: a server uses it to refuse a client's "welcome".
func (e *Envelope) CheckSender(s Side) error {
	info, ok := messages[e.Type]
	if !ok {
		return &Error{Code: CodeUnknownType, Message: "unknown message type " + quote(e.Type)}
	}
	if info.from != s {
		return &Error{Code: CodeUnknownType, Message: quote(e.Type) + " is sent by the " + info.from.String() + ", not the " + s.String()}
	}
	return nil
}
