package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/anima-rt/anima/inference/remote"
	"github.com/anima-rt/anima/node"
)

// remoteFlags are anima serve's flags for thinking on a remote
// OpenAI-compatible server instead of the local model (issue 10).
type remoteFlags struct {
	url, model, mode *string
	context          *int
	fallback         *bool
}

func addRemoteFlags(fs *flag.FlagSet) *remoteFlags {
	return &remoteFlags{
		url: fs.String("remote", "", "NPC minds think on this OpenAI-compatible `URL` (\"http://gpu-1:8000/v1\": vLLM, SGLang, llama.cpp's server, "+
			"another anima serve -openai) instead of the local model; its API key comes from ANIMA_REMOTE_KEY"),
		model:    fs.String("remote-model", "", "with -remote: the model name the server serves (required)"),
		mode:     fs.String("remote-mode", "chat", "with -remote: chat (/chat/completions, the server's chat template) or completion (/completions, Anima's ChatML prompt byte for byte)"),
		context:  fs.Int("remote-context", 32768, "with -remote: the server model's context in tokens"),
		fallback: fs.Bool("remote-fallback", false, "with -remote: also load the local model (-m or the embedded one) and think on it while the server cannot"),
	}
}

// decoder returns the decoder the minds think on: the local model, or with
// -remote the remote server (and, with -remote-fallback, the local model
// behind it).
func (r *remoteFlags) decoder(modelPath string, opt node.Options) (*node.Decoder, error) {
	if *r.url == "" {
		return node.LoadDecoderWith(modelPath, opt)
	}
	if *r.model == "" {
		return nil, fmt.Errorf("-remote needs -remote-model, the name of the model the server serves")
	}
	cfg := remote.Config{URL: *r.url, Model: *r.model, APIKey: os.Getenv("ANIMA_REMOTE_KEY")}
	switch *r.mode {
	case "chat":
		cfg.Mode = remote.Chat
	case "completion":
		cfg.Mode = remote.Completion
	default:
		return nil, fmt.Errorf("-remote-mode %q: want chat or completion", *r.mode)
	}
	var local *node.Decoder
	if *r.fallback {
		var err error
		if local, err = node.LoadDecoderWith(modelPath, opt); err != nil {
			return nil, fmt.Errorf("-remote-fallback: %w", err)
		}
	}
	d, err := node.RemoteDecoder(cfg, *r.context, local)
	if err != nil && local != nil {
		local.Close()
	}
	return d, err
}
