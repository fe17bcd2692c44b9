package corpus

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/anima-rt/anima/npc"
)

// persona is one generated NPC.
type persona struct {
	name   string
	role   *role
	reg    string // speech register
	addr   string // how it addresses strangers
	catch  string // its verbal tic
	giving bool   // gives things away when asked
	traits []string
	work   *place
	np     npc.Persona
}

// scene is one example under construction.
type scene struct {
	g     *Generator
	r     *rand.Rand
	aug   *rand.Rand // non-nil: vary player lines (SetAugment, SetExtraPhrasings)
	lp    *langPack
	w     *world
	p     *persona
	inv   []npc.Item // the persona's inventory at the start
	spare string     // item kind of the one thing a non-seller carries

	// reset for every scenario attempt
	now      npc.Stimulus
	history  []npc.Turn
	memory   []string
	used     map[string]bool
	v        vars
	player   string // the player's entity id, if present
	pname    string // the player's name (told, or known)
	nameAddr bool   // address the player by name (they told it)
	dec      npc.Decision
	accept   map[string][]string
	items    []string
	mentions []string
	inject   bool
	turns    int

	e *Example
}

func newScene(g *Generator, r, coin *rand.Rand, lang Lang) *scene {
	s := &scene{g: g, r: r, lp: g.packs[lang], e: &Example{Split: g.split, Lang: lang}}
	if g.fresh {
		town := pick(r, s.lp.towns)
		for slices.Contains(reservedTowns, town) {
			town = pick(r, s.lp.towns)
		}
		s.w = g.newWorld(r, coin, s.lp, town)
	} else {
		s.w = pick(r, g.worlds[lang])
	}
	s.p = s.newPersona()
	s.e.World, s.e.Persona, s.e.Role = s.w.name, s.p.name, s.p.role.key
	s.reset()
	return s
}

func (s *scene) en() bool { return s.lp.lang == English }

func (s *scene) newPersona() *persona {
	r, w, lp := s.r, s.w, s.lp
	taken := map[string]bool{}
	for _, res := range w.residents {
		taken[res.role.key] = true
	}
	var cands []*role
	for i := range roles {
		if w.byType[roles[i].work] != nil && !taken[roles[i].key] {
			cands = append(cands, &roles[i])
		}
	}
	p := &persona{role: pick(r, cands)}
	p.work = w.byType[p.role.work]
	for {
		p.name = pick(r, lp.names)
		if !slices.ContainsFunc(w.residents, func(res resident) bool { return res.name == p.name }) {
			break
		}
	}
	regs := p.role.regEN
	if !s.en() {
		regs = p.role.regKO
	}
	p.reg = pick(r, regs)
	p.addr, p.catch = pick(r, lp.addr[p.reg]), pick(r, lp.catch[p.reg])
	p.giving = r.IntN(2) == 0
	disp := pick(r, keepingTraits)
	if p.giving {
		disp = pick(r, givingTraits)
	}
	p.traits = []string{disp}
	for _, t := range r.Perm(len(p.role.traits)) {
		if len(p.traits) == 3 {
			break
		}
		if k := p.role.traits[t]; !slices.Contains(p.traits, k) && !slices.Contains(givingTraits, k) && !slices.Contains(keepingTraits, k) {
			p.traits = append(p.traits, k)
		}
	}
	r.Shuffle(len(p.traits), func(i, j int) { p.traits[i], p.traits[j] = p.traits[j], p.traits[i] })
	var words []string
	for _, t := range p.traits {
		if s.en() {
			words = append(words, traits[t][0])
		} else {
			words = append(words, traits[t][1])
		}
	}
	p.np = npc.Persona{Name: p.name, Traits: words}
	if s.en() {
		p.np.Role = p.role.en
		p.np.Speech = fmt.Sprintf("%s; calls people %q; often says %q", speechEN[p.reg], p.addr, p.catch)
		p.np.Knows = []string{"You work at " + p.work.name + "."}
	} else {
		p.np.Role = p.role.ko
		p.np.Speech = speechKO[p.reg] + "; 상대를 '" + p.addr + "'" + particle(p.addr, "이라고") + " 부름; 말버릇은 '" + strings.TrimSuffix(p.catch, ",") + "'"
		p.np.Knows = []string{p.work.name + "에서 일한다."}
	}
	// Some personas carry a backstory and goals, as persona files do.
	if r.IntN(100) < 20 {
		v := vars{"town": w.name, "n": fmt.Sprint(3 + r.IntN(20)), "res": pick(r, w.residents).name, "product": w.product}
		if s.en() {
			p.np.Backstory = fill(pick(r, storyEN), v)
			p.np.Goals = []string{fill(pick(r, goalsEN), v)}
		} else {
			p.np.Backstory = fill(pick(r, storyKO), v)
			p.np.Goals = []string{fill(pick(r, goalsKO), v)}
		}
	}
	// Some personas list the actions they may take, as persona files can;
	// the list leaves out what the role cannot do.
	if r.IntN(100) < 15 {
		for _, a := range s.g.cat.Names() {
			if !p.role.cannot(a) {
				p.np.Actions = append(p.np.Actions, a)
			}
		}
	}
	s.used = map[string]bool{}
	for _, k := range p.role.goods {
		s.inv = append(s.inv, s.item(k))
	}
	if len(s.inv) == 0 {
		// Something of its own, not for sale: no price shown.
		s.spare = pick(r, []string{"bread", "apples", "herbs", "fish", "honey_cake", "cider", "eggs"})
		it := s.item(s.spare)
		it.Note = ""
		s.inv = append(s.inv, it)
	}
	return p
}

