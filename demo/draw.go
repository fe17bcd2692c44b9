package demo

import (
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/text/v2"
	"github.com/hajimehoshi/ebiten/v2/vector"

	"github.com/anima-rt/anima/demo/village"
)

// Colours of the village; all art is drawn here, by code.
var (
	cGrass    = color.RGBA{104, 166, 78, 255}
	cGrassDot = color.RGBA{88, 148, 66, 255}
	cPath     = color.RGBA{200, 170, 118, 255}
	cPlaza    = color.RGBA{174, 168, 156, 255}
	cPlazaJ   = color.RGBA{150, 144, 134, 255}
	cWater    = color.RGBA{62, 118, 196, 255}
	cWave     = color.RGBA{120, 170, 230, 255}
	cBridge   = color.RGBA{140, 98, 58, 255}
	cPlank    = color.RGBA{110, 74, 42, 255}
	cLeaf     = color.RGBA{46, 110, 52, 255}
	cLeafHi   = color.RGBA{70, 140, 70, 255}
	cTrunk    = color.RGBA{96, 64, 36, 255}
	cField    = color.RGBA{218, 192, 96, 255}
	cFurrow   = color.RGBA{190, 160, 70, 255}
	cStone    = color.RGBA{128, 124, 118, 255}
	cStoneJ   = color.RGBA{96, 92, 88, 255}
	cDoor     = color.RGBA{80, 50, 26, 255}
	cInk      = color.RGBA{24, 24, 28, 255}
	cPaper    = color.RGBA{252, 250, 240, 255}
	cShade    = color.RGBA{0, 0, 0, 150}
	cWhite    = color.RGBA{255, 255, 255, 255}
	cGold     = color.RGBA{255, 214, 90, 255}
)

// roofs is logically constant: each building kind's roof colour.
var roofs = map[string]color.RGBA{
	"inn":    {170, 62, 48, 255},
	"forge":  {70, 70, 78, 255},
	"mill":   {150, 110, 70, 255},
	"healer": {72, 130, 90, 255},
	"chapel": {200, 196, 186, 255},
}

// emotionColours is logically constant: the badge colour of each emotion
// of the catalog; others are grey.
var emotionColours = map[string]color.RGBA{
	"happy": {255, 200, 60, 255}, "grateful": {255, 170, 80, 255}, "amused": {250, 210, 90, 255},
	"friendly": {250, 200, 80, 255}, "interested": {120, 200, 240, 255}, "curious": {120, 200, 240, 255},
	"determined": {90, 160, 230, 255}, "proud": {180, 140, 240, 255}, "neutral": {200, 200, 200, 255},
	"sad": {110, 130, 200, 255}, "tired": {150, 150, 170, 255}, "surprised": {255, 240, 120, 255},
	"angry": {230, 60, 50, 255}, "disgusted": {140, 170, 60, 255}, "afraid": {190, 120, 230, 255},
	"wary": {240, 140, 60, 255},
}

func rect(dst *ebiten.Image, x, y, w, h float64, c color.Color) {
	vector.DrawFilledRect(dst, float32(x), float32(y), float32(w), float32(h), c, false)
}

func circle(dst *ebiten.Image, x, y, r float64, c color.Color) {
	vector.DrawFilledCircle(dst, float32(x), float32(y), float32(r), c, true)
}

func line(dst *ebiten.Image, x0, y0, x1, y1, width float64, c color.Color) {
	vector.StrokeLine(dst, float32(x0), float32(y0), float32(x1), float32(y1), float32(width), c, true)
}

func label(dst *ebiten.Image, s string, face text.Face, x, y float64, c color.Color) {
	op := &text.DrawOptions{}
	op.GeoM.Translate(x, y)
	op.ColorScale.ScaleWithColor(c)
	text.Draw(dst, s, face, op)
}

// noise is a cheap repeatable hash of a tile, for scattering details.
func noise(x, y, salt int) uint32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d,%d,%d", x, y, salt)
	return h.Sum32()
}

