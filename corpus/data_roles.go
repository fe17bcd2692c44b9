package corpus

// capability flags of a role: what its people can and will do.
type capability uint16

const (
	canFight   capability = 1 << iota // answers force with force
	onDuty                            // a guard or soldier: patrols, guards
	canRepair                         // mends items
	canHeal                           // tends wounds
	timid                             // runs and hides
	roams                             // wanders when idle
	escorts                           // will follow or lead someone
	sellsGoods                        // trades its goods
)

// role is a trade or station an NPC may have.
type role struct {
	key          string
	en, ko       string
	work         string // place type key of the workplace
	actEN, actKO string // what it does while working
	goods        []string
	caps         capability
	regEN        []string // speech registers it may use
	regKO        []string
	traits       []string // trait keys it may have
}

func (r *role) has(c capability) bool { return r.caps&c != 0 }

// cannot reports whether the role can never take action a.
func (r *role) cannot(a string) bool {
	switch a {
	case "attack":
		return !r.has(canFight)
	case "heal":
		return !r.has(canHeal)
	case "repair":
		return !r.has(canRepair)
	case "patrol":
		return !r.has(onDuty)
	case "guard":
		return !r.has(onDuty | canFight)
	case "trade":
		return !r.has(sellsGoods)
	}
	return false
}

