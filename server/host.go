package server

import "github.com/anima-rt/anima/protocol"

// NPCRef names one NPC: the session that spawned it and the id the client
// gave it. NPC ids are the client's, so they are unique only per session.
type NPCRef struct {
	Session string
	NPC     string
}

// NPCHost runs NPC minds; the server routes each session's NPC messages to
// it. The server calls it from connection reader goroutines, so every method
// must return promptly and queue slow work (thinking, decoding) elsewhere: a
// blocked call stalls that connection. A method that fails returns a
// *protocol.Error whose code the client gets back as is (any other error is
// sent as internal).
//
// The host sends what its NPCs say and do through the Outbox it got at
// Spawn, from any goroutine, at any time until Despawn returns. The server
// checks that the NPC is still spawned, so a message racing a despawn is
// dropped rather than sent for an NPC the client no longer has.
//
// Minds implements it with NPC minds on the model (package npc/mind);
// StandIn, with a keyword table and no model, for tests of the wire alone.
type NPCHost interface {
	// Spawn creates an NPC. The server has already checked the quota and
	// that ref is not spawned; Spawned is the confirmation body the client
	// gets.
	Spawn(ref NPCRef, spec *protocol.Spawn, out Outbox) (*protocol.Spawned, error)
	// Despawn removes an NPC: on the client's despawn and when its session's
	// grace period ends. It must not fail.
	Despawn(ref NPCRef)
	// World sets the session's shared lore.
	World(session string, w *protocol.World) error
	Perceive(ref NPCRef, p *protocol.Perceive) error
	// PlayerSay is a line spoken to the NPC; requestID is the player_say's
	// envelope id, for the host to echo on its replies.
	PlayerSay(ref NPCRef, requestID string, p *protocol.PlayerSay) error
	Interrupt(ref NPCRef, i *protocol.Interrupt) error
	ActionStatus(ref NPCRef, s *protocol.ActionStatus) error
}

// Outbox carries one session's server→client messages from its NPC host. It
// stamps sequence numbers, keeps the replay buffer and queues to the
// session's connection if one is attached; it never blocks.
type Outbox interface {
	// Send sends m (say, act, cancel or decision) for the session's NPC npc.
	// requestID, if not empty, is the id of the client message m answers.
	Send(npc, requestID string, m protocol.Message)
}