// drawGround paints the map once: tiles, buildings, signs.
func drawGround(m *village.Map, face text.Face) *ebiten.Image {
	img := ebiten.NewImage(ScreenW, ScreenH)
	for y := range village.Height {
		for x := range village.Width {
			px, py := float64(x*Tile), float64(y*Tile)
			t := m.Tiles[y][x]
			switch t {
			case village.Grass, village.Tree, village.WellTile, village.Wall, village.Door:
				rect(img, px, py, Tile, Tile, cGrass)
				if n := noise(x, y, 0); n%3 == 0 {
					rect(img, px+float64(n%17), py+float64(n/17%17), 2, 2, cGrassDot)
				}
			case village.Path:
				rect(img, px, py, Tile, Tile, cPath)
				if n := noise(x, y, 1); n%2 == 0 {
					rect(img, px+float64(n%16)+2, py+float64(n/16%16)+2, 2, 2, cFurrow)
				}
			case village.Plaza:
				rect(img, px, py, Tile, Tile, cPlaza)
				line(img, px, py, px+Tile, py, 1, cPlazaJ)
				off := float64((y % 2) * Tile / 2)
				line(img, px+off, py, px+off, py+Tile, 1, cPlazaJ)
			case village.Water:
				rect(img, px, py, Tile, Tile, cWater)
				wy := py + 6 + float64(noise(x, y, 2)%8)
				line(img, px+3, wy, px+11, wy, 1.5, cWave)
			case village.Bridge:
				rect(img, px, py, Tile, Tile, cBridge)
				for i := 0; i < Tile; i += 5 {
					line(img, px, py+float64(i), px+Tile, py+float64(i), 1, cPlank)
				}
			case village.Field:
				rect(img, px, py, Tile, Tile, cField)
				for i := 3; i < Tile; i += 6 {
					line(img, px, py+float64(i), px+Tile, py+float64(i), 1.5, cFurrow)
				}
			case village.TownWall:
				rect(img, px, py, Tile, Tile, cStone)
				line(img, px, py+Tile/2, px+Tile, py+Tile/2, 1, cStoneJ)
				line(img, px+float64(Tile/2*(x%2)), py, px+float64(Tile/2*(x%2)), py+Tile/2, 1, cStoneJ)
			}
		}
	}
	// Trees and the well stand on grass.
	for y := range village.Height {
		for x := range village.Width {
			cx, cy := float64(x*Tile+Tile/2), float64(y*Tile+Tile/2)
			if m.Tiles[y][x] == village.Tree {
				rect(img, cx-2, cy+2, 4, 8, cTrunk)
				circle(img, cx, cy-1, 9, cLeaf)
				circle(img, cx-3, cy-4, 4, cLeafHi)
			}
		}
	}
	for _, p := range m.Places {
		r := p.Rect
		x, y, w, h := float64(r.X*Tile), float64(r.Y*Tile), float64(r.W*Tile), float64(r.H*Tile)
		switch p.Kind {
		case "well":
			circle(img, x+w/2, y+h/2, w/2-2, cStone)
			circle(img, x+w/2, y+h/2, w/2-7, cWater)
		case "inn", "forge", "mill", "healer", "chapel":
			roof := roofs[p.Kind]
			dark := color.RGBA{roof.R * 3 / 4, roof.G * 3 / 4, roof.B * 3 / 4, 255}
			rect(img, x+3, y+5, w, h, color.RGBA{0, 0, 0, 60}) // shadow
			rect(img, x, y, w, h, roof)
			for i := 6.0; i < h; i += 6 {
				line(img, x, y+i, x+w, y+i, 1, dark)
			}
			line(img, x, y+h/2, x+w, y+h/2, 3, dark) // the ridge
			vector.StrokeRect(img, float32(x), float32(y), float32(w), float32(h), 2, dark, false)
			switch p.Kind {
			case "forge": // a chimney with an ember
				rect(img, x+w-14, y+4, 8, 10, cStoneJ)
				circle(img, x+w-10, y+4, 3, color.RGBA{255, 120, 40, 255})
			case "chapel": // a cross
				rect(img, x+w-14, y+4, 3, 12, cPlank)
				rect(img, x+w-17.5, y+8, 10, 3, cPlank)
			case "mill": // the water wheel
				circle(img, x+w-2, y+h+8, 9, cPlank)
				circle(img, x+w-2, y+h+8, 5, cBridge)
			}
		}
	}
	for y := range village.Height {
		for x := range village.Width {
			if m.Tiles[y][x] == village.Door {
				rect(img, float64(x*Tile+5), float64(y*Tile+6), Tile-10, Tile-6, cDoor)
			}
		}
	}
	for _, p := range m.Places {
		sign(img, p.Name, face, float64(p.Label.X*Tile)+2, float64(p.Label.Y*Tile)+2)
	}
	return img
}