// reset clears everything a scenario builds, keeping world and persona.
func (s *scene) reset() {
	s.used = map[string]bool{}
	for _, it := range s.inv {
		s.used[it.ID] = true
	}
	for _, pl := range s.w.places {
		s.used[pl.id] = true
	}
	times := timesEN
	if !s.en() {
		times = timesKO
	}
	s.now = npc.Stimulus{Time: pick(s.r, times), Self: npc.Self{Place: s.p.work.id, Activity: s.act(), Inventory: slices.Clone(s.inv)}}
	s.history, s.memory, s.player, s.nameAddr = nil, nil, "", false
	s.pname = pick(s.r, s.lp.players)
	s.dec = npc.Decision{}
	s.accept, s.items, s.mentions, s.inject, s.turns = map[string][]string{}, nil, nil, false, 1
	role := s.p.role.en
	if !s.en() {
		role = s.p.role.ko
	}
	s.v = vars{"self": s.p.name, "town": s.w.name, "role": role, "work": s.p.work.name, "addr": s.p.addr, "pname": s.pname,
		"ruler": s.w.ruler, "product": s.w.product, "creature": s.w.creature, "creature1": s.w.creature1,
		"dplace": s.w.dplace.name, "festival": s.w.festival, "fplace": s.w.fplace.name, "season": s.w.season}
	if s.r.IntN(100) < 12 {
		s.memory = append(s.memory, s.noiseMemory())
	}
}

func (s *scene) act() string {
	if s.en() {
		return s.p.role.actEN
	}
	return s.p.role.actKO
}

func (s *scene) noiseMemory() string {
	res := pick(s.r, s.w.residents)
	if s.en() {
		return pick(s.r, []string{"It rained all morning.", res.name + " owes you two silver.", "You slept badly last night.", "Business was slow yesterday.", res.name + " asked after your health."})
	}
	return pick(s.r, []string{"아침 내내 비가 왔다.", res.name + "에게 받을 돈이 있다.", "어젯밤 잠을 설쳤다.", "어제는 장사가 시원찮았다.", fill("{n|이} 안부를 물었다.", vars{"n": res.name})})
}

// id returns an unused entity id with the prefix.
func (s *scene) id(prefix string, max int) string {
	for {
		id := fmt.Sprintf("%s%d", prefix, 1+s.r.IntN(max))
		if !s.used[id] {
			s.used[id] = true
			return id
		}
	}
}

func (s *scene) dist(lo, hi int) string { return fmt.Sprintf("%d m", lo+s.r.IntN(hi-lo+1)) }

func (s *scene) price(n int) string {
	if s.en() {
		return enNum[n] + " copper"
	}
	return koNum[n] + " 푼"
}

func (s *scene) itemName(k string) string {
	if s.en() {
		return items[k].en
	}
	return items[k].ko
}

