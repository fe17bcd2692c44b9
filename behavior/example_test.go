package behavior_test

import (
	"fmt"
	"time"

	"github.com/anima-rt/anima/behavior"
)

// game stands in for the server's side: it would send act and cancel to the
// game client and pass thoughts to the npc layer.
type game struct{}

func (game) Act(npc string, id uint64, name string, args []behavior.Arg) {
	fmt.Printf("%s: act #%d %s", npc, id, name)
	for _, a := range args {
		fmt.Printf(" %s=%s", a.Name, a.Value)
	}
	fmt.Println()
}

func (game) Cancel(npc string, id uint64, reason string) {
	fmt.Printf("%s: cancel #%d (%s)\n", npc, id, reason)
}

func (game) Think(npc string, reason string) { fmt.Printf("%s: think (%s)\n", npc, reason) }

func Example() {
	const file = `
<root BTCPP_format="4">
  <BehaviorTree ID="Villager">
    <ReactiveSequence>
      <ForceSuccess><Cooldown msec="10000"><Think/></Cooldown></ForceSuccess>
      <ReactiveFallback>
        <Follow _while="goal == 'follow'" _onSuccess="goal = ''"/>
        <Wander radius="4"/>
      </ReactiveFallback>
    </ReactiveSequence>
  </BehaviorTree>
</root>`
	tree, err := behavior.Load("villager.xml", []byte(file), behavior.Options{})
	if err != nil {
		fmt.Println(err) // file:line: message, for each problem
		return
	}
	npc := behavior.NewInstance(tree, "npc7", game{}, game{})
	now := time.Unix(0, 0)

	npc.Tick(now) // asks for a decision, wanders meanwhile

	// The decision arrives: follow the player.
	npc.Set("goal", behavior.String("follow"))
	npc.Set("target", behavior.String("player1"))
	now = now.Add(100 * time.Millisecond)
	npc.Tick(now)

	// The game reports the follow done; the goal is cleared.
	npc.Resolve(2, true)
	now = now.Add(100 * time.Millisecond)
	fmt.Println(npc.Tick(now))
	// Output:
	// npc7: think (routine)
	// npc7: act #1 wander radius=4
	// npc7: act #2 follow target=player1 distance=2
	// npc7: cancel #1 (aborted)
	// SUCCESS
}

// A Scheduler ticks many instances on a few workers; Run takes its clock
// as a channel, here a real ticker.
func ExampleScheduler() {
	s := behavior.NewScheduler(behavior.SchedulerConfig{Rate: 10, Workers: 2})
	// In a server:
	//   t := time.NewTicker(s.Interval()); defer t.Stop()
	//   go s.Run(ctx, t.C) // returns when ctx is cancelled
	fmt.Println(s.Interval())
	// Output:
	// 10ms
}
