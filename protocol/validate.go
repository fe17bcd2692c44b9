package protocol

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Limits of protocol v1 that every peer enforces. A server may advertise a
// smaller frame size in welcome; the rest are fixed by the protocol. Strings
// are counted in bytes of UTF-8.
const (
	// DefaultMaxFrameBytes is the largest frame a codec accepts unless told
	// otherwise; a world message with the longest lore fits in it.
	DefaultMaxFrameBytes = 64 << 10
	MaxIDBytes           = 64       // request, npc, entity, action, utterance ids, tokens
	MaxNameBytes         = 128      // names, kinds, relations, persona and tree names, statuses
	MaxTextBytes         = 2000     // spoken text, event text, reasons, error messages
	MaxLoreBytes         = 32 << 10 // world lore: a world message with it fits in DefaultMaxFrameBytes
	MaxDescriptionBytes  = 8 << 10  // an inline character's description
	MaxRawBytes          = 16 << 10 // decision.raw
	MaxEntities          = 64       // entities in one perceive
	MaxEvents            = 32       // events in one perceive
	MaxListItems         = 64       // inventory, goals, actions, versions
	MaxArgs              = 32       // keys in an Args map, at each level
	MaxArgsDepth         = 4        // nesting of arrays and objects inside Args
	MaxArgsValues        = 256      // values in one Args, counted through all levels
	MaxCoordinate        = 1e9      // |x|, |y|, |z| of a position
)

// checkString reports a bad_field error if s is longer than max bytes or is
// not valid UTF-8 (JSON cannot carry invalid UTF-8, so msgpack may not either).
func checkString(field, s string, max int) error {
	if len(s) > max {
		return fieldError(field, "%d bytes, more than the limit of %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return fieldError(field, "not valid UTF-8")
	}
	return nil
}

// required is checkString that also rejects the empty string.
func required(field, s string, max int) error {
	if s == "" {
		return fieldError(field, "required")
	}
	return checkString(field, s, max)
}

func checkList(field string, list []string, maxItems, maxBytes int) error {
	if len(list) > maxItems {
		return fieldError(field, "%d items, more than the limit of %d", len(list), maxItems)
	}
	for i, s := range list {
		// The item's name is built only for an error: perceptions are
		// validated 20,000 times a second, and building every name took
		// more time than the checks.
		if required("", s, maxBytes) != nil {
			return required(field+"."+strconv.Itoa(i), s, maxBytes)
		}
	}
	return nil
}

func checkNumber(field string, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fieldError(field, "not a finite number")
	}
	return nil
}

func checkVec(field string, v Vec) error {
	for _, c := range []struct {
		name string
		f    float64
	}{{"x", v.X}, {"y", v.Y}, {"z", v.Z}} {
		if math.IsNaN(c.f) || math.IsInf(c.f, 0) || math.Abs(c.f) > MaxCoordinate {
			return fieldError(field+"."+c.name, "%v is not a coordinate (finite, at most %g in magnitude)", c.f, MaxCoordinate)
		}
	}
	return nil
}

