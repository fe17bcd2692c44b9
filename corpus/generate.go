package corpus

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/catalog"
)

// reservedTowns are the towns of the runtime's own worlds: the demo's
// (assets/worlds) and the load tool's. Fresh worlds never take their names,
// so that a model trained on fresh worlds meets the demo's towns without
// another town's facts filed under the same name.
var reservedTowns = []string{"Oakvale", "버들골", "Millbrook"}

// worldsPerLang is how many towns each split has per language.
var worldsPerLang = map[Split]int{Train: 12, Heldout: 4}

// splitPool returns the entries of pool that belong to split: every fifth
// entry is held out.
func splitPool[T any](pool []T, s Split) []T {
	var out []T
	for i, x := range pool {
		if (i%5 == 4) == (s == Heldout) {
			out = append(out, x)
		}
	}
	return out
}

// langPack is one language's pools, already cut to one split.
type langPack struct {
	lang        Lang
	names       []string
	players     []string
	towns       []string
	rulers      []string // English: titled names; Korean: surnames
	addr, catch map[string][]string
	lines       map[string][]string
	extra       map[string][]string // training-only phrasings (bank_extra_*.go); nil when held out
	place       map[string][]string // training-only lines naming a place (bank_place.go); nil when held out
	replies     map[string][]string
	speech      map[string]string
}

func newLangPack(l Lang, s Split) *langPack {
	p := &langPack{lang: l, addr: map[string][]string{}, catch: map[string][]string{}, lines: map[string][]string{}}
	var addr, catch, lines map[string][]string
	if l == English {
		p.names, p.players, p.towns, p.rulers = splitPool(namesEN, s), splitPool(playersEN, s), splitPool(townsEN, s), splitPool(rulersEN, s)
		addr, catch, lines, p.replies, p.speech = addrEN, catchEN, playerEN, replyEN, speechEN
		p.extra, p.place = extraPlayerEN, placeLinesEN
	} else {
		p.names, p.players, p.towns, p.rulers = splitPool(namesKO, s), splitPool(playersKO, s), splitPool(townsKO, s), splitPool(surnameKO, s)
		addr, catch, lines, p.replies, p.speech = addrKO, catchKO, playerKO, replyKO, speechKO
		p.extra, p.place = extraPlayerKO, placeLinesKO
	}
	if s != Train {
		p.extra, p.place = nil, nil
	}
	for k, v := range addr {
		p.addr[k] = splitPool(v, s)
	}
	for k, v := range catch {
		p.catch[k] = splitPool(v, s)
	}
	for k, v := range lines {
		p.lines[k] = splitPool(v, s)
	}
	return p
}

// place is a named place of a generated world.
type place struct {
	id, name, loc string
	typ           *placeType
}

type resident struct {
	name  string
	role  *role
	place *place
}

// world is one generated town with its own lore.
type world struct {
	lang      Lang
	name      string
	places    []*place
	byType    map[string]*place
	residents []resident
	ruler     string
	creature  string // plural, as in lore
	creature1 string // one of them, as seen
	product   string
	festival  string
	season    string
	dplace    *place // where the danger is
	fplace    *place // where the festival is
	lore      npc.Lore
}

// Generator produces examples of one split.
type Generator struct {
	cat     *catalog.Catalog
	seed    uint64
	split   Split
	langs   []Lang
	packs   map[Lang]*langPack
	worlds  map[Lang][]*world
	group   int  // consecutive examples sharing language, world and persona
	fresh   bool // a new world for every scene (group), not one of the split's few
	format  npc.PromptFormat
	augment bool // vary training player lines around their slots (augment.go)
	extra   bool // draw training player lines from the extra banks too
	places  bool // some lines of other kinds name a place (SetPlaceMentions)
	coined  bool // half of a fresh training world's places get made-up names (SetCoinedNames)
	lookup  int  // lookupKinds' weight multiplier (SetLookupBoost); 0 or 1: none
	drills  bool // every 8th training example a lookup drill (drill.go)
}

// MaxGroup is the largest group SetGroup accepts: a group shares one prompt
// prefix, and more than this many examples of one persona would crowd out
// the variety of personas a training batch sees.
const MaxGroup = 64

