package mind

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anima-rt/anima/behavior"
	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/memory"
	"github.com/anima-rt/anima/protocol"
)

// stimulusTokens is a generous estimate of the tokens a turn's stimulus
// adds to the conversation's prompt, for ending it before the context fills.
const stimulusTokens = 160

// job is one think waiting for a worker.
type job struct {
	n         *mindNPC
	prio      int
	requestID string // the player_say answered, if any
	reason    string
	at        time.Time // when it was first asked for: a think that waited past its deadline is not started
}

// request queues a think for n. An NPC has at most one think queued or
// running: a request while one is queued merges into it (a player's line
// promotes it to the player queue, and the answer carries the latest
// line's request id); a request while one runs waits behind it as one more
// think, and a player's line cuts short the reply being decoded, which the
// new line makes stale. A full queue leaves the NPC to its tree: overloaded.
func (h *Host) request(j job) error {
	n := j.n
	if j.at.IsZero() {
		j.at = time.Now()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dead {
		return nil
	}
	switch {
	case n.running:
		if n.again == nil || j.prio >= n.again.prio {
			n.again = &j
		}
		if j.prio >= PriorityPlayer && n.cur != nil {
			h.cut(n, n.cur)
		}
		return nil
	case n.pending != nil && j.prio <= n.pending.prio:
		if j.requestID != "" {
			n.pending.requestID = j.requestID
		}
		return nil
	}
	// Queue j; a queued think of lower priority it replaces is skipped by
	// the worker that takes it.
	if !h.enqueue(&j) {
		if n.pending == nil {
			n.setIdle()
		}
		return h.overloaded(j)
	}
	if !n.busy {
		n.busy = true
		n.idle = make(chan struct{})
	}
	n.pending = &j
	return nil
}

// setIdle marks n as thinking no more; n.mu is held.
func (n *mindNPC) setIdle() {
	if n.busy {
		n.busy = false
		close(n.idle)
	}
}

func (h *Host) enqueue(j *job) bool { return h.queue.push(j) }

// overloaded records a think that could not run: the NPC goes on with its
// tree alone, ambient thinking pauses, and a player is told to retry.
func (h *Host) overloaded(j job) error {
	h.treeOnly.Add(1)
	h.gate.Fallback(j.n.key)
	h.gate.Overloaded()
	if j.prio >= PriorityPlayer {
		return protocol.Errorf(protocol.CodeOverloaded, "npc %q cannot think now; its tree goes on", j.n.ref.NPC)
	}
	return nil
}

// worker runs thinks until Close. A reserved worker takes player thinks
// only; the others take player thinks first (queue.go).
func (h *Host) worker(reserved bool) {
	defer h.wg.Done()
	for {
		j, ok := h.queue.pop(reserved)
		if !ok {
			return
		}
		if h.claim(j) {
			h.think(*j)
			h.next(j.n)
		}
	}
}

// claim makes j its NPC's running think, unless j was replaced while it
// waited or the NPC is gone.
func (h *Host) claim(j *job) bool {
	n := j.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pending != j {
		return false // replaced by a think of higher priority
	}
	n.pending = nil
	if n.dead {
		n.setIdle()
		return false
	}
	n.running = true
	return true
}

// next queues the think that waited behind the one just done, or marks the
// NPC idle.
func (h *Host) next(n *mindNPC) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.running = false
	again := n.again
	n.again = nil
	if again == nil || n.dead || h.ctx.Err() != nil {
		n.setIdle()
		return
	}
	if !h.enqueue(again) {
		n.setIdle()
		if err := h.overloaded(*again); err != nil {
			n.out.Send(n.ref.NPC, again.requestID, err.(*protocol.Error))
		}
		return
	}
	n.pending = again
}