// item makes a priced item of kind k with a fresh id.
func (s *scene) item(k string) npc.Item {
	return npc.Item{ID: s.id("i", 40), Name: s.itemName(k), Note: s.price(items[k].price)}
}

// plainItem makes an unpriced item named by the English or Korean pool.
func (s *scene) plainItem(en, ko []string) npc.Item {
	i := s.r.IntN(len(en))
	name := en[i]
	if !s.en() {
		name = ko[i]
	}
	return npc.Item{ID: s.id("i", 40), Name: name}
}

// brokenItem makes an item in need of repair; its note says what is wrong.
func (s *scene) brokenItem() npc.Item {
	i := s.r.IntN(len(brokenItems))
	if s.en() {
		return npc.Item{ID: s.id("i", 40), Name: brokenItems[i], Note: damageEN[i]}
	}
	return npc.Item{ID: s.id("i", 40), Name: brokenKO[i], Note: damageKO[i]}
}

// see adds an entity to what the NPC sees, at a random position in the list.
func (s *scene) see(e npc.Entity) {
	at := s.r.IntN(len(s.now.Seen) + 1)
	s.now.Seen = slices.Insert(s.now.Seen, at, e)
}

// addPlayer puts the player in view; known says whether the NPC knows its
// name.
func (s *scene) addPlayer(known bool) string {
	s.player = s.id("p", 9)
	e := npc.Entity{ID: s.player, Kind: npc.KindPlayer, Where: s.dist(1, 4)}
	if known {
		e.Name = s.pname
		if s.r.IntN(100) < 30 {
			s.v["addr"] = s.nameForm()
		}
		if s.r.IntN(2) == 0 {
			e.Relation = pickLang(s, "friend", "친구")
		}
	} else if s.r.IntN(3) == 0 {
		e.Relation = pickLang(s, "stranger", "낯선 사람")
	}
	s.see(e)
	// Now and then someone else is around, so that the speaker's id, not
	// "the player", is what a decision must name.
	if s.r.IntN(5) == 0 {
		other := npc.Entity{ID: s.id("p", 9), Kind: npc.KindPlayer, Where: s.dist(5, 20)}
		if s.r.IntN(2) == 0 {
			for other.Name == "" || other.Name == s.pname {
				other.Name = pick(s.r, s.lp.players)
			}
		}
		s.see(other)
	}
	if s.r.IntN(5) == 0 {
		s.object()
		delete(s.v, "obj")
	}
	return s.player
}

// nameForm is how the NPC says the player's name in its register.
func (s *scene) nameForm() string {
	if s.en() {
		return s.pname
	}
	switch s.p.reg {
	case "banmal":
		return s.pname + particle(s.pname, "아")
	case "haeyo":
		return s.pname + " 씨"
	}
	return s.pname + " 님"
}

func (s *scene) playerEntity() *npc.Entity {
	for i := range s.now.Seen {
		if s.now.Seen[i].ID == s.player {
			return &s.now.Seen[i]
		}
	}
	return nil
}

// addNPC puts another NPC in view and returns its id.
func (s *scene) addNPC(name, roleWord string, lo, hi int) string {
	id := s.id("n", 30)
	s.see(npc.Entity{ID: id, Name: name, Kind: npc.KindNPC, Role: roleWord, Where: s.dist(lo, hi)})
	return id
}

// addGuard puts a guard in view; it returns the guard's id and name.
func (s *scene) addGuard() (string, string) {
	name := s.freshName()
	word := "guard"
	if !s.en() {
		word = "포졸"
	}
	return s.addNPC(name, word, 4, 15), name
}

// freshName is a person's name not used by the persona or residents.
func (s *scene) freshName() string {
	for {
		n := pick(s.r, s.lp.names)
		if n != s.p.name && !slices.ContainsFunc(s.w.residents, func(r resident) bool { return r.name == n }) {
			return n
		}
	}
}

func (s *scene) roleWord(r *role) string {
	if s.en() {
		return r.en
	}
	return r.ko
}

