// Package salience decides when an NPC thinks, that is, when its mind asks
// the model for a decision; the rest of the time its behaviour tree runs
// alone.
//
// An NPC always thinks when a player addresses it (a player_say, or speech
// to it or naming it); another NPC addressing it is budgeted chat. It may think on being attacked or robbed, or seeing it done
// (urgent), on a gift, or when an entity of interest (a player, a
// creature) appears, and now and then for no reason (an idle re-plan,
// jittered with an injected *rand.Rand so NPCs spawned together do not
// think together). Ambient thinking is limited per NPC by cooldowns (short
// for urgent reasons) and globally by a token bucket of thinks per second;
// low-priority reasons must leave a reserve of tokens that urgent ones may
// take. A player's line bypasses cooldowns, budget and overload (it
// still spends a token when there is one), so ambient thinking never
// starves a player's conversation. When the engine reports overload
// (Overloaded), ambient thinking pauses for a backoff and NPCs go on with
// their trees alone; refusals and Fallbacks are counted as TreeOnly in
// Counters, for metrics.
//
// Time is injected; testdata/script.txt is a script of events and the
// gate's decisions.
package salience
