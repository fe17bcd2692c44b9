package corpus

import (
	"math/rand/v2"
	"slices"

	"github.com/anima-rt/anima/npc"
)

// scenario is one kind of situation. run builds it on a fresh scene and
// reports false when it does not fit the persona or world (another is then
// drawn).
type scenario struct {
	kind   string
	weight int
	run    func(s *scene) bool
}

// scenarios is logically constant: every kind of situation and how often
// it is drawn.
var scenarios = []scenario{
	{"greet", 5, (*scene).greet},
	{"farewell", 3, (*scene).farewell},
	{"ask_place", 8, (*scene).askPlace},
	{"guide", 5, (*scene).guide},
	{"ask_person", 6, (*scene).askPerson},
	{"lore", 8, (*scene).lore},
	{"buy", 6, (*scene).buy},
	{"bargain", 4, (*scene).bargain},
	{"ask_give", 4, (*scene).askGive},
	{"sell", 3, (*scene).sell},
	{"repair", 5, (*scene).repair},
	{"heal", 6, (*scene).heal},
	{"follow", 3, (*scene).follow},
	{"guard", 8, (*scene).guardRequest},
	{"use", 3, (*scene).useRequest},
	{"pickup", 3, (*scene).pickupRequest},
	{"leave", 3, (*scene).leaveRequest},
	{"threat", 5, (*scene).threat},
	{"insult", 4, (*scene).insult},
	{"gift", 4, (*scene).gift},
	{"theft", 4, (*scene).theft},
	{"attacked", 3, (*scene).attacked},
	{"nonsense", 3, (*scene).nonsense},
	{"injection", 8, (*scene).injection},
	{"ask_work", 3, (*scene).askWork},
	{"ask_name", 3, (*scene).askName},
	{"npc_greet", 3, (*scene).npcGreet},
	{"npc_alarm", 3, (*scene).npcAlarm},
	{"name", 7, (*scene).nameConversation},
	{"promise", 4, (*scene).promise},
	{"remember", 3, (*scene).remember},
	{"amb_rest", 2, (*scene).ambRest},
	{"amb_work", 3, (*scene).ambWork},
	{"amb_patrol", 12, (*scene).ambPatrol},
	{"amb_wander", 5, (*scene).ambWander},
	{"amb_pickup", 2, (*scene).ambPickup},
	{"amb_danger", 6, (*scene).ambDanger},
	{"amb_heal", 12, (*scene).ambHeal},
	{"amb_arrive", 3, (*scene).ambArrive},
	{"amb_repair", 5, (*scene).ambRepair},
	{"amb_theft", 2, (*scene).ambTheft},
	{"amb_use", 2, (*scene).ambUse},
}

// lookupKinds are the situations whose decision must find a place or
// person the player named among the prompt's entries and copy its id:
// what the embedded model learns slowest (train/README.md).
var lookupKinds = []string{"ask_place", "guide", "ask_person"}

// pickScenario draws a kind of situation by weight, lookupKinds' weights
// multiplied by lookup (1: as listed).
func pickScenario(r *rand.Rand, lookup int) *scenario {
	weight := func(sc *scenario) int {
		if lookup > 1 && slices.Contains(lookupKinds, sc.kind) {
			return sc.weight * lookup
		}
		return sc.weight
	}
	total := 0
	for i := range scenarios {
		total += weight(&scenarios[i])
	}
	n := r.IntN(total)
	for i := range scenarios {
		w := weight(&scenarios[i])
		if n < w {
			return &scenarios[i]
		}
		n -= w
	}
	return &scenarios[len(scenarios)-1]
}

// idleOrWork is what an NPC does while it only talks: either is right, and
// the labels of such situations accept both.
func (s *scene) idleOrWork() string {
	if s.r.IntN(3) == 0 {
		return "work"
	}
	return "idle"
}

// bystanders adds up to n NPCs who are just there.
func (s *scene) bystanders(n int) {
	for range s.r.IntN(n + 1) {
		res := pick(s.r, s.w.residents)
		if slices.ContainsFunc(s.now.Seen, func(e npc.Entity) bool { return e.Name == res.name }) {
			continue
		}
		s.addNPC(res.name, s.roleWord(res.role), 5, 30)
	}
}

// otherPlace is a place of the world other than where the NPC is.
func (s *scene) otherPlace() *place {
	for {
		p := pick(s.r, s.w.places)
		if p != s.p.work {
			return p
		}
	}
}

func (s *scene) setPlace(p *place) {
	s.v["place"], s.v["loc"] = p.name, p.loc
	if s.en() {
		s.v["kind"] = p.typ.kindEN
	} else {
		s.v["kind"] = p.typ.kindKO
	}
}

