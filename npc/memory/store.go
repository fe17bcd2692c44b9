package memory

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrCorrupt marks a stored NPC memory that cannot be read back; the
// *CorruptError wrapping it says which NPC and record.
var ErrCorrupt = errors.New("memory: corrupt record")

// CorruptError says which NPC's which record is unreadable. Only that NPC is
// affected; others load.
type CorruptError struct {
	World, NPC string
	Record     string // "meta", "entry 42", "relation p1"
	Err        error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("memory: load %s/%s: %s: %v", e.World, e.NPC, e.Record, e.Err)
}

func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// storeVersion is the layout of one NPC's record; bump it on change.
const storeVersion = 1

// MaxStoredEntries bounds the entries Load reads for one NPC, so a damaged
// or hostile file cannot make it allocate without bound.
const MaxStoredEntries = 1 << 16

var (
	rootBucket      = []byte("npc-memory")
	entriesBucket   = []byte("e")
	relationsBucket = []byte("r")
	metaKey         = []byte("meta")
)

type meta struct {
	Version int    `json:"v"`
	Next    uint64 `json:"next"`
}

// Store persists NPC memories in a bbolt file, keyed by world id and NPC id.
// It is safe for concurrent use by many NPCs' goroutines.
//
// Durability: Save returns only after the change is committed and fsynced
// (bbolt's default), so a change Save has acknowledged survives a crash or
// restart. Concurrent Saves are coalesced into one transaction and one
// fsync (bbolt's Batch), which is what keeps many NPCs' writes cheap.
type Store struct {
	db *bolt.DB
}

