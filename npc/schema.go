package npc

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/anima-rt/anima/npc/catalog"
)

// DecisionSchema builds the JSON Schema that constrains one decision
// (DESIGN.md, "The decision the model writes") for a call: the catalog's
// emotions; one variant per action the NPC may take now, each naming only
// targets and items that avail holds and that the action allows; and a say
// string of at most MaxSayRunes. actions limits the actions to a persona's
// list (nil: every catalog action). An action that needs a target or an item
// the situation lacks is left out, so every decision the constrained
// decoder can write passes Decision.Validate against the same avail.
//
// Keys are in the order Decision.MarshalJSON writes and the model was
// trained on, so the grammar forces the scaffolding between the choices.
func DecisionSchema(cat *catalog.Catalog, avail Targets, actions []string) ([]byte, error) {
	items := avail.Items()
	var variants []any
	for _, a := range cat.Actions {
		if actions != nil && !slices.Contains(actions, a.Name) {
			continue
		}
		props := map[string]any{"name": map[string]any{"const": a.Name}}
		order := []string{"name"}
		required := []string{"name"}
		if a.TakesTarget() {
			ids := avail.For(a)
			if len(ids) == 0 {
				continue
			}
			props["target"] = map[string]any{"enum": ids}
			order = append(order, "target")
			required = append(required, "target")
		}
		switch a.Item {
		case catalog.ItemRequired, catalog.ItemOptional:
			if len(items) == 0 {
				if a.Item == catalog.ItemRequired {
					continue
				}
				break
			}
			props["item"] = map[string]any{"enum": items}
			order = append(order, "item")
			if a.Item == catalog.ItemRequired {
				required = append(required, "item")
			}
		}
		variants = append(variants, orderedObject{props: props, order: order, required: required})
	}
	if len(variants) == 0 {
		return nil, errors.New("npc: decision schema: no action can be taken with what is available")
	}
	schema := orderedObject{
		props: map[string]any{
			"emotion": map[string]any{"enum": cat.Emotions},
			"action":  map[string]any{"anyOf": variants},
			"say":     map[string]any{"type": "string", "maxLength": MaxSayRunes},
		},
		order:    []string{"emotion", "action", "say"},
		required: []string{"emotion", "action", "say"},
	}
	b, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("npc: decision schema: %w", err)
	}
	return b, nil
}

// orderedObject is an object schema whose properties marshal in a given
// order: the grammar emits keys in the order the schema lists them, and Go
// maps marshal sorted.
type orderedObject struct {
	props    map[string]any
	order    []string
	required []string
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	b := []byte(`{"type":"object","properties":{`)
	for i, k := range o.order {
		if i > 0 {
			b = append(b, ',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.props[k])
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, kb...), ':'), vb...)
	}
	rb, _ := json.Marshal(o.required)
	b = append(b, `},"required":`...)
	b = append(b, rb...)
	b = append(b, `,"additionalProperties":false}`...)
	return b, nil
}
