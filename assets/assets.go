// Package assets embeds the data files Anima ships with, so that the binary
// works out of the box with no download.
package assets

import (
	"embed"
	"io/fs"
)

// catalogFiles holds assets/catalog/: the action catalog (actions.json) that
// the corpus generator, the schema builder and the behaviour trees share.
// It is logically constant: embedded at build time, never written.
//
//go:embed catalog
var catalogFiles embed.FS

// Catalog returns the files of assets/catalog/, rooted there
// (so "actions.json" names the action catalog).
func Catalog() fs.FS {
	sub, err := fs.Sub(catalogFiles, "catalog")
	if err != nil {
		// fs.Sub fails only on an invalid path; "catalog" is a constant.
		panic("assets: " + err.Error())
	}
	return sub
}
