package corpus

// The pools the generator draws worlds and people from. Every pool is split
// between training and held-out by index (see splitPool), so held-out worlds,
// personas and names never occur in training.

// placeType is a kind of place a world may have.
type placeType struct {
	key          string
	kindEN       string   // what it is, for the [Places] note
	kindKO       string   //
	namesEN      []string // names; {A} is filled from adjEN
	namesKO      []string //
	adjEN, adjKO []string // fillers for {A}
}

// placeTypes is logically constant.
var placeTypes = []placeType{
	{key: "inn", kindEN: "inn", kindKO: "주막",
		namesEN: []string{"The {A} Anchor", "The {A} Fox", "The {A} Goose", "The {A} Lantern", "The {A} Stag", "The {A} Kettle", "The {A} Owl"},
		adjEN:   []string{"Rusty", "Sleeping", "Golden", "Crooked", "Merry", "Drowned", "Silver", "Laughing", "Wandering", "Jolly"},
		namesKO: []string{"{A} 주막", "{A} 주막", "{A} 객줏집", "{A} 주막", "{A} 주막"},
		adjKO:   []string{"버들", "달빛", "솔바람", "감나무", "까치", "복사꽃", "느티", "청실", "대추나무", "물방울"}},
	{key: "market", kindEN: "market", kindKO: "장터",
		namesEN: []string{"the Market Square", "the {A} Market", "the Old Market", "the {A} Market", "the Cloth Market"},
		adjEN:   []string{"Low", "High", "River", "Corn", "Salt", "Wool"},
		namesKO: []string{"큰장터", "{A} 장터", "아랫장터", "{A} 장터", "닷새장터"},
		adjKO:   []string{"강나루", "소금", "윗마을", "모시", "쌀", "삼거리"}},
	{key: "forge", kindEN: "forge", kindKO: "대장간",
		namesEN: []string{"the {A} Forge", "the {A} Anvil", "the Smithy", "the {A} Forge", "the Old Smithy"},
		adjEN:   []string{"Red", "Black", "Iron", "Ember", "Hammer", "Cinder"},
		namesKO: []string{"{A} 대장간", "{A} 대장간", "쇠메 대장간", "{A} 대장간", "불매 대장간"},
		adjKO:   []string{"큰길", "개울", "숯골", "아랫", "장터", "돌담"}},
	{key: "temple", kindEN: "temple", kindKO: "절",
		namesEN: []string{"the Chapel of St. {A}", "the Temple of St. {A}", "the Old Shrine", "the Chapel of St. {A}", "the Dawn Temple"},
		adjEN:   []string{"Brigid", "Aldhelm", "Cuthbert", "Wynn", "Oswin", "Hilda", "Edith"},
		namesKO: []string{"{A}사", "{A}사", "성황당", "{A}사", "산신각"},
		adjKO:   []string{"청운", "백련", "보현", "용화", "운주", "미륵", "법흥"}},
	{key: "well", kindEN: "well", kindKO: "우물",
		namesEN: []string{"the {A} Well", "the {A} Well", "the Wishing Well", "the {A} Well", "the Town Well"},
		adjEN:   []string{"Old", "Moss", "Stone", "Deep", "Sweet", "Cold"},
		namesKO: []string{"{A} 우물", "{A} 우물", "약수터", "{A} 우물", "마을 우물"},
		adjKO:   []string{"느티나무", "돌", "큰", "앞마당", "은행나무", "찬"}},
	{key: "mill", kindEN: "mill", kindKO: "방앗간",
		namesEN: []string{"{A} Mill", "{A} Mill", "the Water Mill", "{A} Mill", "the Old Mill"},
		adjEN:   []string{"Brook", "Wind", "Hollow", "Otter", "Weir", "Heron"},
		namesKO: []string{"{A} 물레방앗간", "{A} 물레방앗간", "디딜방앗간", "{A} 방앗간", "큰 물레방앗간"},
		adjKO:   []string{"개울가", "아랫마을", "윗마을", "냇가", "뒷골", "버들숲"}},
	{key: "docks", kindEN: "docks", kindKO: "나루터",
		namesEN: []string{"the {A} Docks", "the {A} Landing", "the Ferry Landing", "the {A} Docks", "the Fish Quay"},
		adjEN:   []string{"River", "Salt", "Lantern", "Reed", "Gull", "Eel"},
		namesKO: []string{"{A} 나루터", "{A} 나루", "갯가 나루터", "{A} 나루터", "큰나루"},
		adjKO:   []string{"버드나무", "모래", "갈대", "여울", "솔섬", "배다리"}},
	{key: "gate", kindEN: "gate", kindKO: "성문",
		namesEN: []string{"the North Gate", "the South Gate", "the East Gate", "the West Gate", "the River Gate"},
		namesKO: []string{"북문", "남문", "동문", "서문", "수문"}},
	{key: "barracks", kindEN: "watch house", kindKO: "관아",
		namesEN: []string{"the Watch House", "the Guard Tower", "the Barracks", "the {A} Tower", "the Keep"},
		adjEN:   []string{"Grey", "Bell", "Stone", "Hawk"},
		namesKO: []string{"관아", "포청", "군막", "{A} 초소", "수비대 초소"},
		adjKO:   []string{"장터", "성문", "고갯마루", "강나루"}},
	{key: "herbhouse", kindEN: "healer's house", kindKO: "약방",
		namesEN: []string{"the {A} Herb House", "the House of Healing", "the {A} Apothecary", "the {A} Herb House", "the Sickroom"},
		adjEN:   []string{"Green", "Willow", "Mallow", "Sage", "Yarrow", "Comfrey"},
		namesKO: []string{"{A} 약방", "{A} 약방", "인제당 약방", "{A} 약국", "제생원"},
		adjKO:   []string{"감초", "당귀", "만수", "백초", "장수", "인삼"}},
	{key: "library", kindEN: "library", kindKO: "서당",
		namesEN: []string{"the {A} Library", "the Scriptorium", "the {A} Archive", "the {A} Library", "the Scholars' Hall"},
		adjEN:   []string{"Old", "Tower", "Ivy", "Quill", "Lamp"},
		namesKO: []string{"{A} 서당", "향교", "{A} 서고", "{A} 서당", "글방"},
		adjKO:   []string{"송림", "청풍", "문장", "매화", "학봉"}},
	{key: "mine", kindEN: "mine", kindKO: "광산",
		namesEN: []string{"the {A} Mine", "the {A} Pit", "the Old Workings", "the {A} Mine", "the Quarry"},
		adjEN:   []string{"Deep", "Copper", "Black", "Tin", "Silver", "Iron"},
		namesKO: []string{"{A} 광산", "{A} 굴", "옛 광산", "{A} 광산", "채석장"},
		adjKO:   []string{"검은돌", "구리", "은골", "쇠골", "금굴", "뒷산"}},
	{key: "bakery", kindEN: "bakery", kindKO: "떡집",
		namesEN: []string{"the {A} Loaf", "the {A} Oven", "the Bakehouse", "the {A} Loaf", "the Honey Oven"},
		adjEN:   []string{"Warm", "Golden", "Crusty", "Brown", "Risen"},
		namesKO: []string{"{A} 떡집", "{A} 떡방앗간", "고물 떡집", "{A} 떡집", "시루떡집"},
		adjKO:   []string{"꿀", "인절미", "콩", "쑥", "찹쌀"}},
	{key: "stables", kindEN: "stables", kindKO: "마방",
		namesEN: []string{"the {A} Stables", "the {A} Stables", "the Horse Yard", "the {A} Stables", "the Post Stables"},
		adjEN:   []string{"Oak", "Bay", "Chestnut", "Dapple", "Grey"},
		namesKO: []string{"{A} 마방", "{A} 마구간", "역참 마방", "{A} 마방", "큰 마구간"},
		adjKO:   []string{"삼거리", "고개", "역말", "장터", "솔밭"}},
	{key: "manor", kindEN: "manor", kindKO: "대감 댁",
		namesEN: []string{"the Manor House", "the {A} Hall", "the Great Hall", "the {A} Hall", "the Lord's House"},
		adjEN:   []string{"High", "Rook", "Elm", "Swan"},
		namesKO: []string{"대감 댁", "{A} 기와집", "큰 기와집", "{A} 기와집", "사랑채 큰집"},
		adjKO:   []string{"솟을대문", "안동", "윗마을", "연못"}},
	{key: "woods", kindEN: "woods", kindKO: "숲",
		namesEN: []string{"the {A} Woods", "the {A} Forest", "the Old Wood", "the {A} Woods", "the Wildwood"},
		adjEN:   []string{"Whispering", "Dark", "Elder", "Fern", "Misty", "Thorny"},
		namesKO: []string{"{A} 숲", "{A} 숲", "뒷산", "{A} 숲", "도깨비 숲"},
		adjKO:   []string{"대나무", "소나무", "참나무", "안개", "여우", "까마귀"}},
}

