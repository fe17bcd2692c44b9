package main

import (
	"context"
	"errors"
)

// runGenerate is a placeholder until its issue lands; it says so rather than
// pretending to work.
func runGenerate(ctx context.Context, args []string) error {
	return errors.New("not implemented yet")
}