// SetGroup makes consecutive examples come in groups of k sharing
// language, world and persona (hence the same lore and persona segments)
// with different situations, so that a trainer can share their prompt
// prefix. Example i belongs to group i/k and stays a pure function of
// (seed, split, i, k). k = 1, the default, gives the ungrouped corpus.
func (g *Generator) SetGroup(k int) error {
	if k < 1 || k > MaxGroup {
		return fmt.Errorf("corpus: group size %d out of range (want 1 to %d)", k, MaxGroup)
	}
	g.group = k
	return nil
}

// SetFreshWorlds makes every scene (with SetGroup, every group) draw a
// world of its own — town, places, residents, ruler, lore — instead of one
// of the split's 12 (train) or 4 (held-out) worlds. A model trained on the
// few worlds learns their facts by heart and recalls them where a prompt
// says otherwise (asked about a town it was not trained on, the embedded
// model answered with places and people of the training towns); fresh
// worlds leave it only the prompt to go by. Town names still come from
// the split's pool, so a name recurs with different facts, but never a
// name of reservedTowns.
func (g *Generator) SetFreshWorlds(on bool) { g.fresh = on }

// SetPromptFormat renders the examples' prompts in format f (default
// npc.IDFirst). Only the rendering changes: the same seed, split and index
// give the same situation and decision in every format.
func (g *Generator) SetPromptFormat(f npc.PromptFormat) { g.format = f }

// SetAugment varies the training split's player lines around their slots
// (a neutral lead-in, a word left out; see augment.go), from a random
// stream of their own, so that each example keeps the situation and
// decision it has without augmentation. The held-out split is never
// augmented: it measures the phrasings as written.
func (g *Generator) SetAugment(on bool) error {
	if on && g.split != Train {
		return fmt.Errorf("corpus: augmentation is for the training split, not %s", g.split)
	}
	g.augment = on
	return nil
}

// SetExtraPhrasings makes the training split draw its player lines from
// the extra training-only banks (bank_extra_en.go, bank_extra_ko.go: 12 to
// 20 more phrasings of every kind but injections and introductions) as
// well as its share of the base banks, each line uniformly among both.
// Like SetAugment it draws from a stream of its own, so each example keeps
// its situation and decision; the held-out split refuses it.
func (g *Generator) SetExtraPhrasings(on bool) error {
	if on && g.split != Train {
		return fmt.Errorf("corpus: extra phrasings are for the training split, not %s", g.split)
	}
	g.extra = on
	return nil
}

// SetPlaceMentions makes a third of the training split's injections,
// insults, threats, nonsense, greetings and farewells name a place of the
// world without asking for it (bank_place.go): "Everyone at the Town Well
// says you're a fool." Under the id-last-recall layout such a line gets a
// [Recall] line with the place like a lookup does while the decision stays
// the kind's, so a model learns that a place recalled is not a place asked
// for (a model trained without them answered insults by pointing at
// whatever place was recalled). It changes those lines' words only, never
// which situations are drawn.
func (g *Generator) SetPlaceMentions(on bool) error {
	if on && g.split != Train {
		return fmt.Errorf("corpus: place mentions are for the training split, not %s", g.split)
	}
	g.places = on
	return nil
}

// SetCoinedNames gives half the places of every fresh training world a
// name made up for it (coined.go: "the Thornwick Well", "솔빛 우물") from
// hundreds of words, so that a model must copy a place's name from the
// prompt to say it rather than guess its kind's usual name. It needs fresh
// worlds (SetFreshWorlds), and draws from a stream of its own, so every
// example keeps its situation and decision and only names change.
func (g *Generator) SetCoinedNames(on bool) error {
	if on && g.split != Train {
		return fmt.Errorf("corpus: coined names are for the training split, not %s", g.split)
	}
	g.coined = on
	return nil
}

// MaxLookupBoost is the largest multiplier SetLookupBoost accepts: at 4
// the lookup situations are already about a third of the corpus.
const MaxLookupBoost = 4

// SetLookupBoost multiplies how often the training split draws the
// situations that must look a named place or person up in the prompt
// (ask_place, guide, ask_person: 19 of 194 weight as listed, a tenth) by k,
// at the expense of every other kind. It changes which situation each
// example draws, so the corpus is a different one, but the held-out split
// refuses it: its mix of kinds is what the figures are measured on.
func (g *Generator) SetLookupBoost(k int) error {
	if k < 1 || k > MaxLookupBoost {
		return fmt.Errorf("corpus: lookup boost %d out of range (want 1 to %d)", k, MaxLookupBoost)
	}
	if k > 1 && g.split != Train {
		return fmt.Errorf("corpus: a lookup boost is for the training split, not %s", g.split)
	}
	g.lookup = k
	return nil
}