// hear records what the player said; its phrasing comes from the split's
// player lines of the kind.
func (s *scene) hear(kind string) {
	lines := s.lp.lines[kind]
	if len(lines) == 0 {
		panic("corpus: no player lines of kind " + kind) // the tables are constant; tests cover every kind
	}
	e := s.playerEntity()
	tpl := pick(s.r, lines)
	if s.g.extra {
		if ex := s.lp.extra[kind]; len(ex) > 0 && s.aug.IntN(len(lines)+len(ex)) >= len(lines) {
			tpl = pick(s.aug, ex)
		}
	}
	if s.g.places {
		if pl := s.lp.place[kind]; len(pl) > 0 && s.aug.IntN(3) == 0 {
			tpl = pick(s.aug, pl)
			s.v["there"] = pick(s.aug, s.w.places).name
			s.v["who"] = pick(s.aug, s.w.residents).name
		}
	}
	if s.g.augment {
		tpl = augment(s.aug, s.e.Lang, kind, tpl)
	}
	s.now.Heard = append(s.now.Heard, npc.Utterance{From: s.player, Name: e.Name, Text: s.roughen(kind, fill(tpl, s.v))})
}

// roughen makes some player lines look typed in a hurry, as players type:
// no capitals, no final punctuation, a laugh.
func (s *scene) roughen(kind, line string) string {
	if kind == "injection" || s.r.IntN(100) >= 15 {
		return line
	}
	trimmed := strings.TrimRight(line, ".!?~")
	if kind == "intro" {
		return trimmed // a name keeps its capital, so the reply can copy it
	}
	switch s.r.IntN(3) {
	case 0:
		return trimmed
	case 1:
		if s.en() {
			return strings.ToLower(line)
		}
		return trimmed + "~"
	}
	if s.en() {
		return strings.ToLower(trimmed)
	}
	if friendly[kind] {
		return trimmed + " ㅋㅋ"
	}
	return trimmed
}

// friendly is logically constant: player line kinds a laugh suits.
var friendly = map[string]bool{"greet": true, "farewell": true, "intro": true, "recall": true, "hello_again": true, "nonsense": true, "ask_name": true, "gift": true, "theft": true}

// reply composes the NPC's line of kind in its register, now and then
// opened by its verbal tic.
func (s *scene) reply(kind string) string {
	tpls := s.lp.replies[kind+"/"+s.p.reg]
	if len(tpls) == 0 {
		tpls = s.lp.replies[kind+"/*"]
	}
	if len(tpls) == 0 {
		panic("corpus: no replies of kind " + kind + " for register " + s.p.reg)
	}
	out := fill(pick(s.r, tpls), s.v)
	if s.en() {
		out = capitalize(out)
	}
	if s.nameAddr && out != "" && !strings.Contains(out, s.pname) {
		out = s.vocative(out)
	}
	if out != "" && !alarmed[kind] && s.r.IntN(100) < 35 {
		out = s.p.catch + " " + out
	}
	return out
}

// alarmed is logically constant: reply kinds too urgent for a verbal tic.
var alarmed = map[string]bool{"amb_danger_hide": true, "amb_danger_warn": true, "attacked_flee": true, "attacked_guard": true,
	"threat_flee": true, "threat_guard": true, "theft_guard": true, "theft_chase": true, "heal_redirect": true, "amb_theft_guard": true, "amb_theft_warn": true, "theft_warn": true}

// vocative adds the player's name to a line: at the end in English
// ("…, Aren."), at the start in Korean ("민준 씨, …").
func (s *scene) vocative(line string) string {
	name := s.nameForm()
	if !s.en() {
		return name + ", " + line
	}
	end := len(line)
	for end > 0 && strings.ContainsRune(".!?", rune(line[end-1])) {
		end--
	}
	return line[:end] + ", " + name + line[end:]
}

// ok adds an acceptable action with its acceptable targets.
func (s *scene) ok(action string, targets ...string) {
	s.accept[action] = append(s.accept[action], targets...)
}

func (s *scene) mention(m ...string) { s.mentions = append(s.mentions, m...) }

// decide sets the decision.
func (s *scene) decide(emotion, action, target, item, say string) {
	s.dec = npc.Decision{Emotion: emotion, Action: npc.Intent{Name: action, Target: target, Item: item}, Say: say}
}

func (s *scene) emo(options ...string) string { return pick(s.r, options) }

// maxSeen is how many entities the runtime shows the model at most.
const maxSeen = 6