func (s *scene) greet() bool {
	p := s.addPlayer(s.r.IntN(3) == 0)
	s.bystanders(1)
	s.hear("greet")
	s.ok("greet", p)
	s.decide(s.emo("neutral", "happy", "curious", "wary"), "greet", p, "", s.reply("greet"))
	return true
}

func (s *scene) farewell() bool {
	p := s.addPlayer(s.r.IntN(2) == 0)
	s.hear("farewell")
	s.ok("idle")
	s.ok("work")
	s.ok("greet", p)
	s.decide(s.emo("neutral", "happy"), s.idleOrWork(), "", "", s.reply("farewell"))
	return true
}

func (s *scene) askPlace() bool {
	s.addPlayer(s.r.IntN(3) == 0)
	s.bystanders(1)
	pl := s.otherPlace()
	s.setPlace(pl)
	s.hear("ask_place")
	s.ok("point_to", pl.id)
	s.ok("go_to", pl.id)
	s.mention(pl.name)
	s.decide(s.emo("neutral", "happy", "curious"), "point_to", pl.id, "", s.reply("ask_place"))
	return true
}

func (s *scene) guide() bool {
	s.addPlayer(s.r.IntN(3) == 0)
	pl := s.otherPlace()
	s.setPlace(pl)
	s.hear("guide")
	s.ok("go_to", pl.id)
	s.ok("point_to", pl.id)
	s.mention(pl.name)
	if s.p.role.has(escorts | roams) {
		s.decide(s.emo("happy", "neutral"), "go_to", pl.id, "", s.reply("guide"))
	} else {
		s.decide(s.emo("neutral", "tired"), "point_to", pl.id, "", s.reply("guide_busy"))
	}
	return true
}

func (s *scene) askPerson() bool {
	s.addPlayer(s.r.IntN(3) == 0)
	res := pick(s.r, s.w.residents)
	s.v["npc"], s.v["nrole"] = res.name, s.roleWord(res.role)
	s.setPlace(res.place)
	s.mention(res.name)
	if s.r.IntN(5) < 2 {
		n := s.addNPC(res.name, s.roleWord(res.role), 4, 20)
		s.hear("ask_person")
		s.ok("point_to", n, res.place.id) // pointing out where they work answers too
		s.decide(s.emo("neutral", "curious", "happy"), "point_to", n, "", s.reply("person_here"))
		return true
	}
	s.bystanders(1)
	s.hear("ask_person")
	s.ok("point_to", res.place.id)
	s.ok("go_to", res.place.id)
	s.mention(res.place.name)
	s.decide(s.emo("neutral", "curious"), "point_to", res.place.id, "", s.reply("person_there"))
	return true
}

func (s *scene) lore() bool {
	s.addPlayer(s.r.IntN(3) == 0)
	s.bystanders(1)
	var kind, emotion string
	switch s.r.IntN(4) {
	case 0:
		kind, emotion = "lore_ruler", s.emo("neutral", "wary", "proud")
		s.mention(s.w.ruler)
	case 1:
		kind, emotion = "lore_product", s.emo("proud", "happy")
		s.mention(s.w.product)
	case 2:
		kind, emotion = "lore_danger", s.emo("wary", "afraid")
		s.mention(s.w.creature, s.w.dplace.name)
	default:
		kind, emotion = "lore_festival", s.emo("happy", "proud")
		s.mention(s.w.festival, s.w.fplace.name)
	}
	s.hear(kind)
	s.ok("idle")
	s.ok("work")
	s.decide(emotion, s.idleOrWork(), "", "", s.reply(kind))
	return true
}

// goods returns a priced inventory item, if the NPC sells anything.
func (s *scene) goods() (npc.Item, int, bool) {
	if !s.p.role.has(sellsGoods) || len(s.p.role.goods) == 0 {
		return npc.Item{}, 0, false
	}
	i := s.r.IntN(len(s.p.role.goods))
	return s.inv[i], items[s.p.role.goods[i]].price, true
}

func (s *scene) buy() bool {
	it, price, ok := s.goods()
	if !ok {
		return false
	}
	p := s.addPlayer(s.r.IntN(3) == 0)
	s.v["item"], s.v["price"] = it.Name, s.price(price)
	s.hear("buy")
	s.ok("trade", p)
	s.items = []string{it.ID}
	s.mention(it.Name, s.price(price))
	s.decide(s.emo("happy", "neutral"), "trade", p, it.ID, s.reply("buy"))
	return true
}

// prices are the amounts the corpus names, in copper.
var prices = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20}

