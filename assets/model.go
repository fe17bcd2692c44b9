package assets

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
)

// ModelFile is the embedded default model's file name under assets/model/.
const ModelFile = "anima-npc-q8_0.gguf"

// modelFiles holds assets/model/: the embedded default model (a qwen3moe
// GGUF that `make model` trains and exports) and its model card. The
// pattern names the whole folder so that the package still builds in a
// checkout without the model (a fresh `make model`); Model says so then.
//
//go:embed model
var modelFiles embed.FS

// ErrNoModel reports a binary built without assets/model/anima-npc-q8_0.gguf.
var ErrNoModel = errors.New("assets: no embedded model (assets/model/" + ModelFile + " was absent at build time; run `make model`)")

// Model returns the embedded default model's GGUF bytes. They live in the
// binary's read-only data, so gguf.Parse views them without a copy; the
// caller must not modify them.
func Model() ([]byte, error) {
	b, err := fs.ReadFile(modelFiles, "model/"+ModelFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoModel
	}
	if err != nil {
		return nil, fmt.Errorf("assets: model: %w", err)
	}
	return b, nil
}
