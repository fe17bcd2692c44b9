package mind

import (
	"time"

	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/protocol"
)

// NPCs talk to each other (issue 7): a decision whose line is addressed to
// another NPC of the same session — its action's target, or the NPC whose
// line it answers — is heard by that NPC as speech, which makes it think
// and answer in turn. The game still receives every line as `say` (and
// may relay it in a perceive: the addressee recognises the copy, see
// perception.WorkingSet).
//
// A conversation is kept short: each line carries its depth (1 for an
// opening line, one more for each answer within chatWindow), and a line
// deeper than MaxChatLines is not delivered. NPC speech is thought about
// below player dialogue: an NPC answering a player hears the line and
// answers it after.

// chatWindow is how long after a line from an NPC an answer to it
// continues that conversation rather than opening a new one.
const chatWindow = 30 * time.Second

// PriorityChat orders an NPC's answer to another NPC between ambient
// thinking and player dialogue.
const PriorityChat = 1

// heardNPC is the last line an NPC heard from another NPC.
type heardNPC struct {
	depth int
	at    time.Time
}

// addresseeNPC returns the NPC a decision's line is for: its target when
// that is an NPC it sees, else the NPC whose line it was answering.
func addresseeNPC(st npc.Stimulus, d npc.Decision) (id, name string) {
	for _, e := range st.Seen {
		if e.ID == d.Action.Target && e.Kind == npc.KindNPC {
			return e.ID, e.Name
		}
	}
	for _, u := range st.Heard {
		for _, e := range st.Seen {
			if e.ID == u.From && e.Kind == npc.KindNPC {
				return e.ID, e.Name
			}
		}
	}
	return "", ""
}

// relay delivers speaker's line to the NPC it was addressed to, if that NPC
// is spawned in the same session and the conversation is not yet too long.
// speaker.mu must not be held.
func (h *Host) relay(speaker *mindNPC, in npc.PromptInput, d npc.Decision) {
	if d.Say == "" || h.cfg.MaxChatLines < 0 {
		return
	}
	to, _ := addresseeNPC(in.Now, d)
	if to == "" || to == speaker.ref.NPC {
		return
	}
	now := h.cfg.Now()
	speaker.mu.Lock()
	depth := 1
	if prev, ok := speaker.chat[to]; ok && now.Sub(prev.at) <= chatWindow {
		depth = prev.depth + 1
	}
	speaker.mu.Unlock()
	if depth > h.cfg.MaxChatLines {
		h.chatCut.Add(1)
		return
	}
	n, err := h.lookup(Ref{Session: speaker.ref.Session, NPC: to})
	if err != nil {
		return // not an NPC of this session's: the game relays it or not
	}
	n.mu.Lock()
	if n.dead {
		n.mu.Unlock()
		return
	}
	ev := n.ws.Hear(now, &protocol.PlayerSay{Speaker: speaker.ref.NPC, Name: speaker.p.Name, Text: d.Say})
	h.note(n, ev)
	if n.chat == nil {
		n.chat = map[string]heardNPC{}
	}
	n.chat[speaker.ref.NPC] = heardNPC{depth: depth, at: now}
	n.mu.Unlock()
	h.chatLines.Add(1)
	h.request(job{n: n, prio: PriorityChat, reason: "npc speech"})
}
