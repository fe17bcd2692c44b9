package memory

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/npc/perception"
	"github.com/anima-rt/anima/npc/persona"
	bolt "go.etcd.io/bbolt"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func ev(kind, actor, name string, at time.Duration) perception.Event {
	return perception.Event{Time: t0.Add(at), Kind: kind, Actor: actor, ActorName: name, ActorKind: "player"}
}

func TestObserveWording(t *testing.T) {
	gift := ev(perception.Gift, "p1", "Aren", 0)
	gift.Item = "iron ore"
	stole := ev(perception.Stole, "p2", "", 0)
	stole.Item = "bread"
	stole.Target, stole.TargetName = "n3", "Pip"
	heard := ev(perception.Speech, "p1", "Aren", 0)
	heard.Text, heard.Addressed = "Can you fix\nmy sword?", true
	tests := []struct {
		e    perception.Event
		lang string
		want string
		imp  int
	}{
		{gift, "en", "Aren gave you iron ore.", 6},
		{stole, "en", "p2 stole bread from Pip.", 5},
		{ev(perception.Attacked, "p1", "Aren", 0), "en", "Aren attacked you.", 9},
		{heard, "en", `Aren told you: "Can you fix my sword?"`, 4},
		{ev(perception.Left, "p1", "Aren", 0), "en", "Aren left.", 1},
		{gift, "ko", "Aren이 iron ore를 주었다.", 6},
		{perception.Event{Kind: perception.Gift, Actor: "p1", ActorName: "순이", Item: "사과"}, "ko", "순이가 사과를 주었다.", 6},
		{perception.Event{Kind: perception.Attacked, Actor: "c1", ActorName: "늑대"}, "ko", "늑대가 나를 공격했다.", 9},
		{perception.Event{Kind: "dance", Actor: "p1", ActorName: "Aren", Text: "a jig"}, "en", `dance: Aren "a jig"`, 3},
	}
	for _, tt := range tests {
		s := New(Config{})
		got := s.Observe(tt.e, tt.lang)
		if got.Text != tt.want || got.Importance != tt.imp {
			t.Errorf("Observe(%+v, %s) = %q imp %d; want %q imp %d", tt.e, tt.lang, got.Text, got.Importance, tt.want, tt.imp)
		}
	}
}