// New returns a generator for split, deterministic from seed. langs limits
// the languages (nil: both).
func New(cat *catalog.Catalog, seed uint64, split Split, langs []Lang) (*Generator, error) {
	if _, err := ParseSplit(string(split)); err != nil {
		return nil, err
	}
	if len(langs) == 0 {
		langs = []Lang{English, Korean}
	}
	g := &Generator{cat: cat, seed: seed, split: split, langs: langs, packs: map[Lang]*langPack{}, worlds: map[Lang][]*world{}, group: 1}
	for _, l := range langs {
		if l != English && l != Korean {
			return nil, fmt.Errorf("corpus: unknown language %q (want en or ko)", l)
		}
		g.packs[l] = newLangPack(l, split)
		salt := uint64(1)
		if l == Korean {
			salt = 2
		}
		if split == Heldout {
			salt += 10
		}
		r := rand.New(rand.NewPCG(seed, 0x5eed0000+salt))
		towns := slices.Clone(g.packs[l].towns)
		r.Shuffle(len(towns), func(i, j int) { towns[i], towns[j] = towns[j], towns[i] })
		for i := range min(worldsPerLang[split], len(towns)) {
			g.worlds[l] = append(g.worlds[l], g.newWorld(r, nil, g.packs[l], towns[i]))
		}
	}
	return g, nil
}

