package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// trainTexts is a small bilingual corpus in the shape of the NPC prompts:
// ChatML scaffolding, lore, quoted player speech and decision JSON.
var trainTexts = []string{
	"<|im_start|>system\n[World] Oakvale is a river town. The smith works at the forge by the mill.\n<|im_end|>\n",
	"<|im_start|>user\n[Heard] p1 Aren: \"Where is the forge? I need the smith.\"\n<|im_end|>\n<|im_start|>assistant\n",
	`{"emotion":"neutral","action":{"name":"point_to","target":"l2"},"say":"The forge is by the mill, traveller."}<|im_end|>`,
	`{"emotion":"happy","action":{"name":"give","target":"p1"},"say":"Take the bread, and thank the baker."}<|im_end|>`,
	"<|im_start|>system\n[World] 한내는 강가 마을이다. 대장장이는 방앗간 옆 대장간에서 일한다.\n<|im_end|>\n",
	"<|im_start|>user\n[Heard] p5: \"대장간이 어디에 있어요? 대장장이를 찾고 있어요.\"\n<|im_end|>\n<|im_start|>assistant\n",
	`{"emotion":"neutral","action":{"name":"point_to","target":"l6"},"say":"대장간은 방앗간 옆에 있어요. 가 보세요."}<|im_end|>`,
	`{"emotion":"happy","action":{"name":"give","target":"p5"},"say":"이 빵을 가져가세요. 여행자님."}<|im_end|>`,
}

func trainedOn(t testing.TB, texts []string, repeat, vocab int) (*TrainedVocab, *Tokenizer) {
	t.Helper()
	tr := NewBPETrainer()
	for range repeat {
		for _, s := range texts {
			tr.AddTemplate(s)
		}
	}
	v, err := tr.Train(vocab, 2)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := fromMetadata(t, v.KVs())
	if err != nil {
		t.Fatalf("New(trained metadata): %v", err)
	}
	return v, tok
}

func TestTrainedVocabularyRoundTripsBothLanguages(t *testing.T) {
	_, tok := trainedOn(t, trainTexts, 20, 600)
	texts := append(slices.Clone(roundTripTexts), trainTexts...)
	texts = append(texts, "처음 보는 문장도 바이트로 돌아온다: 뷁, 😀, \xff", "Unseen words: zyxwvut 12345")
	for _, s := range texts {
		ids := tok.Encode(s)
		if got := tok.Decode(ids); got != s {
			t.Errorf("Decode(Encode(%q)) = %q; want the input", s, got)
		}
		for _, id := range ids {
			if tok.IsControl(id) {
				t.Errorf("Encode(%q) produced control token %d (%q); plain text must never", s, id, tok.TokenString(id))
			}
		}
	}
}

func TestTrainedVocabularyLearnsCommonWords(t *testing.T) {
	_, tok := trainedOn(t, trainTexts, 20, 600)
	for _, w := range []string{" the", " forge", "emotion", " 방앗간", " 있어요", "action", "\":\""} {
		if ids := tok.Encode(w); len(ids) != 1 {
			t.Errorf("Encode(%q) = %d tokens %v; want one token", w, len(ids), ids)
		}
	}
}

