package main

import (
	"flag"
	"github.com/anima-rt/anima/node"
	"io"
	"strings"
	"testing"
)

// -remote names what is missing or wrong before anything is started.
func TestRemoteFlagsRefuseIncompleteSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-remote", "http://127.0.0.1:1/v1"}, "-remote-model"},
		{[]string{"-remote", "http://127.0.0.1:1/v1", "-remote-model", "m", "-remote-mode", "rpc"}, `-remote-mode "rpc"`},
		{[]string{"-remote", "http://127.0.0.1:1/v1", "-remote-model", "m", "-remote-context", "0"}, "context of 0 tokens"},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		rf := addRemoteFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		_, err := rf.decoder("", node.Options{Threads: 1})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v; want one naming %s", tc.args, err, tc.want)
		}
	}
}