// roles is logically constant: 36 roles.
var roles = []role{
	{key: "blacksmith", en: "blacksmith", ko: "대장장이", work: "forge", actEN: "hammering at the anvil", actKO: "모루에서 쇠를 두드리는 중",
		goods: []string{"nails", "horseshoe", "knife"}, caps: canFight | canRepair | sellsGoods,
		regEN: []string{"blunt"}, regKO: []string{"banmal", "haeyo"}, traits: []string{"gruff", "honest", "proud", "patient"}},
	{key: "guard_captain", en: "guard captain", ko: "경비대장", work: "barracks", actEN: "inspecting the watch", actKO: "경비병들을 살피는 중",
		caps: canFight | onDuty | escorts, regEN: []string{"blunt", "polite"}, regKO: []string{"hapsyo", "banmal"}, traits: []string{"stern", "dutiful", "suspicious", "fair"}},
	{key: "merchant", en: "merchant", ko: "장사꾼", work: "market", actEN: "minding the stall", actKO: "좌판을 지키는 중",
		goods: []string{"rope", "lantern", "salt", "cloth"}, caps: sellsGoods, regEN: []string{"polite", "warm"}, regKO: []string{"hapsyo", "haeyo"}, traits: []string{"shrewd", "cheerful", "greedy", "talkative"}},
	{key: "innkeeper", en: "innkeeper", ko: "주막 주모", work: "inn", actEN: "wiping the tables", actKO: "평상을 닦는 중",
		goods: []string{"ale", "stew", "room"}, caps: sellsGoods, regEN: []string{"warm"}, regKO: []string{"haeyo", "banmal"}, traits: []string{"cheerful", "nosy", "kind", "shrewd"}},
	{key: "farmer", en: "farmer", ko: "농부", work: "mill", actEN: "hauling sacks of grain", actKO: "곡식 자루를 나르는 중",
		goods: []string{"apples", "eggs", "cabbage"}, caps: sellsGoods, regEN: []string{"warm", "blunt"}, regKO: []string{"haeyo", "banmal"}, traits: []string{"simple", "kind", "stubborn", "hardworking"}},
	{key: "child", en: "child", ko: "아이", work: "well", actEN: "playing with pebbles", actKO: "공기놀이를 하는 중",
		caps: timid | roams | escorts, regEN: []string{"warm"}, regKO: []string{"banmal", "haeyo"}, traits: []string{"curious", "shy", "cheeky", "brave"}},
	{key: "priest", en: "priest", ko: "스님", work: "temple", actEN: "sweeping the steps", actKO: "절 마당을 쓰는 중",
		caps: canHeal, regEN: []string{"polite"}, regKO: []string{"hapsyo", "haeyo"}, traits: []string{"pious", "calm", "kind", "patient"}},
	{key: "hunter", en: "hunter", ko: "사냥꾼", work: "woods", actEN: "checking the snares", actKO: "덫을 살피는 중",
		goods: []string{"fur", "venison"}, caps: canFight | escorts | sellsGoods, regEN: []string{"blunt"}, regKO: []string{"banmal"}, traits: []string{"quiet", "watchful", "gruff", "brave"}},
	{key: "scholar", en: "scholar", ko: "선비", work: "library", actEN: "copying a manuscript", actKO: "책을 베껴 쓰는 중",
		goods: []string{"map", "book"}, caps: sellsGoods, regEN: []string{"polite"}, regKO: []string{"hapsyo", "haeyo"}, traits: []string{"curious", "pedantic", "absent-minded", "proud"}},
	{key: "thief", en: "thief", ko: "좀도둑", work: "market", actEN: "loitering by the stalls", actKO: "좌판 근처를 어슬렁거리는 중",
		caps: timid | roams, regEN: []string{"blunt"}, regKO: []string{"banmal"}, traits: []string{"sly", "nervous", "cheeky", "greedy"}},
	{key: "bard", en: "bard", ko: "소리꾼", work: "inn", actEN: "tuning a lute", actKO: "북을 손보는 중",
		caps: roams | escorts, regEN: []string{"warm", "polite"}, regKO: []string{"haeyo", "banmal"}, traits: []string{"cheerful", "vain", "talkative", "romantic"}},
	{key: "healer", en: "healer", ko: "의원", work: "herbhouse", actEN: "grinding herbs", actKO: "약재를 빻는 중",
		goods: []string{"salve", "herbs"}, caps: canHeal | sellsGoods, regEN: []string{"polite", "warm"}, regKO: []string{"haeyo", "hapsyo"}, traits: []string{"kind", "calm", "tired", "patient"}},
	{key: "miner", en: "miner", ko: "광부", work: "mine", actEN: "sorting ore", actKO: "광석을 고르는 중",
		goods: []string{"iron_ore", "coal"}, caps: sellsGoods, regEN: []string{"blunt"}, regKO: []string{"banmal"}, traits: []string{"gruff", "tired", "honest", "superstitious"}},
	{key: "fisher", en: "fisher", ko: "어부", work: "docks", actEN: "mending nets", actKO: "그물을 깁는 중",
		goods: []string{"fish", "eel"}, caps: sellsGoods, regEN: []string{"blunt", "warm"}, regKO: []string{"banmal", "haeyo"}, traits: []string{"patient", "superstitious", "cheerful", "gruff"}},
	{key: "noble", en: "noble", ko: "양반", work: "manor", actEN: "taking the air", actKO: "뒷짐을 지고 거니는 중",
		caps: 0, regEN: []string{"polite"}, regKO: []string{"hapsyo"}, traits: []string{"proud", "haughty", "bored", "generous"}},
	{key: "beggar", en: "beggar", ko: "거지", work: "gate", actEN: "sitting by the wall", actKO: "담벼락에 기대앉은 중",
		caps: timid | roams, regEN: []string{"warm", "blunt"}, regKO: []string{"haeyo", "banmal"}, traits: []string{"humble", "sly", "hungry", "talkative"}},
	{key: "witch", en: "witch", ko: "무당", work: "woods", actEN: "stirring a pot", actKO: "방울을 흔들며 주문을 외는 중",
		goods: []string{"potion", "charm"}, caps: canHeal | sellsGoods, regEN: []string{"polite", "blunt"}, regKO: []string{"banmal", "haeyo"}, traits: []string{"mysterious", "wry", "suspicious", "wise"}},
	{key: "soldier", en: "soldier", ko: "병사", work: "gate", actEN: "standing watch", actKO: "보초를 서는 중",
		caps: canFight | onDuty | escorts, regEN: []string{"blunt", "polite"}, regKO: []string{"hapsyo", "banmal"}, traits: []string{"dutiful", "brave", "tired", "stern"}},
	{key: "ferryman", en: "ferryman", ko: "뱃사공", work: "docks", actEN: "bailing the boat", actKO: "배에 고인 물을 퍼내는 중",
		goods: []string{"ferry_token"}, caps: sellsGoods | escorts, regEN: []string{"blunt", "warm"}, regKO: []string{"banmal", "haeyo"}, traits: []string{"quiet", "superstitious", "greedy", "patient"}},
	{key: "baker", en: "baker", ko: "떡장수", work: "bakery", actEN: "kneading dough", actKO: "떡을 치는 중",
		goods: []string{"bread", "honey_cake"}, caps: sellsGoods, regEN: []string{"warm"}, regKO: []string{"haeyo"}, traits: []string{"cheerful", "kind", "hardworking", "nosy"}},
	{key: "stablehand", en: "stablehand", ko: "마부", work: "stables", actEN: "brushing a horse", actKO: "말을 빗질하는 중",
		goods: []string{"horse_feed"}, caps: sellsGoods | escorts, regEN: []string{"blunt", "warm"}, regKO: []string{"banmal", "haeyo"}, traits: []string{"shy", "hardworking", "simple", "cheerful"}},
	{key: "carpenter", en: "carpenter", ko: "목수", work: "market", actEN: "planing a board", actKO: "대패질을 하는 중",
		goods: []string{"stool"}, caps: canRepair | sellsGoods, regEN: []string{"blunt", "warm"}, regKO: []string{"banmal", "haeyo"}, traits: []string{"patient", "proud", "honest", "gruff"}},
	{key: "herbalist", en: "herbalist", ko: "약초꾼", work: "woods", actEN: "sorting herbs", actKO: "약초를 고르는 중",
		goods: []string{"herbs", "mushrooms"}, caps: sellsGoods | roams, regEN: []string{"warm", "polite"}, regKO: []string{"haeyo", "banmal"}, traits: []string{"calm", "curious", "kind", "wry"}},
	{key: "tailor", en: "tailor", ko: "바느질꾼", work: "market", actEN: "stitching a hem", actKO: "바느질을 하는 중",
		goods: []string{"cloak", "gloves"}, caps: canRepair | sellsGoods, regEN: []string{"polite"}, regKO: []string{"haeyo"}, traits: []string{"fussy", "talkative", "proud", "kind"}},
	{key: "brewer", en: "brewer", ko: "술도가 주인", work: "inn", actEN: "rolling barrels", actKO: "술독을 옮기는 중",
		goods: []string{"ale", "cider"}, caps: sellsGoods, regEN: []string{"warm", "blunt"}, regKO: []string{"banmal", "haeyo"}, traits: []string{"jolly", "shrewd", "loud", "generous"}},
	{key: "watchman", en: "watchman", ko: "파수꾼", work: "gate", actEN: "keeping watch", actKO: "망을 보는 중",
		caps: canFight | onDuty, regEN: []string{"blunt"}, regKO: []string{"banmal", "hapsyo"}, traits: []string{"watchful", "tired", "suspicious", "dutiful"}},
	{key: "shepherd", en: "shepherd", ko: "목동", work: "woods", actEN: "counting sheep", actKO: "양을 세는 중",
		goods: []string{"wool"}, caps: roams | sellsGoods | escorts, regEN: []string{"warm"}, regKO: []string{"banmal", "haeyo"}, traits: []string{"simple", "calm", "shy", "cheerful"}},
	{key: "gravedigger", en: "gravedigger", ko: "묘지기", work: "temple", actEN: "digging", actKO: "땅을 파는 중",
		caps: 0, regEN: []string{"blunt"}, regKO: []string{"banmal"}, traits: []string{"gloomy", "wry", "quiet", "superstitious"}},
	{key: "cartographer", en: "cartographer", ko: "지도장이", work: "library", actEN: "inking a map", actKO: "지도를 그리는 중",
		goods: []string{"map"}, caps: sellsGoods | escorts, regEN: []string{"polite"}, regKO: []string{"haeyo", "hapsyo"}, traits: []string{"curious", "precise", "absent-minded", "talkative"}},
	{key: "jeweler", en: "jeweler", ko: "세공장이", work: "market", actEN: "polishing a ring", actKO: "반지를 닦는 중",
		goods: []string{"ring", "necklace"}, caps: sellsGoods | canRepair, regEN: []string{"polite"}, regKO: []string{"hapsyo", "haeyo"}, traits: []string{"shrewd", "fussy", "greedy", "precise"}},
	{key: "cook", en: "cook", ko: "숙수", work: "inn", actEN: "stirring the stew", actKO: "국을 젓는 중",
		goods: []string{"stew", "pie"}, caps: sellsGoods, regEN: []string{"warm", "blunt"}, regKO: []string{"banmal", "haeyo"}, traits: []string{"loud", "generous", "hot-tempered", "cheerful"}},
	{key: "woodcutter", en: "woodcutter", ko: "나무꾼", work: "woods", actEN: "splitting logs", actKO: "장작을 패는 중",
		goods: []string{"firewood"}, caps: canFight | sellsGoods | escorts, regEN: []string{"blunt", "warm"}, regKO: []string{"banmal", "haeyo"}, traits: []string{"honest", "simple", "brave", "hardworking"}},
	{key: "miller", en: "miller", ko: "방앗간 주인", work: "mill", actEN: "grinding grain", actKO: "곡식을 빻는 중",
		goods: []string{"flour"}, caps: sellsGoods, regEN: []string{"warm", "blunt"}, regKO: []string{"haeyo", "banmal"}, traits: []string{"greedy", "jolly", "nosy", "hardworking"}},
	{key: "apprentice", en: "smith's apprentice", ko: "대장간 견습생", work: "forge", actEN: "working the bellows", actKO: "풀무질을 하는 중",
		caps: timid | escorts, regEN: []string{"warm"}, regKO: []string{"haeyo"}, traits: []string{"eager", "nervous", "clumsy", "cheerful"}},
	{key: "mercenary", en: "mercenary", ko: "떠돌이 무사", work: "inn", actEN: "sharpening a blade", actKO: "칼을 가는 중",
		caps: canFight | escorts, regEN: []string{"blunt"}, regKO: []string{"banmal", "hapsyo"}, traits: []string{"greedy", "brave", "cold", "wry"}},
	{key: "alchemist", en: "alchemist", ko: "약장수", work: "library", actEN: "heating a flask", actKO: "환약을 빚는 중",
		goods: []string{"potion", "elixir"}, caps: sellsGoods, regEN: []string{"polite"}, regKO: []string{"hapsyo", "haeyo"}, traits: []string{"eccentric", "curious", "proud", "talkative"}},
}