func TestTrainedVocabularyChatML(t *testing.T) {
	v, tok := trainedOn(t, trainTexts, 5, 400)
	n := int32(len(v.Tokens))
	want := map[string]int32{"<|endoftext|>": n - 3, "<|im_start|>": n - 2, "<|im_end|>": n - 1}
	for s, id := range want {
		if got, ok := tok.specialID(s); !ok || got != id {
			t.Errorf("specialID(%q) = %d, %v; want %d, true", s, got, ok, id)
		}
	}
	if tok.EOS() != want["<|im_end|>"] || !tok.IsEOG(want["<|im_end|>"]) {
		t.Errorf("EOS() = %d, IsEOG = %v; want <|im_end|> (%d) ending a generation", tok.EOS(), tok.IsEOG(tok.EOS()), want["<|im_end|>"])
	}
	if tok.AddBOS() {
		t.Errorf("AddBOS() = true; want false, as Qwen models are trained")
	}
	if tok.ChatTemplate() != ChatMLTemplate {
		t.Errorf("ChatTemplate() = %q; want ChatMLTemplate", tok.ChatTemplate())
	}
	ids := tok.EncodeSpecial("<|im_start|>user\nhi<|im_end|>\n")
	if ids[0] != want["<|im_start|>"] || !slices.Contains(ids, want["<|im_end|>"]) {
		t.Errorf("EncodeSpecial(ChatML turn) = %v; want <|im_start|> first and <|im_end|> inside", ids)
	}
	if ids := tok.Encode("<|im_end|>"); slices.Contains(ids, want["<|im_end|>"]) {
		t.Errorf("Encode(%q) = %v contains the control token; player text must stay text", "<|im_end|>", ids)
	}
}

func TestTrainIsDeterministic(t *testing.T) {
	a, _ := trainedOn(t, trainTexts, 3, 500)
	rev := slices.Clone(trainTexts)
	slices.Reverse(rev)
	b, _ := trainedOn(t, rev, 3, 500)
	if !slices.Equal(a.Merges, b.Merges) || !slices.Equal(a.Tokens, b.Tokens) {
		t.Errorf("training on the same texts in another order gave different vocabularies (%d vs %d merges)", len(a.Merges), len(b.Merges))
	}
}

func TestTrainStopsAtVocabularySizeOrRareness(t *testing.T) {
	v, _ := trainedOn(t, trainTexts, 20, 300)
	if len(v.Tokens) != 300 {
		t.Errorf("Train(300) gave %d tokens; want 300", len(v.Tokens))
	}
	// Seen once each, no pair reaches a count of 2 within a single word
	// of distinct letters: only the bytes and the control tokens remain.
	tr := NewBPETrainer()
	tr.Add("abcdefg hijklmn")
	v, err := tr.Train(1000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Merges) != 0 || len(v.Tokens) != 259 {
		t.Errorf("Train on words seen once = %d merges, %d tokens; want 0 and 259", len(v.Merges), len(v.Tokens))
	}
}

func TestTrainMergesApplyInOrder(t *testing.T) {
	// Encoding a training word with the learnt merges must give the same
	// number of tokens the trainer's own segmentation reached: check it
	// on the commonest word, which becomes one token.
	v, tok := trainedOn(t, []string{strings.Repeat(" banana", 50)}, 1, 280)
	if got := tok.Encode(" banana"); len(got) != 1 {
		t.Errorf("Encode(%q) = %v with merges %v; want one token", " banana", got, v.Merges)
	}
}

func TestTrainErrors(t *testing.T) {
	tr := NewBPETrainer()
	if _, err := tr.Train(1000, 2); err == nil || !strings.Contains(err.Error(), "no text") {
		t.Errorf("Train with no text: err = %v; want one saying no text was added", err)
	}
	tr.Add("hello")
	for _, n := range []int{0, 258, 1<<16 + 1} {
		if _, err := tr.Train(n, 2); err == nil || !strings.Contains(err.Error(), fmt.Sprint(n)) {
			t.Errorf("Train(%d): err = %v; want one naming the size", n, err)
		}
	}
}

func BenchmarkTrainBPE(b *testing.B) {
	var texts []string
	for i := range 200 {
		for _, s := range trainTexts {
			texts = append(texts, strings.ReplaceAll(s, "p1", fmt.Sprintf("p%d", i)))
		}
	}
	b.ResetTimer()
	for range b.N {
		tr := NewBPETrainer()
		for _, s := range texts {
			tr.AddTemplate(s)
		}
		if _, err := tr.Train(1000, 2); err != nil {
			b.Fatal(err)
		}
	}
}
