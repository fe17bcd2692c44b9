package main

import (
	"context"
	"errors"
)

// runTrees is a placeholder until its issue lands; it says so rather than
// pretending to work.
func runTrees(ctx context.Context, args []string) error {
	return errors.New("not implemented yet")
}