// traits is logically constant: trait keys with their English and Korean
// words.
var traits = map[string][2]string{
	"gruff": {"gruff", "무뚝뚝함"}, "honest": {"honest", "정직함"}, "proud": {"proud", "자존심 강함"}, "patient": {"patient", "참을성 많음"},
	"stern": {"stern", "엄격함"}, "dutiful": {"dutiful", "책임감 강함"}, "suspicious": {"suspicious", "의심 많음"}, "fair": {"fair", "공정함"},
	"shrewd": {"shrewd", "셈이 빠름"}, "cheerful": {"cheerful", "쾌활함"}, "greedy": {"greedy", "욕심 많음"}, "talkative": {"talkative", "수다스러움"},
	"nosy": {"nosy", "참견하기 좋아함"}, "kind": {"kind", "다정함"}, "simple": {"simple", "순박함"}, "stubborn": {"stubborn", "고집셈"},
	"hardworking": {"hardworking", "부지런함"}, "curious": {"curious", "호기심 많음"}, "shy": {"shy", "수줍음"}, "cheeky": {"cheeky", "당돌함"},
	"brave": {"brave", "용감함"}, "pious": {"pious", "신심 깊음"}, "calm": {"calm", "차분함"}, "quiet": {"quiet", "말수 적음"},
	"watchful": {"watchful", "눈치 빠름"}, "pedantic": {"pedantic", "따지기 좋아함"}, "absent-minded": {"absent-minded", "건망증 있음"},
	"sly": {"sly", "약삭빠름"}, "nervous": {"nervous", "겁이 많음"}, "vain": {"vain", "허영심 있음"}, "romantic": {"romantic", "낭만적임"},
	"tired": {"tired", "늘 피곤함"}, "superstitious": {"superstitious", "미신을 믿음"}, "haughty": {"haughty", "거만함"}, "bored": {"bored", "따분해함"},
	"generous": {"generous", "인심 좋음"}, "humble": {"humble", "겸손함"}, "hungry": {"always hungry", "늘 배고픔"}, "mysterious": {"mysterious", "신비로움"},
	"wry": {"wry", "비꼬기 좋아함"}, "wise": {"wise", "지혜로움"}, "fussy": {"fussy", "까다로움"}, "jolly": {"jolly", "유쾌함"},
	"loud": {"loud", "목소리 큼"}, "gloomy": {"gloomy", "음울함"}, "precise": {"precise", "꼼꼼함"}, "hot-tempered": {"hot-tempered", "성미 급함"},
	"eager": {"eager", "의욕 넘침"}, "clumsy": {"clumsy", "덤벙댐"}, "cold": {"cold", "냉정함"}, "eccentric": {"eccentric", "괴짜"},
	"stingy": {"stingy", "인색함"},
}

