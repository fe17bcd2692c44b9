package main

import (
	"context"
	"errors"
)

// runCorpus is a placeholder until its issue lands; it says so rather than
// pretending to work.
func runCorpus(ctx context.Context, args []string) error {
	return errors.New("not implemented yet")
}
