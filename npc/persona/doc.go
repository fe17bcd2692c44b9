// Package persona loads and validates who an NPC is — its persona file — and
// the world lore file its world shares, and builds both from a protocol
// spawn or world message. A persona that names an unknown tree or action, or
// is missing or contradicts a field, is an error naming the file and field
// (*FieldError), never a panic.
//
// A persona file (assets/personas/<id>.json; the file stem is the id):
//
//	{"name": "Brannoc", "role": "blacksmith", "language": "en", "world": "oakvale",
//	 "traits": ["gruff", "honest"], "speech": "short blunt sentences",
//	 "backstory": "…", "goals": ["…"], "knowledge": ["Repairs cost two silver"],
//	 "relationships": [{"with": "selka", "trust": 0.6, "affinity": 0.5, "note": "old friend"},
//	                   {"kind": "player", "trust": 0, "affinity": 0}],
//	 "tree": "merchant", "actions": ["idle", "greet", "trade", "repair"]}
//
// "tree" is the lower-cased id of a main behaviour tree (Merchant in
// assets/trees/merchant.xml is "merchant"); the caller passes the known
// ones in Known. "actions" must be catalog actions; they are kept in catalog
// order so the rendered persona does not depend on how a file lists them.
// A relationship is to one persona ("with") or to every entity of a kind
// ("kind": player, npc or creature), with trust and affinity in [-1, 1]; it
// seeds the NPC's relationships in package memory.
//
// A world file (assets/worlds/<id>.json):
//
//	{"name": "Oakvale", "language": "en", "lore": "Oakvale is a river town …",
//	 "places": [{"id": "l1", "name": "The Rusty Anchor", "note": "inn, east of the square"}]}
//
// LoadFS loads a folder of each and cross-checks them: relationships name
// personas of the set, a persona's world exists, and a persona speaks its
// world's language. Persona.Prompt and World.Prompt convert to the prompt
// renderer's inputs (npc.Persona, npc.Lore).
package persona
