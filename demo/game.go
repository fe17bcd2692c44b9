package demo

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/inpututil"
	"github.com/hajimehoshi/ebiten/v2/text/v2"

	"github.com/anima-rt/anima/demo/link"
	"github.com/anima-rt/anima/demo/village"
)

// Screen size in pixels: the whole map at Tile pixels a tile.
const (
	Tile         = 20
	ScreenW      = village.Width * Tile
	ScreenH      = village.Height * Tile
	tick         = time.Second / 60 // ebiten's default 60 updates a second
	maxLineRunes = 200
)

// fontTTF is NanumSquare Regular (SIL Open Font License 1.1, see
// assets/fonts/LICENSE-fonts-nanum.txt): Latin and all modern Hangul.
//
//go:embed assets/fonts/NanumSquareR.ttf
var fontTTF []byte

// game is the ebiten.Game. Update owns every field; Draw only reads them
// (the screenshot capture, handed over through shotReq, is the exception
// Draw fills in).
type game struct {
	stop   <-chan struct{} // closed when Run's ctx ends: the game ends too
	w      *village.World
	link   *link.Link
	runner *village.Runner
	opt    Options

	face, small, big *text.GoTextFace
	ground           *ebiten.Image            // the map, drawn once
	sprites          map[string]*ebiten.Image // each person's body by id, drawn once

	ticks    int
	overlay  bool
	typing   bool   // the talk box is open
	talkTo   string // NPC id the talk box speaks to
	line     []rune // the talk box's text
	chars    []rune // scratch for AppendInputChars
	notice   string // a one-line message at the bottom, fading
	noticeAt int

	shotReq   *shot // a screenshot for Draw to capture
	shots     sync.WaitGroup
	shotMu    sync.Mutex // guards shotErrs
	shotErrs  []error
	quitAfter bool  // quit once the pending screenshot is taken
	failed    error // the script failed; the game ends with it
	quit      bool

	rec *recorder // with Options.Stats: frame and reply timings
}

// shot is a pending screenshot: Draw fills img, Update writes it out.
type shot struct {
	file string
	img  *image.RGBA
}

func newGame(stop <-chan struct{}, w *village.World, l *link.Link, opt Options) (*game, error) {
	src, err := text.NewGoTextFaceSource(bytes.NewReader(fontTTF))
	if err != nil {
		return nil, fmt.Errorf("demo: font: %w", err)
	}
	g := &game{stop: stop, w: w, link: l, opt: opt,
		face:  &text.GoTextFace{Source: src, Size: 14},
		small: &text.GoTextFace{Source: src, Size: 11},
		big:   &text.GoTextFace{Source: src, Size: 18},
	}
	if opt.Script != nil {
		g.runner = village.NewRunner(opt.Script)
	}
	if opt.Stats {
		g.rec = newRecorder()
	}
	return g, nil
}

func (g *game) Layout(int, int) (int, int) { return ScreenW, ScreenH }

// Update runs one tick: server messages in, intents from keys and script,
// the world stepped, messages out. Nothing here waits.
func (g *game) Update() error {
	if g.rec != nil {
		defer g.rec.updated(time.Now(), g.w, g.ticks+1)
	}
	g.ticks++
	if g.ground == nil {
		g.ground = drawGround(g.w.Map, g.small)
		g.sprites = map[string]*ebiten.Image{g.w.Player.ID: drawSprite(g.w.Player)}
		for _, n := range g.w.NPCs {
			g.sprites[n.ID] = drawSprite(n)
		}
	}
	if g.shotReq != nil && g.shotReq.img != nil {
		g.saveShot(g.shotReq)
		g.shotReq = nil
		if g.quitAfter {
			g.quit = true
		}
	}
	select {
	case <-g.stop:
		return ebiten.Termination
	default:
	}
	if g.quit && g.shotReq == nil {
		return ebiten.Termination
	}
	g.link.Poll(g.w)

	intents := g.readKeys()
	if g.runner != nil && g.failed == nil {
		more, err := g.runner.Tick(g.w)
		intents = append(intents, more...)
		if err != nil {
			g.failed = err
			g.quit = true
		} else if g.runner.Done() && g.shotReq == nil && g.opt.Screenshot == "" {
			g.quit = true
		} else if g.runner.Done() && g.opt.Screenshot != "" && !g.quitAfter {
			g.shotReq, g.quitAfter = &shot{file: g.opt.Screenshot}, true
		}
	} else if g.runner == nil && g.opt.Screenshot != "" && !g.quitAfter && g.w.Now >= 3*time.Second {
		g.shotReq, g.quitAfter = &shot{file: g.opt.Screenshot}, true
	}
	for _, in := range intents {
		g.apply(in)
	}
	g.w.Step(tick)
	g.link.Flush(g.w)
	return nil
}

