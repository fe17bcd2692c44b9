// Package npc is an NPC's mind. The parts that need no model live in
// subpackages, each feeding this package's prompt renderer:
//
//   - npc/catalog: the action catalog (assets/catalog/actions.json).
//   - npc/persona: persona and world lore files (assets/personas,
//     assets/worlds) and inline spawn/world messages, validated with
//     errors naming file and field; Persona.Prompt and World.Prompt give
//     this package's Persona and Lore.
//   - npc/perception: a per-NPC working set built from perceive deltas
//     (upsert, "left" or expiry removes), with clamps for bad input;
//     WorkingSet.Stimulus gives this package's Stimulus, and its events
//     feed memory and salience.
//   - npc/memory: the memory stream (Generative Agents retrieval by
//     recency, importance and relevance), relationships that move with
//     events, compaction into summaries under a cap, and a bbolt store
//     whose acknowledged saves survive restarts; Stream.Digest gives the
//     prompt's Memory lines.
//   - npc/salience: when an NPC thinks — always when addressed, on
//     attacks, theft, gifts and newcomers, idly now and then — under
//     per-NPC cooldowns and a global budget, with overload counted.
//
// npc/mind joins them into minds that think on a Generator (the decoder)
// and act through behaviour trees, for many NPCs at once: the server's NPC
// host.
//
// This package itself holds the prompt's inputs, the renderer and the
// decision, as follows.
package npc