// think runs one decision for j.n, from the prompt to the blackboard.
func (h *Host) think(j job) {
	n := j.n
	lore := h.loreFor(n)
	now := h.cfg.Now()

	n.mu.Lock()
	if n.dead {
		n.mu.Unlock()
		return
	}
	h.thinks.Add(1)
	if j.prio >= PriorityPlayer {
		h.playerThinks.Add(1)
	}
	st := n.ws.Stimulus(now)
	n.mem.LabelSeen(&st, n.p.Language)
	seeSpeakers(&st)
	full := h.cfg.ContextTokens > 0 && n.lastTokens+stimulusTokens+h.cfg.MaxTokens > h.cfg.ContextTokens
	if len(n.history) == 0 || len(n.history) >= h.cfg.MaxTurns || full || now.Sub(n.lastTurn) > h.cfg.ConversationGap {
		// A new conversation: a fresh digest, which the cache will reuse
		// for as long as the conversation lasts.
		n.history, n.pieces = nil, nil
		n.digest = n.mem.Digest(memory.QueryFor(now, st), h.cfg.MemoryLines)
	}
	in := npc.PromptInput{Lore: lore, Persona: n.pp, Memory: n.digest, History: n.history, Now: st, Format: h.cfg.PromptFormat}
	pieces := n.pieces
	for _, ev := range n.unobserved {
		n.mem.Observe(ev, n.p.Language)
	}
	n.unobserved = n.unobserved[:0]
	var actions []string // nil: the whole catalog
	if len(in.Persona.Actions) > 0 {
		actions = in.Persona.Actions
	}
	deadline := h.cfg.AmbientDeadline
	if j.prio >= PriorityPlayer {
		deadline = h.cfg.PlayerDeadline
	}
	if late := time.Since(j.at); late >= deadline {
		// Waited past its deadline for a worker: answering now would
		// come too late to matter; say so, and let the tree go on.
		n.mu.Unlock()
		h.treeOnly.Add(1)
		if j.requestID != "" {
			n.out.Send(n.ref.NPC, j.requestID, protocol.Errorf(protocol.CodeOverloaded, "npc %q could not answer in time (waited %v); its tree goes on", n.ref.NPC, late.Round(time.Millisecond)))
		}
		return
	}
	// The model reads and writes things by the names of the prompt format
	// (npc.Names: aliases); the game's ids stay in in, for memory and acts.
	ain, al := in.Aliased()
	schema, err := npc.DecisionSchema(h.a.Catalog, ain.Targets(), actions)
	if err != nil {
		n.mu.Unlock()
		h.noAction.Add(1)
		h.log.Debug("think skipped: no action has its target present", "npc", n.ref.NPC)
		if j.requestID != "" {
			// A player's line is owed an answer even when nothing can be done.
			n.out.Send(n.ref.NPC, j.requestID, protocol.Errorf(protocol.CodeInternal, "npc %q has no action it can take with what is present", n.ref.NPC))
		}
		return
	}
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	n.nextUtt++
	u := &utterance{id: fmt.Sprintf("u%d", n.nextUtt), requestID: j.requestID, cancel: cancel}
	n.cur = u
	n.mu.Unlock()

	req := Request{
		Schema: schema, StreamField: "say", MaxTokens: h.cfg.MaxTokens,
		// The decode gets the whole deadline again once started: cutting
		// work already begun wastes what it computed, which under overload
		// is what little the model can give.
		Priority: j.prio, Deadline: time.Now().Add(deadline),
		Temperature: h.cfg.Temperature, Seed: h.seed.Add(1),
	}
	var res Result
	for try := 0; ; try++ {
		req.Segments = segments(ain, pieces)
		if h.cfg.KeepPrompt {
			n.mu.Lock()
			n.lastPrompt = req.Segments.String()
			n.mu.Unlock()
		}
		res, err = h.gen.Generate(ctx, req, func(d string) { h.delta(n, u, d) })
		if !errors.Is(err, ErrTooLong) || try == 2 {
			break
		}
		// Too long for the context: the conversation goes first, then the
		// memories (both stay in memory, retrievable later).
		if len(in.History) > 0 {
			in.History, pieces = nil, nil
		} else {
			in.Memory = nil
		}
		ain, al = in.Aliased()
	}
	h.land(n, u, j, in, ain, al, pieces, res, err)
}