func (s *scene) bargain() bool {
	it, price, ok := s.goods()
	if !ok || price < 3 {
		return false
	}
	var lower []int
	for _, n := range prices {
		if n < price && 2*n >= price {
			lower = append(lower, n)
		}
	}
	if len(lower) < 2 {
		return false
	}
	offer := lower[s.r.IntN(len(lower)-1)]
	counter := price
	for _, n := range lower {
		if n > offer {
			counter = n
			break
		}
	}
	p := s.addPlayer(s.r.IntN(3) == 0)
	s.v["item"], s.v["price"], s.v["offer"], s.v["counter"] = it.Name, s.price(price), s.price(offer), s.price(counter)
	s.hear("bargain")
	s.ok("trade", p)
	s.items = []string{it.ID}
	// Shrewd and greedy sellers haggle back; the others give in.
	if slices.Contains(s.p.traits, "shrewd") || slices.Contains(s.p.traits, "greedy") || slices.Contains(s.p.traits, "stingy") {
		s.mention(s.price(counter))
		s.decide(s.emo("wary", "amused", "neutral"), "trade", p, it.ID, s.reply("bargain_no"))
	} else {
		s.mention(s.price(offer))
		s.decide(s.emo("amused", "neutral", "happy"), "trade", p, it.ID, s.reply("bargain_ok"))
	}
	return true
}

func (s *scene) askGive() bool {
	i := s.r.IntN(len(s.inv))
	it := s.inv[i]
	price := items[s.spare].price
	if len(s.p.role.goods) > 0 {
		price = items[s.p.role.goods[i]].price
	}
	p := s.addPlayer(s.r.IntN(3) == 0)
	s.v["item"], s.v["price"] = it.Name, s.price(price)
	s.hear("ask_give")
	s.mention(it.Name)
	if s.p.giving {
		s.ok("give", p)
		s.items = []string{it.ID}
		s.decide(s.emo("happy", "neutral", "sad"), "give", p, it.ID, s.reply("give_yes"))
	} else {
		s.ok("idle")
		s.ok("work")
		if len(s.p.role.goods) > 0 {
			// The refusal names the item's price ("not for free; two
			// coins"): offering to sell it is as right as saying so.
			s.ok("trade", p)
		}
		s.decide(s.emo("neutral", "wary"), s.idleOrWork(), "", "", s.reply("give_no"))
	}
	return true
}

func (s *scene) sell() bool {
	p := s.addPlayer(s.r.IntN(3) == 0)
	it := s.plainItem(lostItems, lostKO)
	s.playerEntity().Holding = []npc.Item{it}
	s.v["item"], s.v["offer"] = it.Name, s.price(pick(s.r, []int{1, 2, 3, 4}))
	s.hear("sell")
	s.mention(it.Name)
	if s.p.role.has(sellsGoods) {
		s.ok("trade", p)
		s.items = []string{it.ID}
		s.decide(s.emo("curious", "neutral"), "trade", p, it.ID, s.reply("sell_yes"))
	} else {
		s.ok("idle")
		s.ok("work")
		s.decide(s.emo("neutral", "wary"), s.idleOrWork(), "", "", s.reply("sell_no"))
	}
	return true
}

// residentWho returns a resident with capability c.
func (s *scene) residentWho(c capability) (resident, bool) {
	for _, i := range s.r.Perm(len(s.w.residents)) {
		if s.w.residents[i].role.has(c) {
			return s.w.residents[i], true
		}
	}
	return resident{}, false
}

func (s *scene) repair() bool {
	res, found := s.residentWho(canRepair)
	if !s.p.role.has(canRepair) && !found {
		return false
	}
	s.addPlayer(s.r.IntN(3) == 0)
	it := s.brokenItem()
	s.playerEntity().Holding = []npc.Item{it}
	s.v["item"] = it.Name
	s.hear("repair")
	if s.p.role.has(canRepair) {
		s.mention(it.Name)
		s.ok("repair", it.ID)
		s.decide(s.emo("neutral", "curious", "proud"), "repair", it.ID, "", s.reply("repair_yes"))
		return true
	}
	s.v["npc"] = res.name
	s.setPlace(res.place)
	s.ok("point_to", res.place.id)
	s.ok("go_to", res.place.id)
	s.mention(res.place.name, res.name)
	s.decide(s.emo("neutral", "sad"), "point_to", res.place.id, "", s.reply("repair_redirect"))
	return true
}