func TestRelationships(t *testing.T) {
	s := New(Config{})
	s.SeedRelations([]persona.Relationship{{Kind: "player", Trust: 0.1, Affinity: 0.2}, {With: "selka", Trust: 0.6, Affinity: 0.5}})
	steps := []struct {
		e             perception.Event
		trust, affect float64
	}{
		{ev(perception.Gift, "p1", "Aren", 0), 0.15, 0.35},         // from the player default
		{ev(perception.Gift, "p1", "Aren", time.Second), 0.2, 0.5}, //
		{perception.Event{Kind: perception.Speech, Actor: "p1", Addressed: true, Text: "Thank you, friend"}, 0.22, 0.55},
		{perception.Event{Kind: perception.Speech, Actor: "p1", Addressed: true, Text: "you stupid fool"}, 0.2, 0.47},
		{perception.Event{Kind: perception.Speech, Actor: "p1", Text: "idiot"}, 0.2, 0.47}, // not to us: no change
		{ev(perception.Stole, "p1", "Aren", 0), -0.1, 0.27},
		{ev(perception.Attacked, "p1", "Aren", 0), -0.6, -0.13},
		{ev(perception.Attacked, "p1", "Aren", 0), -1, -0.53}, // clamped
		{ev(perception.Attacked, "p1", "Aren", 0), -1, -0.93},
		{ev(perception.Attacked, "p1", "Aren", 0), -1, -1},
	}
	for i, st := range steps {
		s.Observe(st.e, "en")
		r, _ := s.Relation("p1", "player")
		if !near(r.Trust, st.trust) || !near(r.Affinity, st.affect) {
			t.Fatalf("step %d: Relation(p1) = %+v; want trust %.2f affinity %.2f", i, r, st.trust, st.affect)
		}
	}
	if r, _ := s.Relation("selka", ""); r.Trust != 0.6 {
		t.Errorf("Relation(selka) = %+v; want the seed", r)
	}
	if r, ok := s.Relation("p9", "player"); !ok || r.Trust != 0.1 {
		t.Errorf("Relation(p9, player) = %+v, %v; want the kind default", r, ok)
	}
	s.SeedRelations([]persona.Relationship{{With: "selka", Trust: -1}})
	if r, _ := s.Relation("selka", ""); r.Trust != 0.6 {
		t.Errorf("SeedRelations overwrote a known relation: %+v", r)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestRetrieveOrder: recency, importance and relevance each decide when
// the others are equal, and ties fall back to the newest.
func TestRetrieveOrder(t *testing.T) {
	s := New(Config{HalfLife: time.Hour})
	add := func(at time.Duration, imp int, text string, ents ...string) {
		s.Add(Entry{Time: t0.Add(at), Importance: imp, Text: text, Entities: ents, Kind: Observation})
	}
	add(0, 3, "Aren asked about the bridge.", "p1")    // 1
	add(time.Hour, 3, "Pip lost a cat near the well.") // 2
	add(time.Hour, 9, "A wolf attacked the mill.")     // 3
	add(2*time.Hour, 3, "Selka sang at the inn.")      // 4
	add(2*time.Hour, 3, "Selka sang at the inn again.")
	tests := []struct {
		q    Query
		want []uint64
	}{
		{Query{Now: t0.Add(2 * time.Hour)}, []uint64{3, 5, 4, 2, 1}},
		{Query{Now: t0.Add(2 * time.Hour), Text: "Where is my cat?"}, []uint64{2, 3, 5, 4, 1}},
		{Query{Now: t0.Add(2 * time.Hour), Entities: []string{"p1"}}, []uint64{1, 3, 5, 4, 2}},
		{Query{Now: t0.Add(100 * time.Hour), Text: "bridge"}, []uint64{1, 3, 5, 4, 2}},
	}
	for _, tt := range tests {
		var got []uint64
		for _, sc := range s.Retrieve(tt.q, 10) {
			got = append(got, sc.Seq)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Retrieve(%+v) = %v; want %v", tt.q, got, tt.want)
		}
	}
	// The digest is chronological and sticky.
	q := Query{Now: t0.Add(2 * time.Hour), Text: "cat"}
	d1 := s.Digest(q, 2)
	if want := []string{"Pip lost a cat near the well.", "A wolf attacked the mill."}; !slices.Equal(d1, want) {
		t.Errorf("Digest = %q; want %q", d1, want)
	}
	add(2*time.Hour, 5, "Brannoc fixed a hinge.")
	if top := s.Retrieve(q, 2); top[1].Text != "Brannoc fixed a hinge." {
		t.Fatalf("Retrieve(cat)[1] = %q; want the new memory to edge out the wolf", top[1].Text)
	}
	if d2 := s.Digest(q, 2); !slices.Equal(d2, d1) {
		t.Errorf("Digest after a slightly better memory = %q; want it unchanged %q", d2, d1)
	}
}

func TestKoreanRelevance(t *testing.T) {
	s := New(Config{})
	s.Add(Entry{Time: t0, Importance: 3, Text: "순이가 대장간에 다녀갔다."})
	s.Add(Entry{Time: t0, Importance: 3, Text: "비가 왔다."})
	got := s.Retrieve(Query{Now: t0, Text: "대장간 어디 있어?"}, 1)
	if got[0].Seq != 1 {
		t.Errorf("Retrieve(대장간) = %q; want the forge memory", got[0].Text)
	}
}

// TestCompactionBound: whatever happens, a stream stays within its cap, and
// repeated low-importance events are folded into counted summaries.
func TestCompactionBound(t *testing.T) {
	s := New(Config{Cap: 64, KeepRecent: 8})
	r := rand.New(rand.NewPCG(1, 2))
	kinds := []string{perception.Gift, perception.Speech, perception.Appeared, perception.Left, perception.Sound}
	for i := range 5000 {
		kind := kinds[r.IntN(len(kinds))]
		if r.IntN(200) == 0 {
			kind = perception.Attacked // important: never folded
		}
		e := ev(kind, fmt.Sprintf("p%d", r.IntN(4)), "", time.Duration(i)*time.Second)
		e.Item, e.Text = "iron ore", "hello"
		s.Observe(e, "en")
		if s.Len() > 64 {
			t.Fatalf("after %d events, Len = %d; want ≤ 64", i+1, s.Len())
		}
	}
	var summaries int
	for _, e := range s.Entries() {
		if e.Kind == Summary {
			summaries++
			if e.Count < 2 || !strings.Contains(e.Text, "(") {
				t.Errorf("summary %+v lacks a count", e)
			}
		}
	}
	if summaries == 0 {
		t.Error("no summaries after 5000 events")
	}
	// A plain case, word for word.
	s = New(Config{Cap: 8, KeepRecent: 2})
	for i := range 9 {
		e := ev(perception.Gift, "p1", "Aren", time.Duration(i)*time.Minute)
		e.Item = "iron ore"
		if i == 8 {
			e.Kind, e.Item = perception.Attacked, ""
		}
		s.Observe(e, "en")
	}
	var texts []string
	for _, e := range s.Entries() {
		texts = append(texts, e.Text)
	}
	want := []string{"Aren gave you iron ore (7 times).", "Aren gave you iron ore.", "Aren attacked you."}
	if !slices.Equal(texts, want) {
		t.Errorf("after compaction: %q; want %q", texts, want)
	}
}

func openStore(t testing.TB, path string) *Store {
	t.Helper()
	st, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRestart: what Save acknowledged is there after the store is closed
// and reopened, compaction included.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mem.db")
	st := openStore(t, path)
	s := New(Config{Cap: 16, KeepRecent: 4})
	for i := range 40 {
		e := ev(perception.Gift, "p1", "Aren", time.Duration(i)*time.Minute)
		e.Item = []string{"ore", "bread"}[i%2]
		s.Observe(e, "en")
		if i%7 == 0 {
			if err := st.Save(ctx, "oakvale", "brannoc", s.TakeChanges()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Save(ctx, "oakvale", "brannoc", s.TakeChanges()); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, path)
	defer st.Close()
	got, err := st.Load("oakvale", "brannoc", Config{Cap: 16, KeepRecent: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Entries(), s.Entries()) {
		t.Errorf("after reopen:\n%v\nwant\n%v", got.Entries(), s.Entries())
	}
	if !reflect.DeepEqual(got.Relations(), s.Relations()) || got.next != s.next {
		t.Errorf("after reopen relations %v next %d; want %v next %d", got.Relations(), got.next, s.Relations(), s.next)
	}
	// The reloaded stream goes on numbering where it left off.
	if e := got.Add(Entry{Time: t0, Importance: 2, Text: "x"}); e.Seq != s.next {
		t.Errorf("next Seq after reload = %d; want %d", e.Seq, s.next)
	}
	for _, ids := range [][2]string{{"oak\x00vale", "brannoc"}, {"oakvale", ""}, {"oakvale", strings.Repeat("n", MaxIDBytes+1)}} {
		if _, err := st.Load(ids[0], ids[1], Config{}); err == nil {
			t.Errorf("Load(%q, %q) = nil error; want a bad id", ids[0], ids[1])
		}
		if err := st.Save(ctx, ids[0], ids[1], Changes{Next: 2, Delete: []uint64{1}}); err == nil {
			t.Errorf("Save(%q, %q) = nil error; want a bad id", ids[0], ids[1])
		}
	}
	if err := st.Delete(ctx, "oakvale", "brannoc"); err != nil {
		t.Fatal(err)
	}
	if s, err := st.Load("oakvale", "brannoc", Config{}); err != nil || s.Len() != 0 {
		t.Errorf("Load after Delete = %d entries, %v; want none", s.Len(), err)
	}
	other, err := st.Load("oakvale", "selka", Config{})
	if err != nil || other.Len() != 0 {
		t.Errorf("Load(unknown NPC) = %v, %v; want an empty stream", other.Len(), err)
	}
}

// TestCorruptRecord: a damaged record fails that NPC's load only.
func TestCorruptRecord(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "mem.db"))
	defer st.Close()
	for _, n := range []string{"a", "b"} {
		s := New(Config{})
		s.Observe(ev(perception.Gift, "p1", "Aren", 0), "en")
		if err := st.Save(ctx, "w", n, s.TakeChanges()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(rootBucket).Bucket(npcKey("w", "a")).Bucket(entriesBucket).Put(seqKey(1), []byte("{garbage"))
	}); err != nil {
		t.Fatal(err)
	}
	_, err := st.Load("w", "a", Config{})
	var ce *CorruptError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.NPC != "a" || ce.Record != "entry 1" {
		t.Errorf("Load(corrupt) = %v; want a CorruptError for a, entry 1", err)
	}
	if s, err := st.Load("w", "b", Config{}); err != nil || s.Len() != 1 {
		t.Errorf("Load(b) = %v; want b's one memory", err)
	}
}

// TestStoreConcurrent: many NPCs save at once (run with -race).
func TestStoreConcurrent(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "mem.db"))
	defer st.Close()
	var wg sync.WaitGroup
	streams := make([]*Stream, 6)
	for n := range streams {
		streams[n] = New(Config{Cap: 16, KeepRecent: 4})
		wg.Add(1)
		go func() { // exits after its 30 saves
			defer wg.Done()
			s := streams[n]
			for i := range 30 {
				s.Observe(ev(perception.Gift, "p1", "Aren", time.Duration(i)*time.Second), "en")
				if err := st.Save(ctx, "w", fmt.Sprint(n), s.TakeChanges()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for n, s := range streams {
		got, err := st.Load("w", fmt.Sprint(n), Config{Cap: 16, KeepRecent: 4})
		if err != nil || !reflect.DeepEqual(got.Entries(), s.Entries()) {
			t.Errorf("NPC %d: Load = %v; entries differ", n, err)
		}
	}
}

func TestSaidDidWording(t *testing.T) {
	s := New(Config{})
	tests := []struct {
		got  Entry
		want string
	}{
		{s.Said(t0, "p1", "Aren", "Two silver.", "en"), `You told Aren: "Two silver."`},
		{s.Said(t0, "", "", "Hm.", "en"), `You said: "Hm."`},
		{s.Said(t0, "p1", "순이", "이리 와.", "ko"), `순이에게 한 말: "이리 와."`},
		{s.Did(t0, "go_to", "l1", "The Rusty Anchor", "", "en"), "You chose to go to The Rusty Anchor."},
		{s.Did(t0, "give", "p1", "Aren", "bread", "en"), "You chose to give Aren (bread)."},
		{s.Did(t0, "trade", "p1", "순이", "", "ko"), "행동: trade → 순이."},
	}
	for _, tt := range tests {
		if tt.got.Text != tt.want {
			t.Errorf("text = %q; want %q", tt.got.Text, tt.want)
		}
	}
}

func TestQueryAndLabels(t *testing.T) {
	st := npc.Stimulus{
		Seen:   []npc.Entity{{ID: "p1", Name: "Aren", Kind: "player"}, {ID: "p2", Kind: "player", Relation: "stranger"}, {ID: "c1", Kind: "creature"}},
		Heard:  []npc.Utterance{{From: "p1", Text: "Where is my cat?"}},
		Events: []npc.Event{{Kind: "gift", Actor: "p3", Item: &npc.Item{ID: "i1", Name: "iron ore"}}},
	}
	q := QueryFor(t0, st)
	for _, w := range []string{"cat", "Aren", "iron ore"} {
		if !strings.Contains(q.Text, w) {
			t.Errorf("QueryFor text %q lacks %q", q.Text, w)
		}
	}
	if want := []string{"p1", "p3", "p2", "c1"}; !slices.Equal(q.Entities, want) {
		t.Errorf("QueryFor entities = %v; want %v", q.Entities, want)
	}
	s := New(Config{})
	s.SeedRelations([]persona.Relationship{{Kind: "creature", Trust: -0.6, Affinity: -0.5}})
	s.Nudge("p1", "player", 0.5, 0.6)
	s.LabelSeen(&st, "en")
	var got []string
	for _, e := range st.Seen {
		got = append(got, e.Relation)
	}
	if want := []string{"friend", "stranger", "hostile"}; !slices.Equal(got, want) {
		t.Errorf("LabelSeen relations = %q; want %q", got, want)
	}
}

// FuzzLoadRecord: whatever bytes a stored record holds, Load returns a
// stream within bounds or a CorruptError; it never panics.
func FuzzLoadRecord(f *testing.F) {
	st := openStore(f, filepath.Join(f.TempDir(), "mem.db"))
	f.Cleanup(func() { st.Close() })
	st.db.NoSync = true // a fuzz iteration needs no durability
	f.Add([]byte(`{"seq":1,"time":"2026-01-01T12:00:00Z","kind":1,"imp":6,"text":"Aren gave you ore."}`), []byte(`{"v":1,"next":2}`), []byte(`{"trust":0.5,"affinity":2}`))
	f.Add([]byte(`{"seq":1,"kind":9,"imp":0}`), []byte(`{"v":1,"next":1}`), []byte(`nope`))
	f.Add([]byte(`{"seq":1,"kind":1,"imp":3,"ents":["a","b","c","d","e","f","g","h","i"]}`), []byte(`{"v":2}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, entry, meta, rel []byte) {
		if err := st.db.Update(func(tx *bolt.Tx) error {
			root := tx.Bucket(rootBucket)
			_ = root.DeleteBucket(npcKey("w", "f"))
			b, err := root.CreateBucket(npcKey("w", "f"))
			if err != nil {
				return err
			}
			eb, _ := b.CreateBucket(entriesBucket)
			rb, _ := b.CreateBucket(relationsBucket)
			if err := eb.Put(seqKey(1), entry); err != nil {
				return err
			}
			if err := rb.Put([]byte("p1"), rel); err != nil {
				return err
			}
			return b.Put(metaKey, meta)
		}); err != nil {
			t.Fatal(err)
		}
		s, err := st.Load("w", "f", Config{})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Load = %v; want a CorruptError", err)
			}
			return
		}
		for _, e := range s.Entries() {
			if e.Importance < 1 || e.Importance > 10 || len(e.Text) > MaxTextBytes {
				t.Fatalf("loaded entry out of bounds: %+v", e)
			}
		}
		for _, r := range s.Relations() {
			if r.Trust < -1 || r.Trust > 1 || r.Affinity < -1 || r.Affinity > 1 {
				t.Fatalf("loaded relation out of bounds: %+v", r)
			}
		}
	})
}
