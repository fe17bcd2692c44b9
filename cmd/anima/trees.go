package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/anima-rt/anima/behavior"
)

// runTrees is `anima trees check [-actions a,b] FILE...`: it loads each
// behaviour tree file (with its includes, read beside it), compiles every
// tree it defines, and prints each problem as file:line: message, or
// "FILE: OK". It fails if any file has problems.
func runTrees(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return errors.New("usage: anima trees check [-actions name,...] FILE...")
	}
	fs := flag.NewFlagSet("trees check", flag.ContinueOnError)
	actions := fs.String("actions", "", "comma-separated act names the game performs; an <Act> or declared action outside them is an error (default: any)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("trees check: no files given")
	}
	var known map[string]bool
	if *actions != "" {
		known = map[string]bool{}
		for _, a := range strings.Split(*actions, ",") {
			known[strings.TrimSpace(a)] = true
		}
	}
	bad := 0
	for _, f := range fs.Args() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !checkTreeFile(os.Stdout, f, known) {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("check: %d of %d files have errors", bad, fs.NArg())
	}
	return nil
}

// checkTreeFile checks one file, writing its problems (or OK) to w, and
// reports whether it is free of problems.
func checkTreeFile(w io.Writer, file string, known map[string]bool) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(w, "%s: %v\n", file, err)
		return false
	}
	lib := behavior.NewLibrary(behavior.Options{
		KnownActions: known,
		Include: func(from, path string) (string, []byte, error) {
			name := filepath.Join(filepath.Dir(from), path)
			if filepath.IsAbs(path) {
				name = path
			}
			b, err := os.ReadFile(name)
			return name, b, err
		},
	})
	var problems []string
	seen := map[string]bool{}
	report := func(err error) {
		var list behavior.ErrorList
		if !errors.As(err, &list) {
			list = behavior.ErrorList{{File: file, Msg: err.Error()}}
		}
		for _, e := range list {
			if s := e.Error(); !seen[s] {
				seen[s] = true
				problems = append(problems, s)
			}
		}
	}
	if err := lib.Add(file, data); err != nil {
		report(err)
	} else {
		for _, id := range lib.TreesIn(file) {
			if _, err := lib.Tree(id); err != nil {
				report(err)
			}
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(w, p)
		}
		return false
	}
	fmt.Fprintf(w, "%s: OK (%d trees)\n", file, len(lib.TreesIn(file)))
	return true
}
