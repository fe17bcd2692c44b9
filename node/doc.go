// Package node is one Anima node: the model, its engine, the NPC minds and
// their memory store, ready to hand to server.New. anima serve, anima chat,
// anima load and the demo game build their servers with it, so that every
// one of them runs the same minds on the same model.
//
//	d, err := node.LoadDecoder("", 0) // the embedded model, every core
//	m, err := node.OpenMinds(d, dataDir, mind.Config{Logger: log})
//	host, err := m.NPCHost(reg)
//	srv, err := server.New(server.Options{Host: host, Registry: reg, Model: d.Info()})
//	...
//	m.Close() // saves every NPC's memory
//	d.Close()
package node
