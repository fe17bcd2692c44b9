package main

import (
	"context"
	"errors"
)

// runServe is a placeholder until its issue lands; it says so rather than
// pretending to work.
func runServe(ctx context.Context, args []string) error {
	return errors.New("not implemented yet")
}