// Dispositions decide whether an NPC gives things away; one of them is
// always among a persona's traits, so the decision follows from the prompt.
var (
	givingTraits  = []string{"generous", "kind"}
	keepingTraits = []string{"stingy", "suspicious"}
)

// itemDef is a kind of item.
type itemDef struct {
	en, ko string
	price  int // in copper (푼)
}

// items is logically constant.
var items = map[string]itemDef{
	"nails": {"box of nails", "못 한 상자", 3}, "horseshoe": {"horseshoe", "말편자", 4}, "knife": {"knife", "칼", 6},
	"rope": {"coil of rope", "밧줄 한 타래", 3}, "lantern": {"lantern", "등롱", 8}, "salt": {"bag of salt", "소금 한 되", 2}, "cloth": {"bolt of cloth", "무명 한 필", 10},
	"ale": {"mug of ale", "막걸리 한 사발", 2}, "stew": {"bowl of stew", "국밥 한 그릇", 3}, "room": {"room for the night", "하룻밤 묵을 방", 8},
	"apples": {"basket of apples", "사과 한 바구니", 3}, "eggs": {"dozen eggs", "달걀 한 꾸러미", 4}, "cabbage": {"cabbage", "배추 한 포기", 1},
	"fur": {"fox fur", "여우 가죽", 12}, "venison": {"haunch of venison", "사슴 고기", 9},
	"map": {"map of the valley", "고을 지도", 7}, "book": {"book of herb lore", "약초 책", 15},
	"salve": {"pot of salve", "고약", 5}, "herbs": {"bundle of herbs", "약초 한 다발", 2}, "mushrooms": {"basket of mushrooms", "버섯 한 바구니", 4},
	"iron_ore": {"sack of iron ore", "철광석 한 자루", 6}, "coal": {"sack of coal", "숯 한 가마니", 3},
	"fish": {"fresh trout", "싱싱한 붕어", 2}, "eel": {"smoked eel", "훈제 장어", 5},
	"potion": {"healing potion", "기운 나는 물약", 12}, "charm": {"luck charm", "부적", 4}, "elixir": {"bottle of elixir", "영약 한 병", 20},
	"ferry_token": {"ferry token", "나룻배 표", 1}, "bread": {"loaf of bread", "가래떡 한 줄", 1}, "honey_cake": {"honey cake", "꿀떡 한 접시", 3},
	"horse_feed": {"sack of oats", "말먹이 한 자루", 2}, "stool": {"three-legged stool", "나무 걸상", 5},
	"cloak": {"wool cloak", "두루마기", 12}, "gloves": {"pair of gloves", "가죽 장갑", 4}, "cider": {"jug of cider", "동동주 한 병", 3},
	"wool": {"bag of wool", "양털 한 자루", 4}, "firewood": {"bundle of firewood", "장작 한 단", 1}, "flour": {"sack of flour", "밀가루 한 자루", 3},
	"ring": {"silver ring", "은가락지", 15}, "necklace": {"string of amber beads", "호박 목걸이", 20}, "pie": {"meat pie", "고기만두 한 접시", 3},
}

