package loadtest

// The simulated players' repertoire. The lines are logically constant; they
// mix greetings, questions, trade, requests for help, small talk and threats,
// short and long, so a real model sees varied prompts rather than one cached
// line, and half are Korean because Anima's NPCs speak both.

// linesEnglish are lines an English-speaking player says to an NPC.
var linesEnglish = []string{
	"Hello there!",
	"Hi. Nice weather for once, isn't it?",
	"Greetings, friend. Have you lived here long?",
	"Hey, do you know where the blacksmith's forge is?",
	"Can you help me? I lost my way in the forest.",
	"What's the price of that sword?",
	"I'd like to buy some bread, if you have any left.",
	"Would you sell me a healing potion?",
	"I have furs to trade. Interested?",
	"How much for a room at the inn tonight?",
	"Follow me, I need someone to watch my back.",
	"Come with me to the old mill, please.",
	"Have you seen a girl in a red cloak pass by?",
	"Who's in charge around here?",
	"Is the road to the capital safe these days?",
	"The bridge to the east is broken. Did you know?",
	"Bandits attacked the caravan last night.",
	"Tell me about the ruins up on the hill.",
	"What do you do for a living?",
	"Do you have any work for a traveller like me?",
	"I killed the wolves that were bothering your sheep.",
	"Thanks for the help earlier. I owe you one.",
	"Sorry about your cart, that was my fault.",
	"You look tired. Long day?",
	"Is it true the mayor is hiding something?",
	"Where can I find the herbalist?",
	"Give me your money, or else.",
	"Stay out of my way if you know what's good for you.",
	"I'm not here to fight. Put the knife down.",
	"Did you hear that noise from the well?",
	"What's good to eat around here?",
	"Can you read this letter for me? My eyes are bad.",
	"The guards are looking for someone who matches your description.",
	"I found this ring by the river. Is it yours?",
	"Would you teach me how to fish?",
	"How far is it to the next village on foot?",
	"The festival starts tomorrow, right?",
	"Why is everyone in such a hurry today?",
	"I need a guide through the marsh. I can pay.",
	"Goodbye, and take care of yourself.",
	"Farewell. I'll be back before the snow comes.",
	"Let's trade: my lantern for your rope.",
}

// linesKorean are lines a Korean-speaking player says to an NPC, in the
// register players actually use: polite speech to strangers, casual speech
// now and then.
var linesKorean = []string{
	"안녕하세요!",
	"안녕하세요, 오늘 날씨가 참 좋네요.",
	"처음 뵙겠습니다. 여기 오래 사셨어요?",
	"대장간이 어디에 있는지 아세요?",
	"길을 잃었어요. 좀 도와주실 수 있나요?",
	"그 검은 얼마예요?",
	"빵 좀 사고 싶은데, 남은 거 있어요?",
	"회복 물약 하나 파실 수 있나요?",
	"모피를 좀 가져왔는데, 거래하실래요?",
	"오늘 밤 여관 방 하나에 얼마예요?",
	"저를 따라와 주세요. 혼자 가기엔 좀 무서워서요.",
	"같이 옛 방앗간까지 가 주실 수 있어요?",
	"빨간 망토 입은 여자아이 지나가는 거 보셨어요?",
	"여기 책임자가 누구예요?",
	"요즘 수도로 가는 길은 안전한가요?",
	"동쪽 다리가 무너졌대요. 알고 계셨어요?",
	"어젯밤에 도적들이 상단을 습격했어요.",
	"언덕 위에 있는 폐허에 대해 얘기해 주세요.",
	"무슨 일을 하세요?",
	"저 같은 나그네가 할 만한 일 있을까요?",
	"양들을 괴롭히던 늑대들은 제가 처리했어요.",
	"아까 도와주셔서 고마워요. 신세 졌네요.",
	"수레 망가뜨린 거 죄송해요. 제 잘못이에요.",
	"피곤해 보이시네요. 힘든 하루였어요?",
	"촌장님이 뭔가 숨기고 있다는 게 사실이에요?",
	"약초상은 어디서 찾을 수 있어요?",
	"가진 돈 다 내놔. 안 그러면 재미없을 줄 알아.",
	"좋은 말로 할 때 비켜.",
	"싸우러 온 거 아니에요. 칼 내려놓으세요.",
	"우물 쪽에서 나는 소리 들으셨어요?",
	"이 근처에 맛있는 거 뭐 있어요?",
	"이 편지 좀 읽어 주실래요? 눈이 안 좋아서요.",
	"경비병들이 당신이랑 닮은 사람을 찾고 있던데요.",
	"강가에서 이 반지를 주웠는데, 혹시 당신 거예요?",
	"낚시하는 법 좀 가르쳐 주실래요?",
	"다음 마을까지 걸어서 얼마나 걸려요?",
	"축제가 내일부터 맞죠?",
	"오늘따라 다들 왜 이렇게 바빠요?",
	"늪지대를 지나갈 안내인이 필요해요. 돈은 드릴게요.",
	"그럼 안녕히 계세요. 몸 조심하시고요.",
	"잘 있어요. 눈 오기 전에 다시 올게요.",
	"거래하자. 내 등불이랑 네 밧줄 바꾸는 거 어때?",
	"야, 너 혹시 어제 시장에 있었지?",
	"잠깐만요, 물어볼 게 있어요.",
}

// npcNames and playerNames name the simulated characters.
var npcNames = []string{
	"Brannoc", "Maren", "Tobin", "Elsbeth", "Garrick", "Ysolde", "Corwin", "Hilde",
	"Aldous", "Wren", "Osric", "Fenna", "Dagny", "Rowan", "Isolde", "Bertram",
	"한서연", "박도윤", "김하은", "이준호", "최민지", "정우진", "강소율", "윤재현",
}

var playerNames = []string{
	"Ari", "Kestrel", "Juno", "Silas", "Nyx", "Theo", "민준", "서윤", "지호", "하린",
}

// npcRoles are the inline characters' roles.
var npcRoles = []string{
	"blacksmith", "innkeeper", "guard", "farmer", "merchant", "herbalist",
	"fisher", "hunter", "priest", "miller", "bard", "town crier",
}

// itemNames are what players give and steal.
var itemNames = []string{
	"bread", "copper coin", "silver ring", "iron ore", "healing potion",
	"rope", "lantern", "wolf pelt", "letter", "apple", "dagger", "map",
}
