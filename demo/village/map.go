// Package village is the demo game's world without its window: the tile map
// of Oakvale, paths on it, the player and the NPCs, how the game carries out
// an act, what each NPC perceives, and the script format that drives the
// game headless. Nothing here draws or reads the keyboard, so all of it is
// tested without a display; package demo puts it on screen.
package village

import (
	"fmt"
	"strings"

	"github.com/anima-rt/anima/npc/persona"
)

// Tile is one cell of the map.
type Tile uint8

// The tiles. Walkable ones are those a person can stand on.
const (
	Grass Tile = iota
	Path
	Plaza
	Water
	Bridge
	Tree
	Wall // a building's walls and roof
	Door
	Field
	WellTile
	TownWall
)

// Walkable reports whether a person may stand on t.
func (t Tile) Walkable() bool {
	switch t {
	case Grass, Path, Plaza, Bridge, Door, Field:
		return true
	}
	return false
}

// Map size in tiles.
const (
	Width  = 48
	Height = 32
)

// Point is a tile position.
type Point struct{ X, Y int }

func (p Point) String() string { return fmt.Sprintf("(%d,%d)", p.X, p.Y) }

// Place is a named location of the map: a building, the square, the gate.
type Place struct {
	ID    string // the world file's id ("l1"), or the game's own for places the lore lacks
	Name  string // "The Rusty Anchor"
	Kind  string // inn, forge, market, mill, healer, gate, woods, well, farm, chapel
	Rect  Rect   // the footprint drawn for it (a building's walls)
	Spot  Point  // the walkable tile where one stands to be "at" it
	Label Point  // where its name is drawn
}

// Rect is a rectangle of tiles, X..X+W-1 by Y..Y+H-1.
type Rect struct{ X, Y, W, H int }

// Map is the village: tiles and named places.
type Map struct {
	Tiles  [Height][Width]Tile
	Places []Place
	Korean bool // the world's language is Korean: NPCs hear the time in Korean
}

// At returns the tile at p; outside the map is a wall.
func (m *Map) At(p Point) Tile {
	if p.X < 0 || p.Y < 0 || p.X >= Width || p.Y >= Height {
		return TownWall
	}
	return m.Tiles[p.Y][p.X]
}

func (m *Map) fill(r Rect, t Tile) {
	for y := r.Y; y < r.Y+r.H; y++ {
		for x := r.X; x < r.X+r.W; x++ {
			m.Tiles[y][x] = t
		}
	}
}

