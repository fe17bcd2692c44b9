// Package mind joins an NPC's parts into a mind that runs on a Generator
// (the decoder) and a behaviour tree, for many NPCs at once: the loop of
// DESIGN.md. A Host holds the NPCs of every session, in the shape of the
// server's NPCHost.
//
// Per NPC, a perceive or a line heard goes into its working set
// (npc/perception) and past the salience gate (npc/salience); when the gate
// says think, a think is queued (at most one per NPC). A think renders the prompt
// (npc.RenderPrompt: lore, persona, the memory digest, the conversation so
// far, the stimulus) and the decision schema (npc.DecisionSchema: the NPC's
// actions with only the targets it can see or knows), decodes with the say
// field streamed to the client as say deltas, and lands the decision on the
// tree's blackboard (goal, target, item, emotion, say), in memory (what
// was said, what was chosen) and out as a decision message. The tree,
// ticked at 10 Hz by one behavior.Scheduler, then carries the action out:
// act messages to the game, resolved by its action_status.
//
// # Conversation and cache reuse
//
// A conversation's turns stay in the prompt as history and its memory
// digest is frozen for its length, so each turn's prompt extends the last
// one and the decoder reuses its cached prefix. Earlier replies go back
// into the prompt cut into the pieces they were generated in
// (Result.Pieces), so they tokenize as the decoder chose them and are found
// in its cache too. A conversation ends after Config.MaxTurns turns,
// Config.ConversationGap of silence, or when its prompt nears
// Config.ContextTokens; the next starts from a fresh digest, in which the
// memories of the last one are found.
//
// # One think per NPC
//
// A request while a think is queued merges into it (a player's line
// promotes it to the player queue); a request while one runs waits behind
// it as one more think, and a player's line cuts short the reply being
// decoded, which the new line makes stale.
//
// # Priorities and overload
//
// Thinks run on Config.Workers goroutines; Config.Reserve of them serve
// player dialogue only, and the decoder orders waiting requests by priority
// too, so ambient thinking never starves a conversation. Each priority's
// queue is served in order until it falls behind (its oldest think waited
// over a second), then newest first, so that the lines still worth
// answering are answered in time; a think past its deadline is refused
// (overloaded) rather than started. The salience
// gate's global budget limits ambient thinking; when the think queue is
// full or the generator refuses work, the NPC goes on with its tree alone,
// and Counters.TreeOnly (the anima_npc_tree_only_total metric) counts it.
//
// # Interrupts
//
// Interrupt ends the open utterance at once with a final say of what was
// streamed, and cancels the decoding (the generator stops within one
// decode step); memory keeps only what was said.
//
// # Memory
//
// With a memory.Store, an NPC's stream is loaded at spawn by (world, NPC
// id) and saved (fsynced) after every think and at despawn, so a respawned
// id, in this process or the next, remembers.
package mind