// sign draws a place name on a dark plate.
func sign(dst *ebiten.Image, s string, face text.Face, x, y float64) {
	w, h := text.Measure(s, face, 0)
	if x+w+6 > ScreenW {
		x = ScreenW - w - 6
	}
	rect(dst, x, y, w+6, h+2, color.RGBA{30, 24, 18, 190})
	label(dst, s, face, x+3, y+1, cGold)
}

// Draw paints the frame from the world as it is; it changes nothing but the
// screen (and fills in a requested screenshot).
func (g *game) Draw(screen *ebiten.Image) {
	if g.rec != nil {
		defer g.rec.drew(time.Now(), g.w)
	}
	if g.ground != nil {
		screen.DrawImage(g.ground, nil)
	}
	people := append([]*village.Entity{g.w.Player}, g.w.NPCs...)
	for _, e := range people {
		g.drawPerson(screen, e)
	}
	g.drawAbove(screen, people)
	g.drawHUD(screen)
	if g.typing {
		g.drawTalkBox(screen)
	}
	if g.overlay {
		g.drawOverlay(screen)
	}
	if s := g.shotReq; s != nil && s.img == nil {
		img := image.NewRGBA(image.Rect(0, 0, ScreenW, ScreenH))
		screen.ReadPixels(img.Pix)
		s.img = img
	}
}

// personColour picks a stable tunic colour for an id.
func personColour(id string) color.RGBA {
	if id == village.PlayerID {
		return color.RGBA{40, 90, 220, 255}
	}
	h := noise(len(id), int(id[0]), int(id[len(id)-1]))
	palette := []color.RGBA{{196, 64, 64, 255}, {220, 140, 40, 255}, {150, 80, 180, 255},
		{60, 150, 150, 255}, {200, 90, 150, 255}, {110, 110, 40, 255}, {90, 60, 40, 255}, {230, 230, 230, 255}}
	return palette[h%uint32(len(palette))]
}

func screenPos(v village.Vec) (float64, float64) {
	return v.X*Tile + Tile/2, v.Y*Tile + Tile/2
}

// personPos is where e is drawn: its tile, bobbing as it walks.
func (g *game) personPos(e *village.Entity) (x, y float64) {
	x, y = screenPos(e.Pos)
	if len(e.Path) > 0 || e.Kind == "player" {
		y -= math.Abs(math.Sin(float64(g.ticks)/5)) * 1.5 * b2f(len(e.Path) > 0)
	}
	return x, y
}

// A person's sprite: its body's anti-aliased circles, drawn once. Drawn
// on the screen each frame instead, they cost most of a frame under a
// software renderer: ebiten draws anti-aliased shapes into a buffer twice
// the screen's size and resolves it at the next plain draw, once per
// person when labels come between.
const spriteW, spriteH, spriteX, spriteY = 18, 30, 9, 13 // size; the person's point in it

func drawSprite(e *village.Entity) *ebiten.Image {
	img := ebiten.NewImage(spriteW, spriteH)
	x, y := float64(spriteX), float64(spriteY)
	circle(img, x, y+8, 7, color.RGBA{0, 0, 0, 70})
	circle(img, x, y+2, 7, cInk)
	circle(img, x, y+2, 6, personColour(e.ID))
	circle(img, x, y-6, 5.5, cInk)
	circle(img, x, y-6, 4.5, color.RGBA{240, 200, 160, 255})
	if e.Kind == "player" {
		circle(img, x, y-9, 3, color.RGBA{90, 60, 30, 255})
	}
	return img
}