// placeLocEN and placeLocKO say where a place is in town.
var (
	placeLocEN = []string{"east of the square", "by the river", "past the mill", "at the north end of town", "up the hill",
		"behind the temple", "near the gate", "on the main road", "down by the water", "at the edge of the woods",
		"in the lower town", "beside the market", "across the bridge", "at the crossroads"}
	placeLocKO = []string{"장터 동쪽", "강가", "물레방앗간 너머", "마을 북쪽 끝", "언덕 위", "절 뒤편", "성문 근처", "큰길가",
		"물가 아래쪽", "숲 어귀", "아랫마을", "장터 옆", "다리 건너", "삼거리"}
)

// Town and person names, partitioned by splitPool.
var (
	townsEN = []string{"Oakvale", "Millbrook", "Ravenford", "Thornwick", "Ashby", "Dunmere", "Greywater", "Kettleby",
		"Stonebridge", "Willowmere", "Fenwick", "Highcombe", "Brackenridge", "Saltmarsh", "Emberly", "Cresthaven",
		"Hollowmere", "Redwater", "Amberford", "Coldharbour"}
	townsKO = []string{"버들골", "솔뫼", "바람재", "도토리골", "까치골", "은빛나루", "매화골", "구름재", "한내", "느티골",
		"여울목", "부엉골", "청솔리", "감나무골", "돌배골", "새터", "물푸레골", "가래울", "산수골", "반딧골"}

	// People: NPCs (personas and residents).
	namesEN = []string{"Brannoc", "Selka", "Aldric", "Maren", "Tobin", "Wrenna", "Hildegard", "Osric", "Fenna", "Garrick",
		"Ysolde", "Corwin", "Elsbeth", "Rolf", "Tamsin", "Edric", "Mirela", "Dunstan", "Odile", "Percival",
		"Griselda", "Hobb", "Liesel", "Bartram", "Agnes", "Cedric", "Nessa", "Ulric", "Bryony", "Godwin",
		"Isolde", "Jory", "Kestrel", "Leofric", "Morwen", "Nyle", "Orla", "Piers", "Quenby", "Sabine",
		"Thorne", "Ursula", "Vance", "Winifred", "Zora", "Alaric", "Bessamy", "Caspian", "Della", "Emrys",
		"Fiora", "Gideon", "Hestia", "Ivor", "Juniper", "Kendric", "Larkin", "Magnus", "Rosalind", "Barnaby"}
	namesKO = []string{"막쇠", "돌쇠", "옥분", "덕팔", "점순", "갑돌", "칠복", "끝순", "봉구", "순덕",
		"억쇠", "복실", "용팔", "금례", "춘보", "말순", "판석", "길례", "꽃분", "팔봉",
		"석구", "봉순", "먹쇠", "천복", "귀남", "막순", "업순", "만복", "춘심", "향단",
		"방울", "연실", "두봉", "차돌", "삼돌", "언년", "복동", "곱단", "갑순", "똘복",
		"개남", "끝례", "삼월이", "칠성", "마당쇠", "덕례", "수동", "오목", "쌍분", "장쇠"}

	// Players, who tell their names.
	playersEN = []string{"Aren", "Kira", "Dario", "Lyra", "Tessaly", "Milo", "Nora", "Finnegan", "Jonah", "Elena",
		"Rhys", "Owen", "Cleo", "Zara", "Leona", "Maya", "Theo", "Iris", "Hugo", "Felix",
		"Sorcha", "Callum", "Yara", "Enzo", "Talia"}
	playersKO = []string{"민준", "서연", "도윤", "하은", "지호", "수아", "예준", "시우", "서윤", "주원",
		"하린", "건우", "채원", "유찬", "소율", "태오", "아린", "준서", "다인", "현우",
		"나연", "은채", "이안", "가온", "윤호"}

	// Rulers: English names with titles; Korean surnames with titles.
	rulersEN  = []string{"Lord Harwin", "Lady Elowen", "Mayor Fitch", "Baron Aldous", "Elder Maude", "Lady Rowena", "Lord Crane", "Mayor Pell", "Baron Osgood", "Elder Wynne"}
	surnameKO = []string{"김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권", "황", "안", "송", "류", "홍"}
	titlesKO  = []string{"사또", "촌장", "대감", "현감", "좌수"}

	creaturesEN = []string{"wolves", "wild boars", "bandits", "goblins", "bears", "giant spiders", "river trolls"}
	creatureEN1 = []string{"wolf", "wild boar", "bandit", "goblin", "bear", "giant spider", "river troll"}
	creaturesKO = []string{"늑대", "멧돼지", "산적", "도깨비", "호랑이", "구미호", "들개"}

	productsEN = []string{"apples", "wool", "iron", "cider", "cheese", "river pearls", "honey", "timber"}
	productsKO = []string{"곶감", "한지", "옹기", "인삼", "모시", "약초", "숯", "젓갈"}

	festivalsEN = []string{"the Lantern Festival", "the Harvest Fair", "the Midsummer Bonfire", "the Blessing of the Boats", "the Apple Feast", "the Plough Day Races"}
	festivalsKO = []string{"단오제", "풍년제", "연등회", "달맞이 잔치", "씨름 대회", "줄다리기 잔치"}
	seasonsEN   = []string{"spring", "summer", "autumn", "winter"}
	seasonsKO   = []string{"봄", "여름", "가을", "겨울"}

	settingsEN = []string{"a river town", "a hill village", "a mining town", "a fishing village", "a market town", "a border town"}
	settingsKO = []string{"강가의 작은 마을", "산골 마을", "광산 마을", "갯마을", "장이 서는 큰 마을", "국경 마을"}

	timesEN = []string{"morning", "noon", "afternoon", "evening"}
	timesKO = []string{"아침", "한낮", "오후", "저녁"}
)
