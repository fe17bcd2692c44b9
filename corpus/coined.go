package corpus

import "math/rand/v2"

// Coined place names (SetCoinedNames): half the places of a training world
// get a name made up for it from a word drawn among hundreds, so that no
// name is frequent enough to be learnt as a default.
//
// Why: the model of session 12 finds the place a player asks for (it
// copies the id from the [Recall] line) but says another place's name —
// "The Deep Well? It's at the main road." while pointing at the Town Well.
// Each kind of place has five or six names in the training pool, so
// guessing the kind's usual name paid almost as well as copying the one in
// the prompt; with a few hundred names a kind, only copying pays.

// coinedTemplates is each place type's form for a coined name, English
// and Korean, {A} the coined word.
//
// coinedTemplates is logically constant.
var coinedTemplates = map[string][2]string{
	"inn":       {"The {A} Arms", "{A} 주막"},
	"market":    {"the {A} Market", "{A} 장터"},
	"forge":     {"the {A} Forge", "{A} 대장간"},
	"temple":    {"the Chapel of St. {A}", "{A}사"},
	"well":      {"the {A} Well", "{A} 우물"},
	"mill":      {"{A} Mill", "{A} 방앗간"},
	"docks":     {"the {A} Landing", "{A} 나루터"},
	"gate":      {"the {A} Gate", "{A}문"},
	"barracks":  {"the {A} Tower", "{A} 초소"},
	"herbhouse": {"the {A} Herb House", "{A} 약방"},
	"library":   {"the {A} Library", "{A} 서당"},
	"mine":      {"the {A} Mine", "{A} 광산"},
	"bakery":    {"the {A} Bakehouse", "{A} 떡집"},
	"stables":   {"the {A} Stables", "{A} 마방"},
	"manor":     {"{A} Hall", "{A} 대감 댁"},
	"woods":     {"the {A} Woods", "{A} 숲"},
}

// coinedHeads and coinedTails make the English words: a head alone or
// with a tail, "Thorn", "Thornwick", "Ashby" (40 × 11).
//
// coinedHeads, coinedTails and coinedSyllables are logically constant.
var (
	coinedHeads = []string{"Ash", "Birch", "Bramble", "Briar", "Cobble", "Copper", "Crow", "Elder", "Fern", "Flint",
		"Gorse", "Hazel", "Heath", "Holly", "Ivy", "Kestrel", "Lark", "Linden", "Maple", "Marsh",
		"Meadow", "Nettle", "Pebble", "Pine", "Quill", "Raven", "Rowan", "Rush", "Sable", "Sorrel",
		"Sparrow", "Tansy", "Thistle", "Thorn", "Wren", "Willow", "Yarrow", "Amber", "Bracken", "Dunlin"}
	coinedTails = []string{"", "wick", "by", "ford", "more", "ley", "wood", "stead", "holm", "cote", "mere"}
	// Korean words are two syllables among these (40 × 40).
	coinedSyllables = []string{"가", "나", "다", "라", "마", "바", "사", "아", "자", "하", "솔", "달", "별", "꽃", "들",
		"물", "돌", "봄", "새", "길", "숲", "강", "해", "빛", "골", "샘", "잎", "눈", "비", "구름",
		"노을", "은", "금", "청", "백", "소", "미", "연", "하늘", "바위"}
)

// coinedName returns a made-up name for a place of type key in language l.
func coinedName(r *rand.Rand, l Lang, key string) string {
	tpl := coinedTemplates[key]
	if l == Korean {
		return fill(tpl[1], vars{"A": pick(r, coinedSyllables) + pick(r, coinedSyllables)})
	}
	return fill(tpl[0], vars{"A": pick(r, coinedHeads) + pick(r, coinedTails)})
}
