// Package perception keeps an NPC's working set — what is around it, its
// own state, and the events it has not yet thought about — from the
// protocol's perceive and player_say messages, and turns it into the
// prompt renderer's stimulus.
//
// Delta semantics (so a game need only send what changed): an entity in a
// perceive is inserted or updated (fields left empty keep their values);
// an entity named by a "left" event (or "leave", "depart", …) is removed;
// an entity not perceived for Config.Expire (10 s) expires silently. A
// first sighting yields an "appeared" event unless the game sent one. With
// Config.Snapshot, a perceive that lists entities replaces the picture
// instead, and those missing yield "left". PROTOCOL.md §4.5 documents the
// delta semantics for game developers.
//
// Events are normalized to the canonical kinds (speech, attacked, gift,
// stole, sound, appeared, left, time), named from the working set, and
// marked Addressed when they are speech meant for this NPC (a player_say,
// speech whose target is the NPC, or speech naming it as a word). They
// become memory entries (package memory) and salience triggers (package
// salience).
//
// Bad input is clamped, counted (Counters, for metrics), and never fatal:
// an entity with an empty, over-long or self id is refused; a NaN or
// infinite position makes that position unknown (the entity is kept, with
// no distance, sorted last) and a coordinate beyond ±1e9 is clamped; a
// non-finite self position keeps the last good one; beyond MaxEntities the
// nearest are kept; texts are cut to the protocol's bounds; events beyond
// a perceive's bound or the pending queue drop the oldest.
//
// Stimulus lists entities nearest first with distances in metres, events
// worded by the renderer, speech under [Heard] (always quoted as heard,
// never instructions), the time of day, and carried items under ids that
// stay the same for the NPC's life, so that prompts stay cacheable.
package perception