// Open opens or creates the store file at path. It waits at most timeout
// for another process's lock on the file (0: one second).
func Open(path string, timeout time.Duration) (*Store, error) {
	if timeout <= 0 {
		timeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("memory: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(rootBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("memory: open %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file; Saves after Close fail.
func (st *Store) Close() error {
	if err := st.db.Close(); err != nil {
		return fmt.Errorf("memory: close: %w", err)
	}
	return nil
}

// npcKey names one NPC's bucket; checkIDs keeps NUL out of both ids, so
// distinct (world, npc) pairs never share a key.
func npcKey(world, npc string) []byte { return []byte(world + "\x00" + npc) }

// MaxIDBytes bounds world and NPC ids (the protocol's are at most 64).
const MaxIDBytes = 256

func checkIDs(world, npc string) error {
	switch {
	case npc == "":
		return errors.New("empty NPC id")
	case len(world) > MaxIDBytes || len(npc) > MaxIDBytes:
		return fmt.Errorf("id longer than %d bytes", MaxIDBytes)
	case strings.ContainsRune(world, 0) || strings.ContainsRune(npc, 0):
		return errors.New("id contains NUL")
	}
	return nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// Save applies one stream's changes (from TakeChanges) durably. When it
// returns nil the changes are on disk. An empty change set costs nothing.
func (st *Store) Save(ctx context.Context, world, npc string, c Changes) error {
	if c.Empty() {
		return nil
	}
	if err := checkIDs(world, npc); err != nil {
		return fmt.Errorf("memory: save %q/%q: %w", world, npc, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: save %s/%s: %w", world, npc, err)
	}
	// Encode outside the transaction: Batch may run fn more than once, and
	// the transaction is shared with other NPCs' saves.
	type kv struct{ k, v []byte }
	var puts, rels []kv
	for _, e := range c.Put {
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("memory: save %s/%s: entry %d: %w", world, npc, e.Seq, err)
		}
		puts = append(puts, kv{seqKey(e.Seq), v})
	}
	for id, r := range c.Relations {
		v, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("memory: save %s/%s: relation %s: %w", world, npc, id, err)
		}
		rels = append(rels, kv{[]byte(id), v})
	}
	m, _ := json.Marshal(meta{Version: storeVersion, Next: c.Next})
	err := st.db.Batch(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(rootBucket).CreateBucketIfNotExists(npcKey(world, npc))
		if err != nil {
			return err
		}
		eb, err := b.CreateBucketIfNotExists(entriesBucket)
		if err != nil {
			return err
		}
		rb, err := b.CreateBucketIfNotExists(relationsBucket)
		if err != nil {
			return err
		}
		for _, seq := range c.Delete {
			if err := eb.Delete(seqKey(seq)); err != nil {
				return err
			}
		}
		for _, p := range puts {
			if err := eb.Put(p.k, p.v); err != nil {
				return err
			}
		}
		for _, id := range c.Forget {
			if err := rb.Delete([]byte(id)); err != nil {
				return err
			}
		}
		for _, p := range rels {
			if err := rb.Put(p.k, p.v); err != nil {
				return err
			}
		}
		return b.Put(metaKey, m)
	})
	if err != nil {
		return fmt.Errorf("memory: save %s/%s: %w", world, npc, err)
	}
	return nil
}

// Load returns the stream stored for (world, npc), or an empty one when
// nothing is stored. A record that cannot be read is a *CorruptError
// (errors.Is(err, ErrCorrupt)) for this NPC alone. A stream stored under a
// larger cap is compacted to cfg's; the compaction is among the changes the
// next Save writes.
func (st *Store) Load(world, npc string, cfg Config) (*Stream, error) {
	if err := checkIDs(world, npc); err != nil {
		return nil, fmt.Errorf("memory: load %q/%q: %w", world, npc, err)
	}
	s := New(cfg)
	err := st.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(rootBucket).Bucket(npcKey(world, npc))
		if b == nil {
			return nil
		}
		bad := func(rec string, err error) error {
			return &CorruptError{World: world, NPC: npc, Record: rec, Err: err}
		}
		var m meta
		if err := json.Unmarshal(b.Get(metaKey), &m); err != nil {
			return bad("meta", err)
		}
		if m.Version != storeVersion {
			return bad("meta", fmt.Errorf("version %d, want %d", m.Version, storeVersion))
		}
		s.next = m.Next
		eb, rb := b.Bucket(entriesBucket), b.Bucket(relationsBucket)
		if eb == nil || rb == nil {
			return bad("meta", errors.New("missing entries or relations bucket"))
		}
		cur := eb.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			if len(s.entries) == MaxStoredEntries {
				return bad("entries", fmt.Errorf("more than %d", MaxStoredEntries))
			}
			if len(k) != 8 {
				return bad(fmt.Sprintf("entry key %x", k), errors.New("not an 8-byte sequence number"))
			}
			seq := binary.BigEndian.Uint64(k)
			rec := fmt.Sprintf("entry %d", seq)
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return bad(rec, err)
			}
			switch {
			case e.Seq != seq:
				return bad(rec, fmt.Errorf("holds seq %d", e.Seq))
			case seq >= s.next:
				return bad(rec, fmt.Errorf("at or past the stream's next seq %d", s.next))
			case e.Importance < 1 || e.Importance > 10:
				return bad(rec, fmt.Errorf("importance %d outside 1…10", e.Importance))
			case e.Kind < Observation || e.Kind > Summary:
				return bad(rec, fmt.Errorf("unknown kind %d", e.Kind))
			case len(e.Text) > MaxTextBytes || len(e.Entities) > MaxEntities:
				return bad(rec, errors.New("text or entity list over its bound"))
			}
			e.tokens = terms(e.Text)
			s.entries = append(s.entries, e)
		}
		cur = rb.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			if len(s.rel) == MaxStoredEntries {
				return bad("relations", fmt.Errorf("more than %d", MaxStoredEntries))
			}
			var r Relation
			if err := json.Unmarshal(v, &r); err != nil {
				return bad("relation "+string(k), err)
			}
			s.rel[string(k)] = Relation{Trust: clamp1(r.Trust), Affinity: clamp1(r.Affinity)}
		}
		return nil
	})
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, fmt.Errorf("memory: load %s/%s: %w", world, npc, err)
	}
	if len(s.entries) > s.cfg.Cap {
		s.compact()
	}
	return s, nil
}

// Delete removes everything stored for (world, npc), durably.
func (st *Store) Delete(ctx context.Context, world, npc string) error {
	if err := checkIDs(world, npc); err != nil {
		return fmt.Errorf("memory: delete %q/%q: %w", world, npc, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: delete %s/%s: %w", world, npc, err)
	}
	err := st.db.Batch(func(tx *bolt.Tx) error {
		err := tx.Bucket(rootBucket).DeleteBucket(npcKey(world, npc))
		if errors.Is(err, bolt.ErrBucketNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("memory: delete %s/%s: %w", world, npc, err)
	}
	return nil
}