func (s *scene) heal() bool {
	res, found := s.residentWho(canHeal)
	if !s.p.role.has(canHeal) && !found {
		return false
	}
	p := s.addPlayer(s.r.IntN(3) == 0)
	if s.en() {
		s.playerEntity().Role = "wounded"
	} else {
		s.playerEntity().Role = "다침"
	}
	s.hear("heal")
	if s.p.role.has(canHeal) {
		s.ok("heal", p)
		s.decide(s.emo("wary", "neutral", "sad"), "heal", p, "", s.reply("heal_yes"))
		return true
	}
	s.v["npc"] = res.name
	s.setPlace(res.place)
	s.ok("point_to", res.place.id)
	s.ok("go_to", res.place.id)
	s.mention(res.place.name)
	s.decide(s.emo("afraid", "surprised", "wary"), "point_to", res.place.id, "", s.reply("heal_redirect"))
	return true
}

func (s *scene) follow() bool {
	p := s.addPlayer(s.r.IntN(2) == 0)
	s.hear("follow")
	if s.p.role.has(escorts) {
		s.ok("follow", p)
		s.decide(s.emo("neutral", "curious", "happy"), "follow", p, "", s.reply("follow_yes"))
		return true
	}
	s.ok("idle")
	s.ok("work")
	s.decide(s.emo("neutral", "tired"), s.idleOrWork(), "", "", s.reply("follow_no"))
	return true
}

func (s *scene) guardRequest() bool {
	if !s.p.role.has(onDuty) && !(s.p.role.has(canFight) && s.p.role.has(escorts)) {
		return false
	}
	p := s.addPlayer(s.r.IntN(2) == 0)
	if s.r.IntN(2) == 0 {
		pl := s.otherPlace()
		s.setPlace(pl)
		s.hear("guard_place")
		s.ok("guard", pl.id)
		s.mention(pl.name)
		s.decide(s.emo("neutral", "proud"), "guard", pl.id, "", s.reply("guard_place"))
		return true
	}
	s.hear("guard_me")
	s.ok("guard", p)
	s.ok("follow", p)
	s.decide(s.emo("neutral", "wary", "proud"), "guard", p, "", s.reply("guard_me"))
	return true
}

// object puts one of the workplace's objects in view.
func (s *scene) object() (string, string) {
	objs := objectsByPlace[s.p.work.typ.key]
	var name string
	for {
		o := pick(s.r, objs)
		name = o[0]
		if !s.en() {
			name = o[1]
		}
		if !slices.ContainsFunc(s.now.Seen, func(e npc.Entity) bool { return e.Name == name }) {
			break
		}
	}
	id := s.id("o", 9)
	s.see(npc.Entity{ID: id, Name: name, Kind: npc.KindObject, Where: s.dist(1, 5)})
	s.v["obj"] = name
	return id, name
}

func (s *scene) useRequest() bool {
	s.addPlayer(s.r.IntN(3) == 0)
	o, _ := s.object()
	s.hear("use")
	s.ok("use_object", o)
	s.decide(s.emo("neutral", "happy", "proud"), "use_object", o, "", s.reply("use"))
	return true
}

func (s *scene) groundItem() npc.Item {
	it := s.plainItem(lostItems, lostKO)
	s.see(npc.Entity{ID: it.ID, Name: it.Name, Kind: npc.KindItem, Where: s.dist(1, 6)})
	s.v["item"] = it.Name
	return it
}

func (s *scene) pickupRequest() bool {
	s.addPlayer(s.r.IntN(3) == 0)
	it := s.groundItem()
	s.hear("pickup")
	s.ok("pick_up", it.ID)
	s.mention(it.Name)
	s.decide(s.emo("surprised", "grateful", "neutral"), "pick_up", it.ID, "", s.reply("pickup"))
	return true
}

func (s *scene) leaveRequest() bool {
	p := s.addPlayer(s.r.IntN(3) == 0)
	s.hear("leave")
	s.ok("leave")
	s.ok("idle")
	s.ok("warn", p)
	s.decide(s.emo("sad", "angry", "wary"), "leave", "", "", s.reply("leave"))
	return true
}

func (s *scene) threat() bool {
	p := s.addPlayer(false)
	s.playerEntity().Where = s.dist(1, 2)
	guard, gname := "", ""
	if !s.p.role.has(onDuty) && s.r.IntN(2) == 0 {
		guard, gname = s.addGuard()
		s.v["npc"] = gname
	}
	s.hear("threat")
	switch {
	case s.p.role.has(canFight):
		s.ok("warn", p)
		s.ok("attack", p)
		s.decide(s.emo("angry", "wary"), "warn", p, "", s.reply("threat_fight"))
	case guard != "":
		s.ok("call_guard", guard)
		s.ok("flee", p)
		s.ok("warn", p)
		s.mention(gname)
		s.decide(s.emo("afraid", "angry"), "call_guard", guard, "", s.reply("threat_guard"))
	case s.p.role.has(timid):
		s.ok("flee", p)
		s.ok("hide")
		s.decide("afraid", "flee", p, "", s.reply("threat_flee"))
	default:
		s.ok("warn", p)
		s.ok("flee", p)
		s.decide(s.emo("wary", "angry", "afraid"), "warn", p, "", s.reply("threat_warn"))
	}
	return true
}