// Items that need mending, gifts, things that get stolen or dropped.
var (
	brokenItems = []string{"sword", "shield", "plough blade", "cloak", "lantern", "axe", "cooking pot", "pair of boots"}
	brokenKO    = []string{"칼", "방패", "쟁기날", "두루마기", "등롱", "도끼", "솥", "짚신"}
	// what is wrong with each, shown as the item's note
	damageEN  = []string{"notched", "cracked", "bent", "torn", "broken", "handle split", "dented", "worn through"}
	damageKO  = []string{"이가 빠짐", "금이 감", "휘어짐", "찢어짐", "깨짐", "자루가 부러짐", "찌그러짐", "해짐"}
	giftItems = []string{"bunch of wildflowers", "jar of honey", "pretty shell", "warm scarf", "bag of sweets", "carved bird", "letter from home", "fresh pear"}
	giftKO    = []string{"들꽃 한 다발", "꿀 한 단지", "예쁜 조개껍데기", "따뜻한 목도리", "엿 한 봉지", "나무로 깎은 새", "고향에서 온 편지", "싱싱한 배"}
	lostItems = []string{"coin purse", "brass key", "small hammer", "wicker basket", "silver spoon", "leather glove", "wooden doll", "sealed letter"}
	lostKO    = []string{"돈주머니", "놋쇠 열쇠", "작은 망치", "대바구니", "은수저", "가죽 장갑 한 짝", "나무 인형", "봉한 편지"}
	// promised things the player may bring: role-agnostic.
	promiseItems = []string{"iron_ore", "herbs", "firewood", "fish", "wool", "flour", "eggs", "coal"}
)