// drawPerson draws e's sprite, its name and what it is doing.
func (g *game) drawPerson(dst *ebiten.Image, e *village.Entity) {
	x, y := g.personPos(e)
	if s := g.sprites[e.ID]; s != nil {
		op := &ebiten.DrawImageOptions{}
		op.GeoM.Translate(math.Round(x)-spriteX, math.Round(y)-spriteY)
		dst.DrawImage(s, op)
	}
	name := e.Name
	w, _ := text.Measure(name, g.small, 0)
	rect(dst, x-w/2-2, y+10, w+4, 13, color.RGBA{0, 0, 0, 120})
	label(dst, name, g.small, x-w/2, y+10, cWhite)
	if e.Emote != "" {
		w, _ := text.Measure(e.Emote, g.small, 0)
		label(dst, e.Emote, g.small, x-w/2+1, y+25, cInk)
		label(dst, e.Emote, g.small, x-w/2, y+24, cGold)
	}
	if e.Health < 100 {
		rect(dst, x-8, y-15, 16, 2, color.RGBA{80, 0, 0, 255})
		rect(dst, x-8, y-15, 16*e.Health/100, 2, color.RGBA{230, 40, 40, 255})
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// bubble is a speech bubble laid out for one frame.
type bubble struct {
	lines          []string
	x, y, w, h     float64 // the box
	headX, headTop float64 // where its tail points
}

// drawAbove draws the emotion badges, then the speech bubbles, each bubble
// moved up above any it would cover, with a tail down to its speaker.
func (g *game) drawAbove(dst *ebiten.Image, people []*village.Entity) {
	const lh = 17.0
	var bubbles []bubble
	for _, e := range people {
		x, y := screenPos(e.Pos)
		top := y - 16
		if e.Emotion != "" {
			c, ok := emotionColours[e.Emotion]
			if !ok {
				c = color.RGBA{200, 200, 200, 255}
			}
			w, h := text.Measure(e.Emotion, g.small, 0)
			rect(dst, x-w/2-4, top-h-2, w+8, h+2, cInk)
			rect(dst, x-w/2-3, top-h-1, w+6, h, c)
			label(dst, e.Emotion, g.small, x-w/2, top-h-1, cInk)
			top -= h + 4
		}
		if e.Bubble == "" {
			continue
		}
		s := e.Bubble
		if e.WaitingFirst {
			s += "…"
		}
		lines := wrap(s, g.face, 240)
		if len(lines) > 5 {
			lines = append(lines[:4], lines[len(lines)-1])
		}
		b := bubble{lines: lines, headX: x, headTop: top}
		for _, l := range lines {
			w, _ := text.Measure(l, g.face, 0)
			b.w = max(b.w, w)
		}
		b.w += 14
		b.h = lh*float64(len(lines)) + 8
		b.x = math.Min(math.Max(x-b.w/2, 2), ScreenW-b.w-2)
		b.y = math.Max(top-b.h-6, 2)
		for moved := true; moved; {
			moved = false
			for _, o := range bubbles {
				if b.x < o.x+o.w+2 && o.x < b.x+b.w+2 && b.y < o.y+o.h+2 && o.y < b.y+b.h+2 && o.y-b.h-4 >= 2 {
					b.y, moved = o.y-b.h-4, true
				}
			}
		}
		bubbles = append(bubbles, b)
	}
	for _, b := range bubbles {
		line(dst, b.headX, b.headTop, math.Min(math.Max(b.headX, b.x+6), b.x+b.w-6), b.y+b.h, 2, cInk)
	}
	for _, b := range bubbles {
		rect(dst, b.x-1, b.y-1, b.w+2, b.h+2, cInk)
		rect(dst, b.x, b.y, b.w, b.h, cPaper)
		for i, l := range b.lines {
			label(dst, l, g.face, b.x+7, b.y+3+lh*float64(i), cInk)
		}
	}
}

// wrap breaks s into lines no wider than maxW, at spaces where it can.
func wrap(s string, face text.Face, maxW float64) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		try := word
		if cur != "" {
			try = cur + " " + word
		}
		if w, _ := text.Measure(try, face, 0); w <= maxW || cur == "" {
			cur = try
			continue
		}
		lines = append(lines, cur)
		cur = word
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

func (g *game) drawHUD(dst *ebiten.Image) {
	help := "WASD/arrows move · T talk · F attack · G give · R steal · Tab designer view"
	w, _ := text.Measure(help, g.small, 0)
	rect(dst, 0, ScreenH-18, ScreenW, 18, cShade)
	label(dst, help, g.small, 6, ScreenH-16, cWhite)
	status := fmt.Sprintf("%.0f fps · %s", ebiten.ActualFPS(), g.link.Model())
	if s := g.link.Status(); s != "" {
		status += " · " + s
	}
	sw, _ := text.Measure(status, g.small, 0)
	if sw+w+20 < ScreenW {
		label(dst, status, g.small, ScreenW-sw-6, ScreenH-16, cGold)
	}
	inv := "pockets: " + strings.Join(g.w.Player.Inventory, ", ")
	iw, _ := text.Measure(inv, g.small, 0)
	rect(dst, ScreenW-iw-10, 22, iw+8, 15, cShade)
	label(dst, inv, g.small, ScreenW-iw-6, 23, cWhite)

	// The log of recent happenings, bottom left, above the help line (and
	// above the talk box when it is open).
	base := ScreenH - 20
	if g.typing {
		base = ScreenH - 102
	}
	for i, l := range g.w.Log[max(0, len(g.w.Log)-4):] {
		n := len(g.w.Log[max(0, len(g.w.Log)-4):])
		y := float64(base - 15*(n-i))
		lw, _ := text.Measure(l, g.small, 0)
		rect(dst, 4, y, math.Min(lw+6, ScreenW-8), 14, cShade)
		label(dst, l, g.small, 7, y, cWhite)
	}
	if !g.typing {
		hint := ""
		if n := g.w.NearestNPC(); n != nil {
			hint = fmt.Sprintf("[T] talk to %s (%s)", n.Name, n.Role)
		}
		if g.notice != "" && g.ticks-g.noticeAt < 180 {
			hint = g.notice
		}
		if hint != "" {
			w, h := text.Measure(hint, g.face, 0)
			rect(dst, ScreenW/2-w/2-8, ScreenH-130, w+16, h+8, cShade)
			label(dst, hint, g.face, ScreenW/2-w/2, ScreenH-126, cWhite)
		}
	}
}

func (g *game) drawTalkBox(dst *ebiten.Image) {
	n := g.w.Entity(g.talkTo)
	if n == nil {
		return
	}
	bx, by, bw, bh := 120.0, float64(ScreenH-96), float64(ScreenW-240), 56.0
	rect(dst, bx-2, by-2, bw+4, bh+4, cInk)
	rect(dst, bx, by, bw, bh, cPaper)
	label(dst, "Say to "+n.Name+" (Enter sends, Esc closes):", g.small, bx+8, by+4, color.RGBA{90, 90, 90, 255})
	s := fitLeft(string(g.line), g.big, bw-30)
	label(dst, s, g.big, bx+8, by+22, cInk)
	if g.ticks/30%2 == 0 { // the cursor blinks twice a second
		w, _ := text.Measure(s, g.big, 0)
		rect(dst, bx+9+w, by+24, 2, 22, cInk)
	}
}

// drawOverlay is the designer's view: per NPC what the server told us.
func (g *game) drawOverlay(dst *ebiten.Image) {
	x0, y0, w := 10.0, 10.0, float64(ScreenW-20)
	rect(dst, x0, y0, w, ScreenH-40, color.RGBA{10, 12, 20, 215})
	label(dst, "Designer view (Tab closes)", g.face, x0+8, y0+4, cGold)
	y := y0 + 26
	for _, n := range g.w.NPCs {
		act := "—"
		if a := n.Action; a != nil {
			act = a.Name + " " + a.ID + " running"
		}
		ttft, model, reused, tree := "n/a", "n/a", "n/a", "n/a (the server sends none)"
		if n.TTFT > 0 {
			ttft = fmt.Sprintf("%.0f ms", float64(n.TTFT.Microseconds())/1000)
		}
		if n.ModelTTFT > 0 {
			model = fmt.Sprintf("%.0f ms", n.ModelTTFT)
		}
		if n.ReusedKnown {
			reused = fmt.Sprint(n.Reused)
		}
		if n.TreePath != "" {
			tree = n.TreePath
		}
		head := fmt.Sprintf("%s — %s · tree %s · action %s · first delta %s · model ttft %s · reused %s",
			n.Name, n.Role, n.Tree, act, ttft, model, reused)
		label(dst, head, g.small, x0+8, y, cWhite)
		y += 14
		label(dst, fitLeft("path "+tree, g.small, w-24), g.small, x0+16, y, color.RGBA{140, 190, 255, 255})
		y += 13
		dec := n.DecisionShown
		if dec == "" {
			dec = "(no decision yet)"
		}
		for i, l := range wrapRunes(dec, g.small, w-24) {
			if i == 2 {
				break
			}
			label(dst, l, g.small, x0+16, y, color.RGBA{150, 220, 150, 255})
			y += 13
		}
		y += 6
	}
}

// wrapRunes breaks s anywhere (JSON has few spaces) into lines of maxW,
// finding each cut by bisection so a long decision costs few measurements.
func wrapRunes(s string, face text.Face, maxW float64) []string {
	var lines []string
	for s != "" {
		lo, hi := 1, len(s) // s[:lo] fits or is one rune; s[:hi+1] does not
		if w, _ := text.Measure(s, face, 0); w <= maxW {
			lo = len(s)
		}
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if w, _ := text.Measure(s[:mid], face, 0); w <= maxW {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		for lo < len(s) && !utf8.RuneStart(s[lo]) {
			lo++
		}
		lines = append(lines, s[:lo])
		s = s[lo:]
	}
	return lines
}