func (s *scene) insult() bool {
	p := s.addPlayer(s.r.IntN(3) == 0)
	s.hear("insult")
	s.ok("idle")
	s.ok("warn", p)
	s.ok("leave")
	hot := slices.ContainsFunc(s.p.traits, func(t string) bool {
		return slices.Contains([]string{"proud", "stern", "hot-tempered", "gruff", "haughty", "loud"}, t)
	})
	switch {
	case hot:
		s.decide(s.emo("angry", "disgusted"), "warn", p, "", s.reply("insult"))
	case s.p.role.has(timid):
		s.decide("sad", "leave", "", "", s.reply("leave"))
	default:
		s.decide(s.emo("amused", "disgusted", "neutral"), "idle", "", "", s.reply("insult"))
	}
	return true
}

func (s *scene) gift() bool {
	p := s.addPlayer(s.r.IntN(2) == 0)
	it := s.plainItem(giftItems, giftKO)
	s.v["item"] = it.Name
	s.now.Events = append(s.now.Events, npc.Event{Kind: npc.EventGift, Actor: p, Item: &it})
	if s.r.IntN(4) > 0 {
		s.hear("gift")
	}
	s.ok("greet", p)
	s.ok("idle")
	s.mention(it.Name)
	act, target := "greet", p
	if s.r.IntN(3) == 0 {
		act, target = "idle", ""
	}
	s.decide(s.emo("grateful", "happy", "surprised"), act, target, "", s.reply("gift_thanks"))
	return true
}

func (s *scene) theft() bool {
	p := s.addPlayer(false)
	it := s.now.Self.Inventory[s.r.IntN(len(s.now.Self.Inventory))]
	s.now.Self.Inventory = slices.DeleteFunc(s.now.Self.Inventory, func(x npc.Item) bool { return x.ID == it.ID })
	s.playerEntity().Holding = []npc.Item{it}
	s.now.Events = append(s.now.Events, npc.Event{Kind: npc.EventStole, Actor: p, Item: &it})
	s.v["item"] = it.Name
	guard := ""
	if !s.p.role.has(onDuty) && s.r.IntN(2) == 0 {
		var gname string
		guard, gname = s.addGuard()
		s.v["npc"] = gname
	}
	if s.r.IntN(2) == 0 {
		s.hear("theft")
	}
	s.mention(it.Name)
	s.ok("warn", p)
	s.ok("follow", p)
	switch {
	case guard != "":
		s.ok("call_guard", guard)
		s.mention(s.v["npc"])
		s.decide(s.emo("angry", "surprised"), "call_guard", guard, "", s.reply("theft_guard"))
	case s.p.role.has(canFight):
		s.ok("attack", p)
		s.decide("angry", "warn", p, "", s.reply("theft_warn"))
	case s.p.role.has(roams) || s.p.role.has(escorts):
		s.decide(s.emo("angry", "surprised"), "follow", p, "", s.reply("theft_chase"))
	default:
		s.decide(s.emo("angry", "surprised"), "warn", p, "", s.reply("theft_warn"))
	}
	return true
}

func (s *scene) attacked() bool {
	p := s.addPlayer(false)
	s.playerEntity().Where = "1 m"
	s.now.Events = append(s.now.Events, npc.Event{Kind: npc.EventAttacked, Actor: p})
	guard := ""
	if !s.p.role.has(onDuty) && s.r.IntN(2) == 0 {
		var gname string
		guard, gname = s.addGuard()
		s.v["npc"] = gname
	}
	if s.r.IntN(2) == 0 {
		s.hear("attack")
	}
	switch {
	case s.p.role.has(canFight):
		s.ok("attack", p)
		s.ok("warn", p)
		s.decide("angry", "attack", p, "", s.reply("attacked_fight"))
	case guard != "":
		s.ok("call_guard", guard)
		s.ok("flee", p)
		s.ok("hide")
		s.mention(s.v["npc"])
		s.decide("afraid", "call_guard", guard, "", s.reply("attacked_guard"))
	default:
		s.ok("flee", p)
		s.ok("hide")
		s.decide("afraid", "flee", p, "", s.reply("attacked_flee"))
	}
	return true
}

func (s *scene) nonsense() bool {
	s.addPlayer(s.r.IntN(3) == 0)
	s.hear("nonsense")
	s.ok("idle")
	s.ok("work")
	s.decide(s.emo("surprised", "amused", "wary"), s.idleOrWork(), "", "", s.reply("nonsense"))
	return true
}

