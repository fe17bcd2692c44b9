package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/anima-rt/anima/npc/mind"
	"github.com/anima-rt/anima/protocol"
)

// Minds is the NPCHost of a real server: NPC minds (package npc/mind) on
// the model. It only translates refs; the Host does the work.
type Minds struct {
	h *mind.Host
}

// NewMinds serves h's NPCs and registers its counters on reg (nil: none):
// anima_npc_thinks_total, anima_npc_player_thinks_total,
// anima_npc_ambient_refused_total, anima_npc_decisions_total,
// anima_npc_interrupted_total, anima_npc_think_errors_total,
// anima_npc_invalid_decisions_total, and anima_npc_tree_only_total, the
// thinks skipped because the model was overloaded (the NPC went on with its
// tree alone), the gate's refusals for overload included.
func NewMinds(h *mind.Host, reg prometheus.Registerer) (*Minds, error) {
	m := &Minds{h: h}
	if reg != nil {
		if err := m.register(reg); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Minds) register(reg prometheus.Registerer) error {
	counter := func(name, help string, f func(mind.Counters) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "anima", Name: name, Help: help},
			func() float64 { return float64(f(m.h.Counters())) })
	}
	for _, c := range []prometheus.Collector{
		counter("npc_thinks_total", "NPC thinks started.", func(c mind.Counters) uint64 { return c.Thinks }),
		counter("npc_ambient_refused_total", "Ambient thinks the salience gate refused for its global budget or for overload (the NPC went on with its tree).",
			func(c mind.Counters) uint64 { return uint64(c.Gate.Budget + c.Gate.Overload) }),
		counter("npc_player_thinks_total", "NPC thinks started for a player's line (of npc_thinks_total).", func(c mind.Counters) uint64 { return c.PlayerThinks }),
		counter("npc_decisions_total", "NPC decisions landed on a blackboard.", func(c mind.Counters) uint64 { return c.Decisions }),
		counter("npc_interrupted_total", "NPC utterances cut short by an interrupt or a newer line.", func(c mind.Counters) uint64 { return c.Interrupted }),
		counter("npc_think_errors_total", "NPC thinks whose generation failed.", func(c mind.Counters) uint64 { return c.Errors }),
		counter("npc_invalid_decisions_total", "Model outputs that did not parse or validate.", func(c mind.Counters) uint64 { return c.Invalid }),
		counter("npc_tree_only_total", "Thinks not run because the model was overloaded: the NPC went on with its behaviour tree alone.",
			func(c mind.Counters) uint64 { return c.TreeOnly + uint64(c.Gate.Overload) }),
		counter("npc_say_deltas_total", "Say deltas streamed.", func(c mind.Counters) uint64 { return c.SayDeltas }),
		counter("npc_chat_lines_total", "Lines one NPC heard directly from another NPC of its session.", func(c mind.Counters) uint64 { return c.ChatLines }),
		counter("npc_chat_cut_total", "NPC-to-NPC lines not delivered because their conversation had reached its length.", func(c mind.Counters) uint64 { return c.ChatCut }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func ref(r NPCRef) mind.Ref { return mind.Ref{Session: r.Session, NPC: r.NPC} }

// Spawn spawns the NPC and, if the spawn asked for tree_path, sends its
// tree's active path each time it changes: only then does the tree watch
// it, so NPCs nobody asked about cost nothing more.
func (m *Minds) Spawn(r NPCRef, spec *protocol.Spawn, out Outbox) (*protocol.Spawned, error) {
	sp, err := m.h.Spawn(ref(r), spec, out)
	if err != nil || !spec.TreePath {
		return sp, err
	}
	if err := m.h.WatchPath(ref(r), func(path []string) {
		out.Send(r.NPC, "", &protocol.TreePath{Path: path})
	}); err != nil {
		return nil, err // despawned meanwhile (its session ended)
	}
	return sp, nil
}
func (m *Minds) Despawn(r NPCRef)                                { m.h.Despawn(ref(r)) }
func (m *Minds) World(session string, w *protocol.World) error   { return m.h.World(session, w) }
func (m *Minds) Perceive(r NPCRef, p *protocol.Perceive) error   { return m.h.Perceive(ref(r), p) }
func (m *Minds) Interrupt(r NPCRef, i *protocol.Interrupt) error { return m.h.Interrupt(ref(r), i) }
func (m *Minds) PlayerSay(r NPCRef, requestID string, p *protocol.PlayerSay) error {
	return m.h.PlayerSay(ref(r), requestID, p)
}
func (m *Minds) ActionStatus(r NPCRef, s *protocol.ActionStatus) error {
	return m.h.ActionStatus(ref(r), s)
}