// crowdless is logically constant: the kinds whose right answer depends on
// who else is around (guards to call, a speaking NPC, a victim, anyone to
// warn), where a bystander could be a right target that the labels do not
// name, or a wrong one they would not catch.
var crowdless = map[string]bool{"threat": true, "theft": true, "attacked": true, "npc_greet": true, "npc_alarm": true}

// crowd now and then puts bystanders in view, up to what the runtime shows,
// so the model learns to name the one a situation is about among several.
// They are never a labelled target. It draws last, so that an example
// without a crowd is the example it was before crowds existed.
func (s *scene) crowd() {
	if crowdless[s.e.Kind] || strings.HasPrefix(s.e.Kind, "amb_") || len(s.now.Seen) >= maxSeen || s.r.IntN(100) >= 30 {
		return
	}
	named := func(n string) bool {
		return slices.ContainsFunc(s.now.Seen, func(e npc.Entity) bool { return e.Name == n })
	}
	for range 1 + s.r.IntN(maxSeen-len(s.now.Seen)) {
		var e npc.Entity
		if s.r.IntN(2) == 0 {
			e = npc.Entity{ID: s.id("n", 30), Kind: npc.KindNPC, Role: s.roleWord(pick(s.r, crowdRoles)), Where: s.dist(4, 25)}
			for e.Name == "" || named(e.Name) {
				e.Name = s.freshName()
			}
		} else {
			e = npc.Entity{ID: s.id("p", 9), Kind: npc.KindPlayer, Where: s.dist(4, 25)}
			// Only a name nobody in view has; where a small pool (the
			// held-out split's) has none left, the player stays unnamed
			// rather than the draw looping for ever. Drawing from the whole
			// pool until one is free keeps every example that had a name
			// the example it was.
			if s.r.IntN(2) == 0 && len(s.lp.players) > 2 && slices.ContainsFunc(s.lp.players, func(n string) bool { return n != s.pname && !named(n) }) {
				for e.Name == "" || e.Name == s.pname || named(e.Name) {
					e.Name = pick(s.r, s.lp.players)
				}
			}
		}
		s.see(e)
		s.e.bystanders = append(s.e.bystanders, e.ID)
	}
}

// crowdRoles is logically constant: the roles a bystander may have. No one
// on duty (a guard could be called), thief (one could be chased), healer or
// mender (a request sent to a resident could be sent to them instead).
var crowdRoles = func() []*role {
	var out []*role
	for i := range roles {
		r := &roles[i]
		if r.key != "thief" && !r.has(onDuty|canHeal|canRepair) {
			out = append(out, r)
		}
	}
	return out
}()

func (s *scene) finish() (*Example, error) {
	s.crowd()
	if s.nameAddr {
		s.mention(s.pname)
	}
	e := s.e
	e.Labels = Labels{Accept: s.accept, Items: s.items, Mentions: s.mentions, Injection: s.inject, Turns: s.turns}
	if acts := s.p.np.Actions; len(acts) > 0 {
		for a := range s.accept {
			if !slices.Contains(acts, a) {
				delete(s.accept, a)
			}
		}
	}
	in := npc.PromptInput{Lore: s.w.lore, Persona: s.p.np, Memory: s.memory, History: s.history, Now: s.now, Format: s.g.format}
	if err := finish(s.g.cat, e, in, s.dec); err != nil {
		return nil, err
	}
	return e, nil
}

// turn closes the current stimulus and decision as an earlier turn of the
// conversation, and starts a new stimulus seeing the same things.
func (s *scene) turn() {
	s.history = append(s.history, npc.Turn{Stimulus: s.now, Reply: s.dec})
	s.now = npc.Stimulus{Self: s.now.Self, Seen: slices.Clone(s.now.Seen)}
	s.now.Self.Inventory = slices.Clone(s.now.Self.Inventory)
	s.accept, s.items, s.mentions = map[string][]string{}, nil, nil
	s.dec = npc.Decision{}
	s.turns++
}

// capitalize starts every English sentence with a capital letter, since
// slots such as "the Lantern Festival" may open one.
func capitalize(s string) string {
	b := []byte(s)
	start := true
	for i, c := range b {
		switch {
		case c == '.' || c == '!' || c == '?':
			start = true
		case c == ' ' || c == '"' || c == '\'':
		case start && c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
			start = false
		default:
			start = false
		}
	}
	return string(b)
}