// objects NPCs may use, by place type where they stand.
var objectsByPlace = map[string][][2]string{
	"forge":     {{"anvil", "모루"}, {"bellows", "풀무"}, {"quench barrel", "담금질 물통"}},
	"well":      {{"well bucket", "두레박"}, {"well winch", "우물 도르래"}},
	"temple":    {{"temple bell", "범종"}, {"offering box", "시주함"}},
	"gate":      {{"gate winch", "성문 도르래"}, {"alarm bell", "경종"}},
	"barracks":  {{"alarm bell", "경종"}, {"weapon rack", "무기 걸이"}},
	"inn":       {{"ale barrel", "술독"}, {"hearth", "아궁이"}},
	"market":    {{"stall shutter", "좌판 덮개"}, {"scales", "저울"}},
	"mill":      {{"millstone", "맷돌"}, {"sluice gate", "봇도랑 수문"}},
	"docks":     {{"ferry bell", "나루 종"}, {"mooring rope", "배 묶는 밧줄"}},
	"herbhouse": {{"mortar", "약절구"}, {"herb drying rack", "약초 말리는 채반"}},
	"library":   {{"reading lamp", "등잔"}, {"book chest", "책궤"}},
	"mine":      {{"ore cart", "광차"}, {"mine lamp", "갱도 등불"}},
	"bakery":    {{"oven", "떡시루"}, {"flour bin", "쌀가루 통"}},
	"stables":   {{"water trough", "여물통"}, {"stable door", "마구간 문"}},
	"manor":     {{"garden gate", "솟을대문"}, {"dinner gong", "놋종"}},
	"woods":     {{"snare", "덫"}, {"woodpile", "장작더미"}},
}

// Backstories and goals for the personas that have them; {n} is a number of
// years, {res} a resident.
var (
	storyEN = []string{"Born and raised in {town}.", "Came to {town} {n} years ago from the coast.", "Learned the trade from a stern old master.",
		"Lost a brother to the war and never speaks of it.", "Was once a sailor, and still walks like one.", "Grew up an orphan; {res} took you in."}
	goalsEN = []string{"Save enough silver to buy a house", "Keep the peace in {town}", "Make friends with {res}", "Pay off a debt to {res}",
		"Make {town}'s {product} famous", "Leave {town} one day and see the sea"}
	storyKO = []string{"{town}에서 나고 자랐다.", "{n}년 전 바닷가 마을에서 {town|으로} 흘러왔다.", "엄한 스승 밑에서 일을 배웠다.",
		"전쟁에서 형을 잃었지만 그 얘기는 입에 올리지 않는다.", "한때 뱃사람이었다.", "고아로 자랐고 {res|이} 거두어 주었다."}
	goalsKO = []string{"돈을 모아 집 한 채 장만하기", "{town}의 평화 지키기", "{res|과} 친해지기", "{res}에게 진 빚 갚기",
		"{town} {product|을} 널리 알리기", "언젠가 {town|을} 떠나 바다 보기"}
)
