package demo

import (
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/anima-rt/anima/demo/village"
)

// Stats are the figures a run measured (Options.Stats): how long the
// player waited for each NPC's first word, and how long the game's own
// frames took while the NPCs thought. docs/DEMO.md reports them.
type Stats struct {
	Replies []ReplyStats `json:"replies"`
	// FirstWordMS is the time from the player's line (queued in an Update)
	// to its answer's first say delta in the world (applied in an Update);
	// ShownMS to the first Draw after that, when the bubble shows it.
	// ArrivedMS is to the delta's arrival in the game's process, before
	// it waited for an Update: the runtime's share, what a game drawing
	// 60 frames a second would show within 17 ms more.
	ArrivedMS   village.Dist `json:"arrived_ms"`
	FirstWordMS village.Dist `json:"first_word_ms"`
	ShownMS     village.Dist `json:"shown_ms"`
	// ModelTTFTMS is the model's own time to first token, as the answers'
	// decisions report it (the server's share of FirstWordMS).
	ModelTTFTMS village.Dist `json:"model_ttft_ms"`
	// UpdateMS and DrawMS are the durations of the game's Update and Draw
	// calls, all of them and those while an NPC's mind was at work
	// (village.World.Thinking: a player's line awaiting its answer, or
	// words streaming). Draw records drawing
	// commands; the GPU (or Xvfb's software renderer) runs them after it
	// returns, so FrameMS, the time between the starts of consecutive
	// Draws, is the frame time the player sees.
	UpdateMS         village.Dist `json:"update_ms"`
	UpdateThinkingMS village.Dist `json:"update_while_thinking_ms"`
	DrawMS           village.Dist `json:"draw_ms"`
	DrawThinkingMS   village.Dist `json:"draw_while_thinking_ms"`
	FrameMS          village.Dist `json:"frame_ms"`
	FrameThinkingMS  village.Dist `json:"frame_while_thinking_ms"`
	// TPS and FPS are ebiten's ActualTPS and ActualFPS (each over its last
	// second), sampled once a second (wall clock) from two seconds after
	// the first frame (which compiles the shaders: seconds under software
	// GL, and ebiten's figures over it mean nothing); the
	// _while_thinking ones at every Update while an NPC's mind was at work
	// (its thinking takes a fraction of a second: a sample a second would
	// seldom fall in it).
	TPS         village.Dist `json:"tps"`
	FPS         village.Dist `json:"fps"`
	TPSThinking village.Dist `json:"tps_while_thinking"`
	FPSThinking village.Dist `json:"fps_while_thinking"`
	// FirstUpdateMS is the first Update, left out of UpdateMS: it draws
	// the map's ground once, a cost of starting, not of playing.
	FirstUpdateMS float64 `json:"first_update_ms"`
	Updates       int     `json:"updates"`
	Draws         int     `json:"draws"`
	WallS         float64 `json:"wall_s"`
}

// ReplyStats is one answer to the player.
type ReplyStats struct {
	NPC          string  `json:"npc"`
	Line         string  `json:"line"`
	ArrivedMS    float64 `json:"arrived_ms,omitempty"`
	FirstWordMS  float64 `json:"first_word_ms,omitempty"` // 0: no words (yet)
	ShownMS      float64 `json:"shown_ms,omitempty"`
	ModelTTFTMS  float64 `json:"model_ttft_ms,omitempty"`
	PromptTokens int     `json:"prompt_tokens,omitempty"`
	ReusedTokens int     `json:"reused_tokens,omitempty"`
	Said         string  `json:"said,omitempty"`
}

// maxSamples bounds each recorded series: about an hour of frames.
const maxSamples = 1 << 18

// recorder collects the figures of Stats on the game goroutine: Update
// and Draw (ebiten calls both there) write to it; nothing else reads it
// until the game has ended. It is the one thing besides a screenshot that
// Draw writes.
type recorder struct {
	start                  time.Time
	update, updateThinking []time.Duration
	draw, drawThinking     []time.Duration
	frame, frameThinking   []time.Duration
	tps, fps, tpsT, fpsT   []float64
	lastDraw, lastSample   time.Time
	settled                time.Time             // two seconds after the first frame ended: TPS and FPS are sampled from then
	first                  time.Duration         // the first Update
	shown                  map[int]time.Duration // by index in World.Replies
	shownFrom              int                   // replies before it are all shown or ended wordless
	draws                  int
}