// segments renders in's prompt (aliased, as the model reads it) with each
// earlier reply cut into the pieces it was generated in (when known and
// still equal to the reply's canonical JSON), so that the decoder's cache
// matches it token for token. The text is RenderPrompt(in)'s, byte for
// byte.
func segments(in npc.PromptInput, pieces [][]string) npc.Segments {
	segs := npc.RenderPrompt(in)
	if len(in.History) == 0 {
		return segs
	}
	out := make(npc.Segments, 0, 3+4*len(in.History)+1)
	out = append(out, segs[:3]...) // lore, persona, memory
	for i, t := range in.History {
		stim := npc.RenderPrompt(npc.PromptInput{Now: t.Stimulus, Format: in.Format}).Text(npc.SegStimulus)
		out = append(out, npc.Segment{Name: npc.SegHistory, Text: stim})
		js := t.Reply.JSON()
		if i < len(pieces) && pieces[i] != nil && strings.Join(pieces[i], "") == js {
			for _, p := range pieces[i] {
				out = append(out, npc.Segment{Name: npc.SegHistory, Text: p})
			}
		} else {
			out = append(out, npc.Segment{Name: npc.SegHistory, Text: js})
		}
		out = append(out, npc.Segment{Name: npc.SegHistory, Text: npc.ImEnd + "\n"})
	}
	return append(out, segs[4])
}

// seeSpeakers adds whoever was heard but is not in view to the seen
// entities: the NPC can answer them, and they may be its target.
func seeSpeakers(st *npc.Stimulus) {
	for _, u := range st.Heard {
		if u.From == "" || slices.ContainsFunc(st.Seen, func(e npc.Entity) bool { return e.ID == u.From }) {
			continue
		}
		st.Seen = append(st.Seen, npc.Entity{ID: u.From, Name: u.Name, Kind: npc.KindPlayer})
	}
}

// delta streams one say delta of u, unless u was cut short.
func (h *Host) delta(n *mindNPC, u *utterance, d string) {
	if d == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if u.done {
		return
	}
	u.said += d
	h.deltas.Add(1)
	n.out.Send(n.ref.NPC, u.requestID, &protocol.Say{UtteranceID: u.id, Delta: d})
}

