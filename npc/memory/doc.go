// Package memory is an NPC's memory stream and relationships, as in
// Generative Agents (Park et al. 2023), with a durable store.
//
// A Stream holds entries (observation, said, did, reflection, summary), each
// with a time, a rule-based importance 1–10 (being attacked 9, robbed 8,
// given something 6, spoken to 4, someone arriving 2–4, leaving 1), text in
// the NPC's language and the entity ids involved. Retrieve scores entries by
// recency (exponential decay, Config.HalfLife), importance and lexical
// relevance (BM25 over the stream, plus shared entity ids), equally weighted
// by default, ties broken by sequence number so results are deterministic.
// Digest returns the top k as the prompt's [Memory] lines in the order they
// happened, with a bonus for the previous digest's entries, because the
// memory block sits before the conversation in the prompt and every change
// to it invalidates the cached prefix after it.
//
// The digest is the past: build the prompt (QueryFor the stimulus, Digest)
// before recording the stimulus's own events with Observe, so a line is
// not shown both as a memory and under [Events] or [Heard]. LabelSeen shows
// learned feelings as the relation of entities the game left unlabelled.
//
// Relationships (trust and affinity in [-1, 1]) toward each entity move
// with events — a gift warms, theft and attacks cool (harm seen done to
// others less so), kind or rude words nudge — and are clamped; a persona's
// relationships seed them (kind defaults under "kind:<kind>").
//
// Compaction keeps a stream within Config.Cap entries: when it is over, old
// entries below Config.FoldBelow importance are folded per (topic, actor,
// item) into summaries that keep the count and the most important fact
// ("Aren gave you iron ore (7 times)."), and if that is not enough the
// least important old entries are forgotten (counted by Forgotten). The
// newest Config.KeepRecent entries are never touched.
//
// Store persists streams in a bbolt file, keyed by world id and NPC id, one
// bucket per NPC (entries by sequence number, relationships by entity id).
// Save writes a stream's changes (TakeChanges) and returns after the commit
// is fsynced: that is the durability point, so an acknowledged change
// survives a restart. Concurrent Saves share one transaction and fsync. A
// record that cannot be read yields a *CorruptError for that NPC only.
//
// A Stream belongs to one goroutine; a Store is safe for concurrent use.
package memory