func (s *scene) injection() bool {
	p := s.addPlayer(s.r.IntN(3) == 0)
	res := pick(s.r, s.w.residents)
	s.v["npc"] = res.name
	s.v["item"] = s.inv[0].Name
	if s.r.IntN(3) == 0 {
		s.addNPC(res.name, s.roleWord(res.role), 4, 20)
	}
	s.hear("injection")
	s.inject = true
	s.ok("idle")
	s.ok("work")
	s.ok("warn", p)
	s.decide(s.emo("wary", "amused", "surprised", "neutral"), s.idleOrWork(), "", "", s.reply("injection"))
	return true
}

func (s *scene) askWork() bool {
	if k := s.p.role.key; k == "child" || k == "beggar" || k == "thief" || k == "noble" {
		return false // they have no trade to talk about
	}
	s.addPlayer(s.r.IntN(3) == 0)
	s.hear("ask_work")
	s.ok("idle")
	s.ok("work")
	s.mention(s.p.work.name)
	s.decide(s.emo("neutral", "proud", "tired", "happy"), s.idleOrWork(), "", "", s.reply("ask_work"))
	return true
}

// nameConversation: the player tells its name, then asks something; the
// NPC's second reply uses the name it was told (the player is a stranger
// in the perception, so only the conversation carries the name).
func (s *scene) nameConversation() bool {
	p := s.addPlayer(false)
	s.hear("intro")
	s.ok("greet", p)
	s.decide(s.emo("happy", "neutral", "curious"), "greet", p, "", s.reply("intro"))
	s.turn()
	s.nameAddr = true
	s.v["addr"] = s.nameForm()
	switch s.r.IntN(6) {
	case 0, 1:
		s.hear("recall")
		s.ok("idle")
		s.ok("work")
		s.ok("greet", p)
		s.decide(s.emo("amused", "happy", "neutral"), s.idleOrWork(), "", "", s.reply("recall"))
	case 2:
		pl := s.otherPlace()
		s.setPlace(pl)
		s.hear("ask_place")
		s.ok("point_to", pl.id)
		s.ok("go_to", pl.id)
		s.mention(pl.name)
		s.decide(s.emo("neutral", "happy"), "point_to", pl.id, "", s.reply("ask_place"))
	case 3:
		it, price, ok := s.goods()
		if !ok {
			return s.nameFarewell(p)
		}
		s.v["item"], s.v["price"] = it.Name, s.price(price)
		s.hear("buy")
		s.ok("trade", p)
		s.items = []string{it.ID}
		s.mention(it.Name)
		s.decide(s.emo("happy", "neutral"), "trade", p, it.ID, s.reply("buy"))
	case 4:
		s.hear("ask_work")
		s.ok("idle")
		s.ok("work")
		s.decide(s.emo("neutral", "proud"), s.idleOrWork(), "", "", s.reply("ask_work"))
	default:
		return s.nameFarewell(p)
	}
	return true
}

func (s *scene) nameFarewell(p string) bool {
	s.hear("farewell")
	s.ok("idle")
	s.ok("work")
	s.ok("greet", p)
	s.decide(s.emo("neutral", "happy"), s.idleOrWork(), "", "", s.reply("farewell"))
	return true
}

// promise: the player promises to bring something; on the next turn it
// brings it (a gift event) or admits it could not.
func (s *scene) promise() bool {
	p := s.addPlayer(s.r.IntN(2) == 0)
	key := pick(s.r, promiseItems)
	name := s.itemName(key)
	s.v["item"] = name
	s.hear("promise")
	s.ok("idle")
	s.ok("work")
	s.decide(s.emo("neutral", "happy", "wary"), s.idleOrWork(), "", "", s.reply("promise_ack"))
	s.turn()
	s.mention(name)
	if s.r.IntN(3) > 0 {
		it := npc.Item{ID: s.id("i", 40), Name: name}
		s.now.Events = append(s.now.Events, npc.Event{Kind: npc.EventGift, Actor: p, Item: &it})
		s.hear("promise_kept")
		s.ok("greet", p)
		s.ok("idle")
		s.decide(s.emo("grateful", "happy"), "greet", p, "", s.reply("promise_kept"))
		return true
	}
	s.hear("promise_broken")
	s.ok("idle")
	s.ok("work")
	s.decide(s.emo("sad", "neutral"), s.idleOrWork(), "", "", s.reply("promise_broken"))
	return true
}