// land ends a think: the final say, memory, the conversation, the decision
// message and the blackboard, then the memory's save. in holds the game's
// ids; ain is in as the model read it, al maps its aliases back.
func (h *Host) land(n *mindNPC, u *utterance, j job, in, ain npc.PromptInput, al *npc.Aliases, pieces [][]string, res Result, err error) {
	now := h.cfg.Now()
	n.mu.Lock()
	n.cur = nil
	cutShort := u.done
	u.done = true
	switch {
	case errors.Is(err, ErrOverloaded):
		n.mu.Unlock()
		if perr := h.overloaded(j); perr != nil {
			n.out.Send(n.ref.NPC, j.requestID, perr.(*protocol.Error))
		}
		return
	case err != nil:
		n.mu.Unlock()
		h.errs.Add(1)
		h.log.Error("think failed", "npc", n.ref.NPC, "err", err)
		if j.prio >= PriorityPlayer {
			n.out.Send(n.ref.NPC, j.requestID, protocol.Errorf(protocol.CodeInternal, "npc %q could not think", n.ref.NPC))
		}
		return
	}
	to, toName := addressee(in.Now)
	d, perr := npc.ParseDecision([]byte(res.Text))
	if !cutShort && !res.Stats.Stopped {
		if perr == nil {
			perr = d.ValidateFor(h.a.Catalog, ain)
		}
		if perr != nil {
			h.invalid.Add(1)
			h.log.Warn("decision invalid", "npc", n.ref.NPC, "raw", res.Text, "err", perr)
		}
	}
	if perr != nil || cutShort || res.Stats.Stopped {
		// Cut short, out of time or invalid: only what was said is kept,
		// and the next turn starts a new conversation, whose digest holds
		// this one's lines.
		switch {
		case !cutShort && u.said != "":
			n.out.Send(n.ref.NPC, u.requestID, &protocol.Say{UtteranceID: u.id, Final: true, Text: u.said})
		case !cutShort && u.requestID != "":
			// A player's line is owed an answer: with nothing said,
			// say why there is none rather than leave the client waiting.
			if res.Stats.Stopped {
				n.out.Send(n.ref.NPC, u.requestID, protocol.Errorf(protocol.CodeOverloaded, "npc %q could not answer in time; its tree goes on", n.ref.NPC))
			} else {
				n.out.Send(n.ref.NPC, u.requestID, protocol.Errorf(protocol.CodeInternal, "npc %q wrote an invalid decision; its tree goes on", n.ref.NPC))
			}
		}
		if u.said != "" {
			n.mem.Said(now, to, toName, u.said, n.p.Language)
		}
		n.history, n.pieces = nil, nil
		n.mu.Unlock()
		h.saveLogged(n)
		return
	}
	d = al.Resolve(d)
	if u.said != "" || d.Say != "" {
		text := u.said
		if text == "" {
			text = d.Say // a generator that did not stream
		}
		n.out.Send(n.ref.NPC, u.requestID, &protocol.Say{UtteranceID: u.id, Final: true, Text: text})
	}
	n.mem.Did(now, d.Action.Name, d.Action.Target, targetName(in, d.Action.Target), itemName(in, d.Action.Item), n.p.Language)
	if d.Say != "" {
		n.mem.Said(now, to, toName, d.Say, n.p.Language)
	}
	n.history = append(in.History, npc.Turn{Stimulus: in.Now, Reply: d})
	n.digest = in.Memory // as sent: a retry may have dropped it
	n.lastTokens = res.Stats.PromptTokens + res.Stats.GeneratedTokens
	n.pieces = append(pieces[:len(pieces):len(pieces)], res.Pieces)
	n.lastTurn = now
	msg := &protocol.Decision{
		Emotion: d.Emotion, Action: d.Action.Name, Target: d.Action.Target, Say: d.Say,
		Raw: res.Text,
		Stats: &protocol.DecisionStats{
			PromptTokens: res.Stats.PromptTokens, ReusedTokens: res.Stats.ReusedTokens,
			GeneratedTokens: res.Stats.GeneratedTokens,
			TTFTMS:          ms(res.Stats.TTFT), TotalMS: ms(res.Stats.Total),
		},
	}
	if d.Action.Item != "" {
		msg.Args = protocol.Args{"item": d.Action.Item}
	}
	if d.Say != "" {
		msg.UtteranceID = u.id
	}
	// Counted before it is sent, so that whoever sees the decision also
	// sees it counted.
	h.decisions.Add(1)
	n.out.Send(n.ref.NPC, u.requestID, msg)
	dead := n.dead
	n.mu.Unlock()

	if !dead {
		// The tree re-plans on its next tick: Pursue runs Action_<goal>.
		for _, kv := range [...]struct{ k, v string }{
			{"target", d.Action.Target}, {"item", d.Action.Item},
			{"emotion", d.Emotion}, {"say", d.Say}, {"goal", d.Action.Name},
		} {
			if err := n.tree.Set(kv.k, behavior.String(kv.v)); err != nil && !errors.Is(err, behavior.ErrUnknownKey) {
				h.log.Warn("decision onto blackboard", "npc", n.ref.NPC, "key", kv.k, "err", err)
			}
		}
	}
	h.saveLogged(n)
	if !dead {
		h.relay(n, in, d)
	}
}

func (h *Host) saveLogged(n *mindNPC) {
	if err := h.save(n, false); err != nil {
		h.log.Error("saving npc memory", "npc", n.ref.NPC, "err", err)
	}
}

// addressee is who the NPC answers: the first speaker heard.
func addressee(st npc.Stimulus) (id, name string) {
	for _, u := range st.Heard {
		if u.From != "" {
			return u.From, u.Name
		}
	}
	return "", ""
}

// targetName names a target id, an entity in view or a place of the
// world, for memory: "You chose to point to the Rusty Anchor", not "to l1".
func targetName(in npc.PromptInput, id string) string {
	if id == "" {
		return ""
	}
	for _, e := range in.Now.Seen {
		if e.ID == id {
			return e.Name
		}
	}
	for _, p := range in.Lore.Places {
		if p.ID == id {
			return p.Name
		}
	}
	return ""
}

// itemName names an item id of the stimulus, for memory.
func itemName(in npc.PromptInput, id string) string {
	if id == "" {
		return ""
	}
	for _, it := range in.Now.Self.Inventory {
		if it.ID == id {
			return it.Name
		}
	}
	for _, e := range in.Now.Events {
		if e.Item != nil && e.Item.ID == id {
			return e.Item.Name
		}
	}
	return id
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
