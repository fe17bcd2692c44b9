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

// personaFiles holds assets/personas/: one JSON file per persona of the demo
// villages (see package npc/persona for the format). Logically constant.
//
//go:embed personas
var personaFiles embed.FS

// Personas returns the files of assets/personas/, rooted there.
func Personas() fs.FS {
	sub, err := fs.Sub(personaFiles, "personas")
	if err != nil {
		panic("assets: " + err.Error()) // "personas" is a constant, valid path
	}
	return sub
}

// worldFiles holds assets/worlds/: one JSON lore file per world (see package
// npc/persona). Logically constant.
//
//go:embed worlds
var worldFiles embed.FS

// Worlds returns the files of assets/worlds/, rooted there.
func Worlds() fs.FS {
	sub, err := fs.Sub(worldFiles, "worlds")
	if err != nil {
		panic("assets: " + err.Error()) // "worlds" is a constant, valid path
	}
	return sub
}

// treeFiles holds assets/trees/: the behaviour trees (BehaviorTree.CPP v4
// XML) of the demo roles and the Action_<name> subtree of each catalog
// action. Logically constant.
//
//go:embed trees
var treeFiles embed.FS

// Trees returns the files of assets/trees/, rooted there, for
// behavior.Library.AddFS.
func Trees() fs.FS {
	sub, err := fs.Sub(treeFiles, "trees")
	if err != nil {
		panic("assets: " + err.Error()) // "trees" is a constant, valid path
	}
	return sub
}