// remember: the memory digest holds an earlier meeting; the player comes
// back and the NPC greets it by name.
func (s *scene) remember() bool {
	p := s.addPlayer(true)
	s.v["addr"] = s.nameForm()
	key := pick(s.r, promiseItems)
	v := vars{"p": s.pname, "item": s.itemName(key), "creature": s.w.creature}
	var mem string
	switch s.r.IntN(3) {
	case 0:
		mem = pickLang(s, "{p} brought you a {item} last week.", "지난주 {p|이} {item|을} 가져다주었다.")
	case 1:
		mem = pickLang(s, "{p} helped you when {creature} came near town.", "{creature|이} 마을에 내려왔을 때 {p|이} 도와주었다.")
	default:
		mem = pickLang(s, "You sold {p} a {item} a few days ago.", "며칠 전 {p}에게 {item|을} 팔았다.")
	}
	s.memory = append(s.memory, fill(mem, v))
	s.hear("hello_again")
	s.ok("greet", p)
	s.mention(s.pname)
	s.decide(s.emo("happy", "grateful"), "greet", p, "", s.reply("hello_again"))
	return true
}

func pickLang(s *scene, en, ko string) string {
	if s.en() {
		return en
	}
	return ko
}

func (s *scene) ambRest() bool {
	s.now.Time = pickLang(s, "night", "밤")
	s.now.Self.Activity = ""
	s.now.Self.Condition = pickLang(s, "tired", "피곤함")
	s.bystanders(1)
	s.ok("rest")
	s.decide(s.emo("tired", "neutral"), "rest", "", "", s.reply("amb_rest"))
	return true
}

func (s *scene) ambWork() bool {
	s.bystanders(2)
	s.ok("work")
	s.ok("idle")
	s.decide(s.emo("neutral", "happy", "tired"), "work", "", "", s.reply("amb_work"))
	return true
}

func (s *scene) ambPatrol() bool {
	if !s.p.role.has(onDuty) {
		return false
	}
	s.now.Self.Activity = pickLang(s, "on duty", "근무 중")
	s.bystanders(2)
	s.ok("patrol")
	s.ok("guard", s.p.work.id)
	s.decide(s.emo("neutral", "wary", "tired"), "patrol", "", "", s.reply("amb_patrol"))
	return true
}

func (s *scene) ambWander() bool {
	if !s.p.role.has(roams) {
		return false
	}
	s.now.Self.Activity = ""
	s.bystanders(1)
	s.ok("wander")
	s.ok("idle")
	s.decide(s.emo("neutral", "curious", "happy"), "wander", "", "", s.reply("amb_wander"))
	return true
}

func (s *scene) ambPickup() bool {
	it := s.groundItem()
	s.ok("pick_up", it.ID)
	s.decide(s.emo("curious", "surprised"), "pick_up", it.ID, "", s.reply("amb_pickup"))
	if s.dec.Say != "" {
		s.mention(it.Name)
	}
	return true
}

func (s *scene) ambDanger() bool {
	c := s.id("c", 9)
	s.see(npc.Entity{ID: c, Name: s.w.creature1, Kind: npc.KindCreature, Relation: pickLang(s, "hostile", "적대"), Where: s.dist(8, 25)})
	s.now.Events = append(s.now.Events, npc.Event{Kind: npc.EventAppeared, Actor: c})
	p := ""
	if s.r.IntN(2) == 0 {
		p = s.addPlayer(s.r.IntN(3) == 0)
	}
	s.mention(s.w.creature1)
	switch {
	case s.p.role.has(canFight):
		s.ok("attack", c)
		s.ok("guard", s.p.work.id)
		for _, e := range s.now.Seen {
			if e.Kind == npc.KindPlayer {
				s.ok("warn", e.ID)
				s.ok("guard", e.ID)
			}
		}
		s.decide(s.emo("angry", "wary"), "attack", c, "", s.reply("amb_danger_fight"))
	case s.p.role.has(timid):
		s.ok("hide")
		s.ok("flee", c)
		s.decide("afraid", "hide", "", "", s.reply("amb_danger_hide"))
	case p != "":
		for _, e := range s.now.Seen {
			if e.Kind == npc.KindPlayer {
				s.ok("warn", e.ID) // any of them is worth warning
			}
		}
		s.ok("hide")
		s.ok("flee", c)
		s.decide(s.emo("afraid", "wary"), "warn", p, "", s.reply("amb_danger_warn"))
	default:
		s.ok("flee", c)
		s.ok("hide")
		s.decide("afraid", "flee", c, "", s.reply("amb_danger_hide"))
	}
	return true
}

func (s *scene) ambHeal() bool {
	if !s.p.role.has(canHeal) {
		return false
	}
	res := pick(s.r, s.w.residents)
	n := s.id("n", 30)
	s.see(npc.Entity{ID: n, Name: res.name, Kind: npc.KindNPC, Role: pickLang(s, "wounded", "다침"), Where: s.dist(2, 8)})
	s.v["npc"] = res.name
	s.ok("heal", n)
	s.mention(res.name)
	s.decide(s.emo("wary", "sad", "neutral"), "heal", n, "", s.reply("amb_heal"))
	return true
}