// first returns the first non-nil error.
func first(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkArgs checks an Args map: bounded keys, values, depth, and only JSON
// value types (Go numbers of any kind are accepted, as callers build Args in
// Go; decoders produce float64).
func checkArgs(field string, a Args) error {
	count := 0
	return checkObject(field, a, 0, &count)
}

func checkObject(field string, m map[string]any, depth int, count *int) error {
	if len(m) > MaxArgs {
		return fieldError(field, "%d keys, more than the limit of %d", len(m), MaxArgs)
	}
	for k, v := range m {
		if err := required(field+" key", k, MaxNameBytes); err != nil {
			return err
		}
		if err := checkValue(field+"."+k, v, depth, count); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(field string, v any, depth int, count *int) error {
	*count++
	if *count > MaxArgsValues {
		return fieldError(field, "more than %d values in all", MaxArgsValues)
	}
	switch v := v.(type) {
	case nil, bool:
		return nil
	case string:
		return checkString(field, v, MaxTextBytes)
	case float64:
		return checkNumber(field, v)
	case float32:
		return checkNumber(field, float64(v))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return nil
	case []any:
		if depth >= MaxArgsDepth {
			return fieldError(field, "nested more than %d deep", MaxArgsDepth)
		}
		if len(v) > MaxListItems {
			return fieldError(field, "%d items, more than the limit of %d", len(v), MaxListItems)
		}
		for i, e := range v {
			if err := checkValue(field+"."+strconv.Itoa(i), e, depth+1, count); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if depth >= MaxArgsDepth {
			return fieldError(field, "nested more than %d deep", MaxArgsDepth)
		}
		return checkObject(field, v, depth+1, count)
	case Args:
		if depth >= MaxArgsDepth {
			return fieldError(field, "nested more than %d deep", MaxArgsDepth)
		}
		return checkObject(field, v, depth+1, count)
	}
	return fieldError(field, "a %T is not a JSON value", v)
}

// Validate checks the envelope: a known type, the npc id where the type needs
// one, the ids' bounds, and the body's own Validate.
func (e *Envelope) Validate() error {
	info, ok := messages[e.Type]
	if !ok {
		if e.Type == "" {
			return fieldError("type", "required")
		}
		return &Error{Code: CodeUnknownType, Message: "unknown message type " + quote(e.Type)}
	}
	if err := checkString("id", e.ID, MaxIDBytes); err != nil {
		return err
	}
	if info.npc {
		if err := required("npc", e.NPC, MaxIDBytes); err != nil {
			return err
		}
	} else if err := checkString("npc", e.NPC, MaxIDBytes); err != nil {
		return err
	}
	if e.Body == nil {
		return fieldError("body", "required")
	}
	if e.Body.MessageType() != e.Type {
		return fieldError("body", "a %s body in a %s envelope", e.Body.MessageType(), e.Type)
	}
	if err := e.Body.Validate(); err != nil {
		if perr, ok := err.(*Error); ok && perr.Field != "" {
			// Report the path from the envelope down.
			return &Error{Code: perr.Code, Field: sendable("body."+perr.Field, MaxNameBytes),
				Message: sendable("body."+perr.Message, MaxTextBytes), err: perr.err}
		}
		return err
	}
	return nil
}

// Validate implements Message.
func (m *Hello) Validate() error {
	if len(m.Versions) == 0 {
		return fieldError("versions", "required")
	}
	if len(m.Versions) > MaxListItems {
		return fieldError("versions", "%d items, more than the limit of %d", len(m.Versions), MaxListItems)
	}
	return first(
		checkString("client", m.Client, MaxNameBytes),
		checkString("api_key", m.APIKey, MaxNameBytes),
		checkString("resume_token", m.ResumeToken, MaxIDBytes),
	)
}

// Validate implements Message.
func (m *World) Validate() error {
	return first(
		checkString("world_id", m.WorldID, MaxIDBytes),
		checkString("lore", m.Lore, MaxLoreBytes),
	)
}

// Validate implements Message.
func (m *Spawn) Validate() error {
	if m.Persona == "" && m.Character == nil {
		return fieldError("persona", "required unless character is given")
	}
	if err := first(
		checkString("persona", m.Persona, MaxNameBytes),
		checkString("tree", m.Tree, MaxNameBytes),
		checkArgs("blackboard", m.Blackboard),
		checkList("actions", m.Actions, MaxListItems, MaxNameBytes),
	); err != nil {
		return err
	}
	if c := m.Character; c != nil {
		return first(
			required("character.name", c.Name, MaxNameBytes),
			checkString("character.role", c.Role, MaxNameBytes),
			checkString("character.description", c.Description, MaxDescriptionBytes),
			checkString("character.style", c.Style, MaxTextBytes),
			checkList("character.goals", c.Goals, MaxListItems, MaxTextBytes),
		)
	}
	return nil
}

// Validate implements Message.
func (m *Despawn) Validate() error { return checkString("reason", m.Reason, MaxTextBytes) }

// Validate implements Message.
// entityOK is Perceive.Validate's check of one entity, without naming
// the field.
func entityOK(e *Entity) bool {
	return e.ID != "" && len(e.ID) <= MaxIDBytes && utf8.ValidString(e.ID) &&
		checkString("", e.Kind, MaxNameBytes) == nil && checkString("", e.Name, MaxNameBytes) == nil &&
		checkVec("", e.Position) == nil && checkString("", e.Relation, MaxNameBytes) == nil
}

// eventOK is Perceive.Validate's check of one event, without naming the
// field.
func eventOK(e *Event) bool {
	return e.Kind != "" && len(e.Kind) <= MaxNameBytes && utf8.ValidString(e.Kind) &&
		checkString("", e.Source, MaxIDBytes) == nil && checkString("", e.Target, MaxIDBytes) == nil &&
		checkString("", e.Text, MaxTextBytes) == nil && checkString("", e.Item, MaxNameBytes) == nil
}

func (m *Perceive) Validate() error {
	if len(m.Entities) > MaxEntities {
		return fieldError("entities", "%d entities, more than the limit of %d", len(m.Entities), MaxEntities)
	}
	if len(m.Events) > MaxEvents {
		return fieldError("events", "%d events, more than the limit of %d", len(m.Events), MaxEvents)
	}
	s := &m.Self
	if err := first(
		checkString("time", m.Time, MaxNameBytes),
		checkVec("self.position", s.Position),
		checkString("self.location", s.Location, MaxNameBytes),
		checkNumber("self.health", s.Health),
		checkString("self.status", s.Status, MaxNameBytes),
		checkList("self.inventory", s.Inventory, MaxListItems, MaxNameBytes),
	); err != nil {
		return err
	}
	for i := range m.Entities {
		e := &m.Entities[i]
		if entityOK(e) {
			continue // names only for the error, as in checkList
		}
		p := "entities." + strconv.Itoa(i)
		if err := first(
			required(p+".id", e.ID, MaxIDBytes),
			checkString(p+".kind", e.Kind, MaxNameBytes),
			checkString(p+".name", e.Name, MaxNameBytes),
			checkVec(p+".position", e.Position),
			checkString(p+".relation", e.Relation, MaxNameBytes),
		); err != nil {
			return err
		}
	}
	for i := range m.Events {
		e := &m.Events[i]
		if eventOK(e) {
			continue
		}
		p := "events." + strconv.Itoa(i)
		if err := first(
			required(p+".kind", e.Kind, MaxNameBytes),
			checkString(p+".source", e.Source, MaxIDBytes),
			checkString(p+".target", e.Target, MaxIDBytes),
			checkString(p+".text", e.Text, MaxTextBytes),
			checkString(p+".item", e.Item, MaxNameBytes),
		); err != nil {
			return err
		}
	}
	return nil
}

// Validate implements Message.
func (m *PlayerSay) Validate() error {
	return first(
		required("speaker", m.Speaker, MaxIDBytes),
		checkString("name", m.Name, MaxNameBytes),
		required("text", m.Text, MaxTextBytes),
	)
}

// Validate implements Message.
func (m *Interrupt) Validate() error { return checkString("reason", m.Reason, MaxTextBytes) }

// Validate implements Message.
func (m *ActionStatus) Validate() error {
	if err := required("action_id", m.ActionID, MaxIDBytes); err != nil {
		return err
	}
	switch m.Status {
	case StatusRunning, StatusSuccess, StatusFailure:
	case "":
		return fieldError("status", "required")
	default:
		return fieldError("status", "%s is not running, success or failure", quote(m.Status))
	}
	return checkString("reason", m.Reason, MaxTextBytes)
}

// Validate implements Message.
func (m *Ping) Validate() error { return nil }

// Validate implements Message.
func (m *Welcome) Validate() error {
	if m.Version <= 0 {
		return fieldError("version", "required")
	}
	return first(
		required("session_id", m.SessionID, MaxIDBytes),
		required("resume_token", m.ResumeToken, MaxIDBytes),
		checkString("server", m.Server, MaxNameBytes),
		checkString("model.name", m.Model.Name, MaxNameBytes),
		checkString("model.arch", m.Model.Arch, MaxNameBytes),
		checkString("model.backend", m.Model.Backend, MaxNameBytes),
		checkString("resume_error", m.ResumeError, MaxTextBytes),
	)
}

// Validate implements Message.
func (m *Spawned) Validate() error {
	return first(
		checkString("persona", m.Persona, MaxNameBytes),
		checkString("tree", m.Tree, MaxNameBytes),
		checkList("actions", m.Actions, MaxListItems, MaxNameBytes),
	)
}

// Validate implements Message.
func (m *Act) Validate() error {
	return first(
		required("action_id", m.ActionID, MaxIDBytes),
		required("name", m.Name, MaxNameBytes),
		checkArgs("args", m.Args),
	)
}

// Validate implements Message.
func (m *Cancel) Validate() error {
	return first(
		required("action_id", m.ActionID, MaxIDBytes),
		checkString("reason", m.Reason, MaxTextBytes),
	)
}

// Validate implements Message.
func (m *Say) Validate() error {
	return first(
		required("utterance_id", m.UtteranceID, MaxIDBytes),
		checkString("delta", m.Delta, MaxTextBytes),
		checkString("text", m.Text, MaxTextBytes),
	)
}

// Validate implements Message.
func (m *Decision) Validate() error {
	if err := first(
		checkString("emotion", m.Emotion, MaxNameBytes),
		checkString("action", m.Action, MaxNameBytes),
		checkString("target", m.Target, MaxIDBytes),
		checkArgs("args", m.Args),
		checkString("say", m.Say, MaxTextBytes),
		checkString("utterance_id", m.UtteranceID, MaxIDBytes),
		checkString("raw", m.Raw, MaxRawBytes),
	); err != nil {
		return err
	}
	if s := m.Stats; s != nil {
		return first(
			checkNumber("stats.ttft_ms", s.TTFTMS),
			checkNumber("stats.total_ms", s.TotalMS),
		)
	}
	return nil
}

// Validate implements Message.
func (m *TreePath) Validate() error {
	return checkList("path", m.Path, MaxListItems, MaxNameBytes)
}

// Validate implements Message.
func (m *Error) Validate() error {
	if m.Code == "" {
		return fieldError("code", "required")
	}
	return first(
		checkString("code", string(m.Code), MaxNameBytes),
		checkString("message", m.Message, MaxTextBytes),
		checkString("field", m.Field, MaxNameBytes),
	)
}

// Validate implements Message.
func (m *Pong) Validate() error { return nil }
