package mind

import (
	"context"
	"errors"
	"time"

	"github.com/anima-rt/anima/npc"
)

// Generator decodes one decision: the npc layer's whole view of a model.
// The adapter over *engine.Engine lives in cmd/anima (engineGenerator); a
// remote backend would be a second implementation.
type Generator interface {
	// Generate runs req, calling say (if not nil) on the calling goroutine
	// with each delta of req.StreamField's text as it is decoded. A
	// cancelled ctx or a passed Deadline ends it promptly with
	// Stats.Stopped set and a nil error: the text is then what was decoded
	// so far (unfinished JSON). Errors: ErrOverloaded when the generator
	// cannot queue the request, ErrTooLong when the prompt does not fit its
	// context, anything else for a failed generation.
	Generate(ctx context.Context, req Request, say func(delta string)) (Result, error)
}

// Request is one decision to decode.
type Request struct {
	// Segments is the rendered prompt (npc.RenderPrompt): its segments are
	// tokenized separately so that shared prefixes stay cached. Free text
	// in them is already sanitized, so the generator may parse ChatML
	// control-token strings in every segment.
	Segments npc.Segments
	// Schema is the JSON schema the output must follow (npc.DecisionSchema);
	// equal schemas are byte-equal, so generators may cache what they
	// compile from them.
	Schema      []byte
	StreamField string // the schema's string field streamed to say ("say")
	MaxTokens   int
	// Priority orders requests waiting for the decoder: player dialogue
	// (PriorityPlayer) outranks ambient thinking (PriorityAmbient).
	Priority    int
	Deadline    time.Time
	Temperature float32 // 0: greedy
	Seed        uint64
}

// Priorities of Request.
const (
	PriorityAmbient = 0
	PriorityPlayer  = 2
)

// Result is a finished generation: the output text and its figures.
type Result struct {
	Text string
	// Pieces are Text cut where the decoder's steps produced it (a sampled
	// token, a forced run of scaffolding), when the generator knows them.
	// A later prompt that repeats Text as segments cut at these pieces is
	// tokenized as it was generated, so the decoder finds it in its cache:
	// re-tokenizing the whole text would often split it otherwise.
	Pieces []string
	Stats  Stats
}

// Stats are one generation's figures, as the decision message reports them.
type Stats struct {
	PromptTokens    int
	ReusedTokens    int // prompt tokens found in the decoder's cache
	GeneratedTokens int
	TTFT            time.Duration // from the request to its first token
	Total           time.Duration // from the request to its last token
	// Stopped is set when cancellation or the deadline ended the
	// generation before its JSON was complete.
	Stopped bool
}

var (
	// ErrOverloaded is the generator refusing work it cannot queue; the NPC
	// goes on with its tree alone.
	ErrOverloaded = errors.New("mind: generator overloaded")
	// ErrTooLong is a prompt longer than the generator's context; the mind
	// retries once without the conversation so far.
	ErrTooLong = errors.New("mind: prompt too long for the context")
)
