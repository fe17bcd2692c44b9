package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/anima-rt/anima/inference/openai"
	"github.com/anima-rt/anima/node"
	"github.com/anima-rt/anima/server"
)

// openAIServer is anima serve's optional OpenAI-compatible endpoint
// (inference/openai): the same engine the NPC minds think on, served to any
// OpenAI client, and to other Anima nodes' remote engines, on a listener of
// its own.
type openAIServer struct {
	addr *string
	hs   *http.Server    // nil until start
	h    *openai.Handler // closed by stop
}

// addOpenAIFlags registers -openai on fs.
func addOpenAIFlags(fs *flag.FlagSet) *openAIServer {
	return &openAIServer{addr: fs.String("openai", "",
		"also serve the OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models) on this `addr`ess, sharing the NPCs' engine; "+
			"the websocket's API keys apply, and without keys only a loopback address is allowed (not with -standin)")}
}

// start serves the API on d's engine when -openai was given. Call stop
// before closing d.
func (o *openAIServer) start(d *node.Decoder, keys []string, log *slog.Logger) error {
	if *o.addr == "" {
		return nil
	}
	if len(keys) == 0 && !server.IsLoopback(*o.addr) {
		return fmt.Errorf("-openai: %w: set ANIMA_API_KEYS or api_keys in -config to listen on %s", server.ErrNotLoopback, *o.addr)
	}
	h, err := openai.New(openai.Config{
		Engine: d.Engine(), Vocab: d.Vocab(), Context: d.Context(), Model: d.Info().Name, APIKeys: keys, Logger: log,
		Grammars: d.Grammars(), // one compile per schema for the minds and the API
		// Below player dialogue (2), above NPCs' ambient thinking (0).
		Priority: 1,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *o.addr)
	if err != nil {
		return fmt.Errorf("-openai: %w", err)
	}
	o.h = h
	o.hs = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	// This goroutine exits when stop shuts the server down.
	go func() {
		if err := o.hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("openai endpoint stopped", "err", err)
		}
	}()
	log.Info("serving the OpenAI-compatible API", "addr", ln.Addr().String(), "model", d.Info().Name)
	return nil
}

// stop lets requests in flight finish (5 s at most), then closes the
// listener and its connections.
func (o *openAIServer) stop() {
	if o.hs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o.hs.Shutdown(ctx)
	o.h.Close()
}
