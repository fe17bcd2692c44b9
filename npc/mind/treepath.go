package mind

import (
	"unicode/utf8"

	"github.com/anima-rt/anima/protocol"
)

// WatchPath makes f hear NPC ref's active behaviour-tree path, as the
// labels of its running nodes root first, after each tick that changed it
// and once after the next tick whatever it is (behavior.Instance.
// WatchActive); nil stops it. The path is bounded as protocol.TreePath
// wants it. f runs on the trees' tick goroutine with the NPC's tree
// locked: it must not block (an Outbox's Send does not), and the path is
// f's to keep. The server calls it for spawns that asked for tree_path.
func (h *Host) WatchPath(ref Ref, f func(path []string)) error {
	n, err := h.lookup(ref)
	if err != nil {
		return err
	}
	if f == nil {
		n.tree.WatchActive(nil)
		return nil
	}
	t := n.tree.Tree()
	n.tree.WatchActive(func(active []int) {
		path := make([]string, 0, min(len(active), protocol.MaxListItems))
		for i, node := range active {
			if i == protocol.MaxListItems-1 && len(active) > protocol.MaxListItems {
				path = append(path, "…")
				break
			}
			path = append(path, cutLabel(t.Node(node).Label(), protocol.MaxNameBytes))
		}
		f(path)
	})
	return nil
}

// cutLabel shortens s to at most max bytes without splitting a rune.
func cutLabel(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}