func (s *scene) ambArrive() bool {
	p := s.addPlayer(s.r.IntN(4) == 0)
	s.playerEntity().Where = s.dist(4, 10)
	s.now.Events = append(s.now.Events, npc.Event{Kind: npc.EventAppeared, Actor: p})
	s.ok("greet", p)
	s.ok("idle")
	s.ok("work")
	s.decide(s.emo("neutral", "happy", "curious"), "greet", p, "", s.reply("amb_arrive"))
	return true
}

func (s *scene) ambRepair() bool {
	if !s.p.role.has(canRepair) {
		return false
	}
	it := s.brokenItem()
	s.see(npc.Entity{ID: it.ID, Name: it.Name, Kind: npc.KindItem, Role: it.Note, Where: s.dist(1, 3)})
	s.v["item"] = it.Name
	s.ok("repair", it.ID)
	s.ok("work")
	s.decide(s.emo("neutral", "tired"), "repair", it.ID, "", s.reply("amb_repair"))
	return true
}

func (s *scene) ambTheft() bool {
	res := pick(s.r, s.w.residents)
	victim := s.addNPC(res.name, s.roleWord(res.role), 3, 10)
	p := s.addPlayer(false)
	it := s.plainItem(lostItems, lostKO)
	s.playerEntity().Holding = []npc.Item{it}
	s.now.Events = append(s.now.Events, npc.Event{Kind: npc.EventStole, Actor: p, Target: victim, Item: &it})
	s.ok("warn", p)
	if !s.p.role.has(onDuty) && s.r.IntN(2) == 0 {
		g, gname := s.addGuard()
		s.v["npc"] = gname
		s.ok("call_guard", g)
		s.mention(gname)
		s.decide(s.emo("angry", "surprised"), "call_guard", g, "", s.reply("amb_theft_guard"))
		return true
	}
	if s.p.role.has(canFight) {
		s.ok("attack", p)
		s.ok("follow", p)
	}
	s.decide(s.emo("angry", "disgusted"), "warn", p, "", s.reply("amb_theft_warn"))
	return true
}

func (s *scene) ambUse() bool {
	o, _ := s.object()
	s.ok("use_object", o)
	s.ok("work")
	s.ok("idle")
	s.decide(s.emo("neutral", "tired"), "use_object", o, "", s.reply("amb_use"))
	return true
}

func (s *scene) askName() bool {
	p := s.addPlayer(s.r.IntN(3) == 0)
	s.hear("ask_name")
	s.ok("greet", p)
	s.ok("idle")
	s.ok("work")
	s.mention(s.p.name)
	s.decide(s.emo("neutral", "happy", "curious", "wary"), "greet", p, "", s.reply("ask_name"))
	return true
}

// neighbour puts a resident in view, to speak to the NPC.
func (s *scene) neighbour() (string, string) {
	res := pick(s.r, s.w.residents)
	s.v["npc"] = res.name
	return s.addNPC(res.name, s.roleWord(res.role), 2, 6), res.name
}

// hearFrom records a line of kind said by NPC id.
func (s *scene) hearFrom(id, name, kind string) {
	s.now.Heard = append(s.now.Heard, npc.Utterance{From: id, Name: name, Text: fill(pick(s.r, s.lp.lines[kind]), s.v)})
}

func (s *scene) npcGreet() bool {
	n, name := s.neighbour()
	s.hearFrom(n, name, "npc_greet")
	s.ok("greet", n)
	s.ok("idle")
	s.ok("work")
	s.mention(name)
	s.decide(s.emo("happy", "neutral"), "greet", n, "", s.reply("npc_greet"))
	return true
}

func (s *scene) npcAlarm() bool {
	n, name := s.neighbour()
	s.hearFrom(n, name, "npc_alarm")
	if s.p.role.has(onDuty) || s.p.role.has(canFight) {
		s.ok("go_to", s.w.dplace.id)
		s.mention(s.w.dplace.name)
		s.decide(s.emo("angry", "wary"), "go_to", s.w.dplace.id, "", s.reply("npc_alarm_go"))
		return true
	}
	s.ok("hide")
	s.ok("leave")
	s.decide("afraid", "hide", "", "", s.reply("npc_alarm_hide"))
	return true
}

// Kinds lists every situation kind an example can have (Example.Kind), in
// the table's order, so tools can check a kind they are given.
func Kinds() []string {
	out := make([]string, 0, len(scenarios)+1)
	for _, sc := range scenarios {
		out = append(out, sc.kind)
	}
	return append(out, DrillKind)
}
