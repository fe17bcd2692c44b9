package persona

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/anima-rt/anima/npc"
	"github.com/anima-rt/anima/protocol"
)

// Limits on a world file.
const (
	MaxWorldFileBytes = 64 << 10
	MaxLoreBytes      = protocol.MaxLoreBytes
	MaxPlaces         = 64
	MaxPlaceIDBytes   = 16
	// MaxFiles bounds the files one directory may hold, so that a folder
	// full of junk is an error, not a memory spike.
	MaxFiles = 1024
)

// World is a validated world lore file: what every NPC of the world knows.
type World struct {
	ID       string  `json:"id"`       // file stem, e.g. "oakvale"
	Name     string  `json:"name"`     // e.g. "Oakvale"
	Language string  `json:"language"` // English or Korean
	Lore     string  `json:"lore"`     // prose
	Places   []Place `json:"places"`
}

// Place is a named location NPCs may go to or point at.
type Place struct {
	ID   string `json:"id"`   // short id the model writes, e.g. "l1"
	Name string `json:"name"` // e.g. "The Rusty Anchor"
	Note string `json:"note"` // e.g. "inn, east of the square"
}

// ParseWorld reads and validates one world file; file names it in errors
// and its stem is the world's id. Every error is a *FieldError.
func ParseWorld(file string, data []byte) (*World, error) {
	bad := func(field, format string, args ...any) error {
		return &FieldError{File: file, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxWorldFileBytes {
		return nil, bad("", "%d bytes exceeds the limit of %d", len(data), MaxWorldFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w World
	if err := dec.Decode(&w); err != nil {
		return nil, bad("", "%v", err)
	}
	if dec.More() {
		return nil, bad("", "trailing data after the world object")
	}
	id := stem(file)
	switch {
	case w.ID != "" && w.ID != id:
		return nil, bad("id", "%q disagrees with the file name (want %q)", w.ID, id)
	case !idRE.MatchString(id):
		return nil, bad("id", "file stem %q is not a lower snake case id of at most 32 bytes", id)
	}
	w.ID = id
	if err := line("name", w.Name, MaxNameBytes, true); err != nil {
		return nil, bad("name", "%v", err)
	}
	switch w.Language {
	case English, Korean:
	case "":
		return nil, bad("language", `missing (want "en" or "ko")`)
	default:
		return nil, bad("language", `%q is not supported (want "en" or "ko")`, w.Language)
	}
	if err := text("lore", w.Lore, MaxLoreBytes, true); err != nil {
		return nil, bad("lore", "%v", err)
	}
	if len(w.Places) > MaxPlaces {
		return nil, bad("places", "%d places exceeds the limit of %d", len(w.Places), MaxPlaces)
	}
	ids := map[string]int{}
	for i, p := range w.Places {
		f := fmt.Sprintf("places[%d]", i)
		if p.ID == "" || len(p.ID) > MaxPlaceIDBytes || strings.ContainsFunc(p.ID, notIDRune) {
			return nil, bad(f+".id", "%q is not a short id (letters, digits, '_', at most %d bytes)", p.ID, MaxPlaceIDBytes)
		}
		if j, dup := ids[p.ID]; dup {
			return nil, bad(f+".id", "%q repeats places[%d]", p.ID, j)
		}
		ids[p.ID] = i
		if err := line("name", p.Name, MaxNameBytes, true); err != nil {
			return nil, bad(f+".name", "%v", err)
		}
		if err := line("note", p.Note, MaxNameBytes, false); err != nil {
			return nil, bad(f+".note", "%v", err)
		}
	}
	return &w, nil
}

func notIDRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
}

// Prompt converts w to the renderer's lore input.
func (w *World) Prompt() npc.Lore {
	l := npc.Lore{Name: w.Name, Text: w.Lore}
	for _, p := range w.Places {
		l.Places = append(l.Places, npc.Place{ID: p.ID, Name: p.Name, Note: p.Note})
	}
	return l
}

// WorldFromMessage builds a world from a protocol world message. base, when
// not nil, is the world file of the same id: the message's lore replaces
// base's text and base keeps its name, language and places. Without a base
// the world has no name or places (the lore text says it all) and its
// language is Korean when the lore has Hangul, else English.
func WorldFromMessage(m *protocol.World, base *World) (*World, error) {
	bad := func(field, format string, args ...any) error {
		return &FieldError{File: "world", Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if err := text("lore", m.Lore, MaxLoreBytes, true); err != nil {
		return nil, bad("lore", "%v", err)
	}
	if base != nil {
		w := *base
		w.Lore = m.Lore
		return &w, nil
	}
	if !utf8.ValidString(m.WorldID) {
		return nil, bad("world_id", "not valid UTF-8")
	}
	w := &World{ID: m.WorldID, Language: English, Lore: m.Lore}
	if hasHangul(m.Lore) {
		w.Language = Korean
	}
	return w, nil
}

// Set is the personas and worlds of a folder pair, cross-checked.
type Set struct {
	Personas map[string]*Persona // by id
	Worlds   map[string]*World   // by id
}

// PersonaIDs returns the persona ids, sorted.
func (s *Set) PersonaIDs() []string {
	ids := make([]string, 0, len(s.Personas))
	for id := range s.Personas {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// LoadFS reads every *.json file at the root of personas and of worlds
// (either may be nil), validates each, and cross-checks them: a
// relationship must name a persona of the set, a persona's world must be a
// world of the set, and a persona must speak its world's language. All
// problems are reported, joined, each naming its file and field.
func LoadFS(personas, worlds fs.FS, k Known) (*Set, error) {
	s := &Set{Personas: map[string]*Persona{}, Worlds: map[string]*World{}}
	var errs []error
	if worlds != nil {
		errs = append(errs, eachFile(worlds, func(name string, data []byte) error {
			w, err := ParseWorld(name, data)
			if err == nil {
				s.Worlds[w.ID] = w
			}
			return err
		})...)
	}
	if personas != nil {
		errs = append(errs, eachFile(personas, func(name string, data []byte) error {
			p, err := Parse(name, data, k)
			if err == nil {
				s.Personas[p.ID] = p
			}
			return err
		})...)
	}
	for _, id := range s.PersonaIDs() {
		p := s.Personas[id]
		file := id + ".json"
		for i, r := range p.Relationships {
			if r.With != "" && s.Personas[r.With] == nil {
				errs = append(errs, &FieldError{File: file, Field: fmt.Sprintf("relationships[%d].with", i),
					Msg: fmt.Sprintf("%q is not a persona of this set", r.With)})
			}
		}
		if p.World == "" || worlds == nil {
			continue
		}
		switch w := s.Worlds[p.World]; {
		case w == nil:
			errs = append(errs, &FieldError{File: file, Field: "world", Msg: fmt.Sprintf("%q is not a known world", p.World)})
		case w.Language != p.Language:
			errs = append(errs, &FieldError{File: file, Field: "language",
				Msg: fmt.Sprintf("%q contradicts world %q, which is %q", p.Language, w.ID, w.Language)})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// eachFile calls fn with each *.json file at fsys's root, in name order,
// and collects fn's errors.
func eachFile(fsys fs.FS, fn func(name string, data []byte) error) []error {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return []error{fmt.Errorf("persona: list: %w", err)}
	}
	if len(names) > MaxFiles {
		return []error{fmt.Errorf("persona: list: %d files exceeds the limit of %d", len(names), MaxFiles)}
	}
	var errs []error
	for _, name := range names {
		data, err := readLimited(fsys, name, max(MaxFileBytes, MaxWorldFileBytes))
		if err == nil {
			err = fn(path.Base(name), data)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// readLimited reads at most limit+1 bytes of name, so that an oversized
// file is reported by its parser without being read whole.
func readLimited(fsys fs.FS, name string, limit int) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("persona: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("persona: read %s: %w", name, err)
	}
	return data, nil
}

// Spawn builds the persona a spawn message asks for, looking its named
// persona up in the set (see FromSpawn).
func (s *Set) Spawn(id string, m *protocol.Spawn, k Known) (*Persona, error) {
	var base *Persona
	if m.Persona != "" {
		base = s.Personas[m.Persona]
		if base == nil {
			return nil, &FieldError{File: "spawn", Field: "persona",
				Msg: fmt.Sprintf("%q is not a known persona (known: %s)", m.Persona, strings.Join(s.PersonaIDs(), ", "))}
		}
	}
	return FromSpawn(id, m, base, k)
}