func newRecorder() *recorder {
	return &recorder{start: time.Now(), shown: map[int]time.Duration{}}
}

func push[T any](s []T, v T) []T {
	if len(s) < maxSamples {
		s = append(s, v)
	}
	return s
}

// updated records an Update that began at t0, the ticks'th, and samples
// TPS and FPS once a second.
func (r *recorder) updated(t0 time.Time, w *village.World, ticks int) {
	d := time.Since(t0)
	if ticks == 1 {
		r.first, r.lastSample = d, t0
		return
	}
	thinking := w.Thinking() > 0
	r.update = push(r.update, d)
	if thinking {
		r.updateThinking = push(r.updateThinking, d)
	}
	if r.settled.IsZero() || t0.Before(r.settled) {
		return
	}
	if thinking {
		r.tpsT, r.fpsT = push(r.tpsT, ebiten.ActualTPS()), push(r.fpsT, ebiten.ActualFPS())
	}
	if t0.Sub(r.lastSample) >= time.Second {
		r.lastSample = t0
		r.tps, r.fps = push(r.tps, ebiten.ActualTPS()), push(r.fps, ebiten.ActualFPS())
	}
}

// drew records a Draw that began at t0, and the first frame that shows
// each reply's first word.
func (r *recorder) drew(t0 time.Time, w *village.World) {
	r.draws++
	d := time.Since(t0)
	if r.draws == 2 { // the first frame ends as the second begins
		r.settled = t0.Add(2 * time.Second)
	}
	thinking := w.Thinking() > 0
	r.draw = push(r.draw, d)
	if thinking {
		r.drawThinking = push(r.drawThinking, d)
	}
	if !r.lastDraw.IsZero() {
		r.frame = push(r.frame, t0.Sub(r.lastDraw))
		if thinking {
			r.frameThinking = push(r.frameThinking, t0.Sub(r.lastDraw))
		}
	}
	r.lastDraw = t0
	for i := r.shownFrom; i < len(w.Replies); i++ {
		rep := &w.Replies[i]
		if _, done := r.shown[i]; !done && rep.FirstWord > 0 {
			r.shown[i] = t0.Sub(rep.Sent)
		}
		if _, done := r.shown[i]; (done || rep.Ended && rep.FirstWord == 0) && i == r.shownFrom {
			r.shownFrom++
		}
	}
}

// stats sums up the run.
func (r *recorder) stats(w *village.World, updates int) *Stats {
	s := &Stats{Updates: updates, Draws: r.draws, WallS: time.Since(r.start).Seconds(), FirstUpdateMS: ms(r.first)}
	var arrived, first, shown, model []float64
	for i, rep := range w.Replies {
		rs := ReplyStats{NPC: rep.NPC, Line: rep.Line, ModelTTFTMS: rep.ModelTTFTMS,
			PromptTokens: rep.PromptTokens, ReusedTokens: rep.ReusedTokens, Said: rep.Said}
		if rep.FirstWord > 0 {
			rs.ArrivedMS, rs.FirstWordMS = ms(rep.Arrived), ms(rep.FirstWord)
			arrived, first = append(arrived, rs.ArrivedMS), append(first, rs.FirstWordMS)
		}
		if d, ok := r.shown[i]; ok {
			rs.ShownMS = ms(d)
			shown = append(shown, rs.ShownMS)
		}
		if rep.Decided && !rep.Fallback && rep.ModelTTFTMS > 0 {
			model = append(model, rep.ModelTTFTMS)
		}
		s.Replies = append(s.Replies, rs)
	}
	s.ArrivedMS, s.FirstWordMS = village.Summarize(arrived), village.Summarize(first)
	s.ShownMS, s.ModelTTFTMS = village.Summarize(shown), village.Summarize(model)
	s.UpdateMS, s.UpdateThinkingMS = village.Summarize(village.Millis(r.update)), village.Summarize(village.Millis(r.updateThinking))
	s.DrawMS, s.DrawThinkingMS = village.Summarize(village.Millis(r.draw)), village.Summarize(village.Millis(r.drawThinking))
	s.FrameMS, s.FrameThinkingMS = village.Summarize(village.Millis(r.frame)), village.Summarize(village.Millis(r.frameThinking))
	s.TPS, s.FPS = village.Summarize(r.tps), village.Summarize(r.fps)
	s.TPSThinking, s.FPSThinking = village.Summarize(r.tpsT), village.Summarize(r.fpsT)
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