// Worlds returns the names of the generated towns, per language.
func (g *Generator) Worlds(l Lang) []string {
	var out []string
	for _, w := range g.worlds[l] {
		out = append(out, w.name)
	}
	return out
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// newWorld draws a world from r; with coin non-nil (SetCoinedNames) half
// its places get coined names, drawn from coin so that r draws the same.
func (g *Generator) newWorld(r, coin *rand.Rand, lp *langPack, town string) *world {
	w := &world{lang: lp.lang, name: town, byType: map[string]*place{}}
	types := []string{"inn", "market", "gate", "well"}
	var others []string
	for _, pt := range placeTypes {
		if !slices.Contains(types, pt.key) {
			others = append(others, pt.key)
		}
	}
	r.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	types = append(types, others[:4+r.IntN(3)]...)
	r.Shuffle(len(types), func(i, j int) { types[i], types[j] = types[j], types[i] })
	locs := placeLocEN
	if lp.lang == Korean {
		locs = placeLocKO
	}
	locOrder := r.Perm(len(locs))
	for i, key := range types {
		pt := placeTypeByKey(key)
		names, adjs := pt.namesEN, pt.adjEN
		if lp.lang == Korean {
			names, adjs = pt.namesKO, pt.adjKO
		}
		v := vars{}
		if a := splitPool(adjs, g.split); len(a) > 0 {
			v["A"] = pick(r, a)
		}
		p := &place{id: fmt.Sprintf("l%d", i+1), name: fill(pick(r, splitPool(names, g.split)), v), loc: locs[locOrder[i%len(locOrder)]], typ: pt}
		if coin != nil && coin.IntN(2) == 0 {
			p.name = coinedName(coin, lp.lang, key)
		}
		w.places = append(w.places, p)
		w.byType[key] = p
	}
	// Residents: up to three people named in the lore, each at a place of
	// the world where their role works.
	var cands []*role
	for i := range roles {
		// A thief does not tell the town where to find him.
		if w.byType[roles[i].work] != nil && roles[i].key != "thief" {
			cands = append(cands, &roles[i])
		}
	}
	r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	names := r.Perm(len(lp.names))
	for i := 0; i < len(cands) && len(w.residents) < 3; i++ {
		w.residents = append(w.residents, resident{name: lp.names[names[len(w.residents)]], role: cands[i], place: w.byType[cands[i].work]})
	}
	ci := r.IntN(len(creaturesEN))
	pi, fi, si, seti := r.IntN(len(productsEN)), r.IntN(len(festivalsEN)), r.IntN(len(seasonsEN)), r.IntN(len(settingsEN))
	w.dplace = w.placeOf(r, "woods", "mine", "docks", "mill", "gate")
	w.fplace = w.placeOf(r, "market", "temple", "docks", "manor", "inn")
	var text strings.Builder
	if lp.lang == English {
		w.ruler = pick(r, lp.rulers)
		w.creature, w.creature1, w.product, w.festival, w.season = creaturesEN[ci], creatureEN1[ci], productsEN[pi], festivalsEN[fi], seasonsEN[si]
		setting := settingsEN[seti]
		fmt.Fprintf(&text, "%s%s, ruled by %s. It is known for its %s. Lately %s have been seen near %s. Every %s, %s is held at %s.",
			strings.ToUpper(setting[:1]), setting[1:], w.ruler, w.product, w.creature, w.dplace.name, w.season, w.festival, w.fplace.name)
		for _, res := range w.residents {
			fmt.Fprintf(&text, " %s the %s works at %s.", res.name, res.role.en, res.place.name)
		}
	} else {
		w.ruler = pick(r, lp.rulers) + " " + pick(r, titlesKO)
		w.creature, w.creature1, w.product, w.festival, w.season = creaturesKO[ci], creaturesKO[ci], productsKO[pi], festivalsKO[fi], seasonsKO[si]
		text.WriteString(fill("{setting|이다}. {ruler|이} 고을을 다스린다. {product|으로} 이름났다. 요즘 {dplace} 근처에 {creature|이} 자주 나타난다. 해마다 {season|이면} {fplace}에서 {festival|이} 열린다.",
			vars{"town": town, "setting": settingsKO[seti], "ruler": w.ruler, "product": w.product, "dplace": w.dplace.name,
				"creature": w.creature, "season": w.season, "fplace": w.fplace.name, "festival": w.festival}))
		for _, res := range w.residents {
			text.WriteString(" " + fill("{name|은} {place}에서 일하는 {role|이다}.", vars{"name": res.name, "place": res.place.name, "role": res.role.ko}))
		}
	}
	w.lore = npc.Lore{Name: town, Text: text.String()}
	for _, p := range w.places {
		kind := p.typ.kindEN
		if lp.lang == Korean {
			kind = p.typ.kindKO
		}
		w.lore.Places = append(w.lore.Places, npc.Place{ID: p.id, Name: p.name, Note: kind + ", " + p.loc})
	}
	return w
}

// placeOf returns the first of the world's places of the given types, in
// random order, or any place.
func (w *world) placeOf(r *rand.Rand, types ...string) *place {
	r.Shuffle(len(types), func(i, j int) { types[i], types[j] = types[j], types[i] })
	for _, t := range types {
		if p := w.byType[t]; p != nil {
			return p
		}
	}
	return pick(r, w.places)
}

func placeTypeByKey(k string) *placeType {
	for i := range placeTypes {
		if placeTypes[i].key == k {
			return &placeTypes[i]
		}
	}
	panic("corpus: no place type " + k) // the tables are constant; a test covers them
}

// Example returns example i of the generator's split. It is a pure function
// of (seed, split, i) and the group size (see SetGroup).
func (g *Generator) Example(i int) (*Example, error) {
	salt := uint64(0)
	if g.split == Heldout {
		salt = 1 << 62
	}
	r := rand.New(rand.NewPCG(g.seed, salt|uint64(i)))
	var coin *rand.Rand
	if g.coined && g.fresh {
		// Bit 59: the group's (or the example's) own stream for names.
		coin = rand.New(rand.NewPCG(g.seed, salt|1<<59|uint64(i/max(g.group, 1))))
	}
	var s *scene
	if g.group <= 1 {
		lang := g.langs[r.IntN(len(g.langs))]
		s = newScene(g, r, coin, lang)
	} else {
		// The group's own stream (bit 61 keeps it apart from every
		// example's) draws language, world and persona; the example's
		// stream then draws the situation, so a group's examples differ.
		gr := rand.New(rand.NewPCG(g.seed, salt|1<<61|uint64(i/g.group)))
		lang := g.langs[gr.IntN(len(g.langs))]
		s = newScene(g, gr, coin, lang)
		s.r = r
		s.reset()
	}
	s.e.ID = fmt.Sprintf("%s-%d-%07d", g.split, g.seed, i)
	if g.augment || g.extra || g.places {
		// Bit 60: a stream apart from the example's (and the group's), so
		// augmenting changes the player's words and nothing else.
		s.aug = rand.New(rand.NewPCG(g.seed, salt|1<<60|uint64(i)))
	}
	for try := 0; ; try++ {
		sc := pickScenario(r, g.lookup)
		if sc.run(s) {
			s.e.Kind = sc.kind
			break
		}
		if try > 200 {
			return nil, fmt.Errorf("corpus: %s: no scenario applies", s.e.ID)
		}
		s.reset()
	}
	if g.isDrill(i) {
		return s.drill()
	}
	return s.finish()
}