// road draws a path from a to b, first along x then along y, leaving water
// crossings as bridges and doors as they are.
func (m *Map) road(a, b Point) {
	step := func(p Point) {
		switch m.Tiles[p.Y][p.X] {
		case Water:
			m.Tiles[p.Y][p.X] = Bridge
		case Grass, Tree, Field:
			m.Tiles[p.Y][p.X] = Path
		}
	}
	p := a
	for p.X != b.X {
		step(p)
		p.X += sign(b.X - p.X)
	}
	for p.Y != b.Y {
		step(p)
		p.Y += sign(b.Y - p.Y)
	}
	step(p)
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// layout is logically constant: where each kind of place stands on the
// map, and the tile in front of its door. The world file names the places;
// the game decides where they are.
var layout = map[string]struct {
	rect Rect
	spot Point
	tile Tile
}{
	"gate":   {Rect{21, 0, 6, 1}, Point{23, 1}, Path},
	"forge":  {Rect{13, 3, 6, 4}, Point{16, 7}, Wall},
	"market": {Rect{18, 12, 12, 7}, Point{23, 15}, Plaza},
	"well":   {Rect{31, 14, 2, 2}, Point{31, 16}, WellTile},
	"inn":    {Rect{35, 11, 8, 6}, Point{36, 17}, Wall},
	"mill":   {Rect{8, 18, 6, 4}, Point{11, 22}, Wall},
	"healer": {Rect{41, 3, 5, 4}, Point{43, 7}, Wall},
	"woods":  {Rect{0, 26, Width, 6}, Point{23, 27}, Tree},
	"chapel": {Rect{33, 3, 6, 4}, Point{35, 7}, Wall},
	"farm":   {Rect{1, 15, 6, 7}, Point{5, 16}, Field},
}

// kindWords is logically constant: the first word of a Korean world's
// place notes, and the kind of building the game draws for it.
var kindWords = map[string]string{"주막": "inn", "대장간": "forge", "장터": "market", "나루터": "mill",
	"관아": "gate", "우물": "well", "숲": "woods", "밭": "farm", "healer's house": "healer"}

// kindOf reads a place's kind from its world note ("inn, east of the
// square" → "inn"; "주막, 장터 동쪽" → "inn").
func kindOf(note string) string {
	k, _, _ := strings.Cut(note, ",")
	k = strings.TrimSpace(strings.ToLower(k))
	if w, ok := kindWords[k]; ok {
		return w
	}
	return k
}

// Build lays out the village for world w: each of its places whose kind
// the game knows gets its building, plus the chapel and the barley fields
// the lore mentions in passing. Places of unknown kinds are left out, and
// named in the returned list so the caller can say so.
func Build(w *persona.World) (*Map, []string) {
	m := &Map{}
	// Town wall along the north edge, the river across the south with the
	// woods beyond it.
	m.fill(Rect{0, 0, Width, 1}, TownWall)
	m.fill(Rect{0, 23, Width, 2}, Water)
	var skipped []string
	var places []Place
	add := func(id, name, kind string) {
		l, ok := layout[kind]
		if !ok {
			skipped = append(skipped, name)
			return
		}
		if kind != "farm" && kind != "woods" && kind != "market" {
			m.fill(l.rect, l.tile)
		}
		label := Point{l.rect.X, l.rect.Y}
		places = append(places, Place{ID: id, Name: name, Kind: kind, Rect: l.rect, Spot: l.spot, Label: label})
	}
	for _, p := range w.Places {
		add(p.ID, p.Name, kindOf(p.Note))
	}
	have := func(kind string) bool {
		for _, p := range places {
			if p.Kind == kind {
				return true
			}
		}
		return false
	}
	korean := w.Language == persona.Korean
	m.Korean = korean
	if !have("chapel") {
		add("chapel", pick(korean, "서낭당", "the chapel"), "chapel")
	}
	if !have("farm") {
		add("fields", pick(korean, "보리밭", "the barley fields"), "farm")
	}
	// Ground cover first, then buildings over it, then roads between doors.
	for _, p := range places {
		switch p.Kind {
		case "woods":
			m.fill(p.Rect, Tree)
		case "farm":
			m.fill(p.Rect, Field)
		case "market":
			m.fill(p.Rect, Plaza)
		}
	}
	for _, p := range places {
		if p.Kind == "gate" {
			m.fill(p.Rect, Path)
		}
	}
	centre := layout["market"].spot
	for _, p := range places {
		if p.Kind == "woods" {
			// The bridge: straight south from the square over the river.
			m.road(Point{23, 18}, Point{23, 27})
			m.road(Point{22, 18}, Point{22, 27})
			continue
		}
		m.road(p.Spot, centre)
		if l := layout[p.Kind]; l.tile == Wall {
			// The door is the wall tile just above the spot.
			m.Tiles[p.Spot.Y-1][p.Spot.X] = Door
		}
	}
	// A few trees for shade, where nothing else stands.
	for _, t := range []Point{{3, 4}, {5, 7}, {8, 3}, {28, 5}, {30, 9}, {45, 20}, {40, 21}, {16, 21}, {2, 11}, {44, 12}} {
		if m.Tiles[t.Y][t.X] == Grass {
			m.Tiles[t.Y][t.X] = Tree
		}
	}
	m.Places = places
	return m, skipped
}

func pick(ko bool, korean, english string) string {
	if ko {
		return korean
	}
	return english
}

// Place finds a place by id ("l1"), by name ("the Ember Forge", any case,
// with or without "the"), or by kind ("forge"); ok is false if none matches.
func (m *Map) Place(ref string) (Place, bool) {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		return strings.TrimPrefix(s, "the ")
	}
	r := norm(ref)
	if r == "" {
		return Place{}, false
	}
	for _, p := range m.Places {
		if p.ID == ref || norm(p.Name) == r || p.Kind == r {
			return p, true
		}
	}
	return Place{}, false
}

// PlaceAt returns the place whose footprint or spot holds p, if any.
func (m *Map) PlaceAt(p Point) (Place, bool) {
	for _, pl := range m.Places {
		r := pl.Rect
		if pl.Spot == p || p.X >= r.X && p.X < r.X+r.W && p.Y >= r.Y && p.Y < r.Y+r.H {
			return pl, true
		}
	}
	return Place{}, false
}

// FindPath returns the tiles from from (excluded) to to (included) along
// walkable tiles, 4-connected, shortest first found by breadth-first search;
// nil if to cannot be reached. The map is small (1,536 tiles), so BFS costs
// well under a millisecond and needs no heuristic.
func (m *Map) FindPath(from, to Point) []Point {
	if from == to {
		return []Point{}
	}
	if !m.At(to).Walkable() {
		return nil
	}
	var prev [Height][Width]Point
	var seen [Height][Width]bool
	queue := []Point{from}
	seen[from.Y][from.X] = true
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, d := range [4]Point{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
			n := Point{p.X + d.X, p.Y + d.Y}
			if !m.At(n).Walkable() || seen[n.Y][n.X] {
				continue
			}
			seen[n.Y][n.X] = true
			prev[n.Y][n.X] = p
			if n == to {
				var path []Point
				for c := to; c != from; c = prev[c.Y][c.X] {
					path = append(path, c)
				}
				for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
					path[i], path[j] = path[j], path[i]
				}
				return path
			}
			queue = append(queue, n)
		}
	}
	return nil
}

// Nearest returns the walkable tile closest to p (p itself if walkable),
// searching outward; ok is false on a map with no walkable tile.
func (m *Map) Nearest(p Point) (Point, bool) {
	for r := 0; r < Width+Height; r++ {
		for dy := -r; dy <= r; dy++ {
			for dx := -r; dx <= r; dx++ {
				if max(abs(dx), abs(dy)) != r {
					continue
				}
				q := Point{p.X + dx, p.Y + dy}
				if m.At(q).Walkable() {
					return q, true
				}
			}
		}
	}
	return Point{}, false
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