// readKeys turns this tick's key presses into intents. While the talk box
// is open every key types into it.
func (g *game) readKeys() []village.Intent {
	var in []village.Intent
	if g.typing {
		g.chars = ebiten.AppendInputChars(g.chars[:0])
		for _, r := range g.chars {
			if len(g.line) < maxLineRunes && r >= ' ' {
				g.line = append(g.line, r)
			}
		}
		if repeat(ebiten.KeyBackspace) && len(g.line) > 0 {
			g.line = g.line[:len(g.line)-1]
		}
		switch {
		case inpututil.IsKeyJustPressed(ebiten.KeyEnter) || inpututil.IsKeyJustPressed(ebiten.KeyNumpadEnter):
			in = append(in, village.Intent{Kind: "enter"})
		case inpututil.IsKeyJustPressed(ebiten.KeyEscape):
			in = append(in, village.Intent{Kind: "esc"})
		}
		return in
	}
	var dx, dy float64
	if ebiten.IsKeyPressed(ebiten.KeyA) || ebiten.IsKeyPressed(ebiten.KeyArrowLeft) {
		dx--
	}
	if ebiten.IsKeyPressed(ebiten.KeyD) || ebiten.IsKeyPressed(ebiten.KeyArrowRight) {
		dx++
	}
	if ebiten.IsKeyPressed(ebiten.KeyW) || ebiten.IsKeyPressed(ebiten.KeyArrowUp) {
		dy--
	}
	if ebiten.IsKeyPressed(ebiten.KeyS) || ebiten.IsKeyPressed(ebiten.KeyArrowDown) {
		dy++
	}
	if dx != 0 || dy != 0 {
		in = append(in, village.Intent{Kind: "move", DX: dx, DY: dy})
	}
	if inpututil.IsKeyJustPressed(ebiten.KeyT) || inpututil.IsKeyJustPressed(ebiten.KeyEnter) {
		in = append(in, village.Intent{Kind: "open_talk"})
	}
	for _, k := range []struct {
		key  ebiten.Key
		name string
	}{{ebiten.KeyF, "F"}, {ebiten.KeyG, "G"}, {ebiten.KeyR, "R"}, {ebiten.KeyTab, "Tab"}} {
		if inpututil.IsKeyJustPressed(k.key) {
			in = append(in, village.KeyIntent(k.name))
		}
	}
	return in
}

// repeat reports a key press and its auto-repeat while held.
func repeat(k ebiten.Key) bool {
	d := inpututil.KeyPressDuration(k)
	return d == 1 || d >= 30 && d%4 == 0
}

// apply carries out one intent.
func (g *game) apply(in village.Intent) {
	switch in.Kind {
	case "move":
		g.w.MovePlayer(in.DX, in.DY, tick)
	case "walk":
		if !g.w.WalkPlayerTo(in.To) {
			g.say(fmt.Sprintf("no way to %v", in.To))
		}
	case "open_talk":
		n := g.w.NearestNPC()
		if n == nil {
			g.say("walk up to someone to talk")
			return
		}
		// Drop the T that opened the box.
		g.typing, g.talkTo, g.line = true, n.ID, g.line[:0]
		g.chars = ebiten.AppendInputChars(g.chars[:0])
	case "talk":
		if err := g.w.Talk(in.NPC, in.Text); err != nil {
			g.say(err.Error())
		}
	case "type": // a script typing into the talk box, as a player would
		if n := g.w.Entity(in.NPC); n != nil {
			g.typing, g.talkTo, g.line = true, n.ID, []rune(in.Text)
		}
	case "enter":
		if g.typing {
			g.apply(village.Intent{Kind: "talk", NPC: g.talkTo, Text: string(g.line)})
			g.typing, g.line = false, g.line[:0]
		}
	case "esc":
		g.typing, g.line = false, g.line[:0]
	case "deed":
		what, err := g.w.Deed(in.Text)
		if err != nil {
			g.say(err.Error())
			return
		}
		g.say(what)
	case "overlay":
		g.overlay = !g.overlay
	case "screenshot":
		g.shotReq = &shot{file: in.File}
	case "quit":
		g.quit = true
	}
}

func (g *game) say(s string) { g.notice, g.noticeAt = s, g.ticks }

// saveShot writes s out on its own goroutine, so PNG encoding never holds
// up a frame; Run waits for it.
func (g *game) saveShot(s *shot) {
	g.shots.Add(1)
	// Exits when the file is written.
	go func() {
		defer g.shots.Done()
		var buf bytes.Buffer
		err := png.Encode(&buf, s.img)
		if err == nil {
			err = os.WriteFile(s.file, buf.Bytes(), 0o644)
		}
		if err != nil {
			g.shotMu.Lock()
			g.shotErrs = append(g.shotErrs, fmt.Errorf("demo: screenshot %s: %w", s.file, err))
			g.shotMu.Unlock()
		}
	}()
}

func (g *game) shotErr() error {
	g.shotMu.Lock()
	defer g.shotMu.Unlock()
	return errors.Join(g.shotErrs...)
}

func (g *game) report() *Report {
	r := &Report{Statuses: g.w.StatusesSent(), NPCs: map[string]NPCReport{}, Frames: g.ticks}
	for _, n := range g.w.NPCs {
		answered, decided := g.w.AnswerAction(n.ID)
		r.NPCs[n.ID] = NPCReport{Answered: answered, Decided: decided, ID: n.ID, Name: n.Name, Says: n.Says, Acts: n.Acts, Answers: n.Answers, Errors: n.Errors, LastError: n.LastError,
			Decision: n.LastDecision, LastAct: n.LastActID, LastSaid: n.LastSaid, Bubble: n.Bubble,
			TreePath: n.TreePath, PathChanges: n.PathChanges, Statuses: n.Statuses, Pursued: slices.Clone(n.Pursued)}
	}
	if g.rec != nil {
		r.Stats = g.rec.stats(g.w, g.ticks)
	}
	return r
}

// lineWidth is the talk box's text for display, trimmed from the left to fit.
func fitLeft(s string, face text.Face, maxW float64) string {
	for s != "" {
		if w, _ := text.Measure(s, face, 0); w <= maxW {
			return s
		}
		_, size := utf8.DecodeRuneInString(s)
		s = s[size:]
	}
	return s
}
