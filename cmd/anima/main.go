// Command anima is Anima's one binary: the server, the model tools, the
// benchmark and load tools, each a subcommand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: it parses its own flags from args and runs until
// done or until ctx is cancelled (SIGINT/SIGTERM).
type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

// commands is logically constant: the subcommands and what they do.
var commands = map[string]command{
	"serve":    {"run the websocket server on the embedded model", runServe},
	"chat":     {"talk to one NPC from the terminal (chat -persona NAME [-say TEXT])", runChat},
	"generate": {"stream a completion from a GGUF model", runGenerate},
	"inspect":  {"print a GGUF file's keys and tensors", runInspect},
	"bench":    {"measure prefill and decode speed of a GGUF model", runBench},
	"trees":    {"validate behaviour tree files (trees check FILE...)", runTrees},
	"corpus":   {"generate the synthetic NPC training corpus", runCorpus},
	"train":    {"build the embedded model: tokenizer, token file, GGUF export", runTrain},
	"load":     {"load-test a server with simulated NPCs over many connections", runLoad},
	"eval":     {"evaluate a model on the corpus's held-out split", runEval},
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: anima <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'anima <command> -h' for a command's flags.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "help" || os.Args[1] == "--help" {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "anima: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "anima %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
