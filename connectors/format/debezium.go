package format

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// The debezium-json format: Debezium's change events as JSON, read as a
// changelog, as Flink's 'debezium-json' format reads them.
//
// A record is an event {"before": {…}|null, "after": {…}|null, "op": "…",
// …} (other fields, such as "source" and "ts_ms", are ignored), or with
// 'debezium-json.schema-include' = 'true' the envelope {"schema": …,
// "payload": <event>} that Kafka Connect's JsonConverter writes with
// schemas enabled. The table's columns are read from the row images
// "before" and "after" by name, as the 'json' format reads an object:
//
//	op "c" (create) or "r" (snapshot read)  one +I row: after
//	op "u" (update)                         two rows: -U before, then +U after
//	op "d" (delete)                         one -D row: before
//
// An empty record or a JSON null (a Kafka tombstone, which Debezium sends
// after a delete) yields no row. A record with an unknown op, or without
// the image its op needs (an update without "before": the source table must
// log full row images, e.g. Postgres' REPLICA IDENTITY FULL) is malformed,
// and so skipped and counted with 'debezium-json.ignore-parse-errors'. An
// update is all or nothing: both rows or neither.
//
// Written by a sink, each row becomes one event, as Flink's format writes
// them: +I and +U as {"before":null,"after":{…},"op":"c"}, -U and -D as
// {"before":{…},"after":null,"op":"d"}.

// dbzEvent is what an event record holds: its op and the raw text of its
// row images (nil when absent or null).
type dbzEvent struct {
	op            []byte
	before, after []byte
	hasPayload    bool // a "payload" field, when schema-include is off
}

// decodeDebezium decodes one debezium-json record into zero, one or two
// rows, all or nothing.
func (d *Decoder) decodeDebezium(line []byte) error {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil // a tombstone
	}
	ev, err := d.dbzScan(line)
	if err != nil {
		return fmt.Errorf("debezium-json: %w", err)
	}
	if d.cfg.schemaInclude {
		if !ev.hasPayload {
			return fmt.Errorf("debezium-json: the record has no \"payload\" field ('%s' is 'true': records are {\"schema\": …, \"payload\": …})", KeyDebeziumSchemaInclude)
		}
	}
	if ev.op == nil {
		if ev.hasPayload && !d.cfg.schemaInclude {
			return fmt.Errorf("debezium-json: the record has no \"op\" field but a \"payload\": set '%s' = 'true' for records with a schema", KeyDebeziumSchemaInclude)
		}
		return fmt.Errorf("debezium-json: the record has no \"op\" field")
	}
	var first, second []byte
	var k1, k2 types.RowKind
	switch string(ev.op) {
	case "c", "r":
		if ev.after == nil {
			return fmt.Errorf("debezium-json: the \"after\" field of a %q event is null", ev.op)
		}
		first, k1 = ev.after, types.Insert
	case "u":
		if ev.before == nil {
			return fmt.Errorf("debezium-json: the \"before\" field of an update (\"u\") event is null: the source table must log full row images (e.g. Postgres' REPLICA IDENTITY FULL)")
		}
		if ev.after == nil {
			return fmt.Errorf("debezium-json: the \"after\" field of an update (\"u\") event is null")
		}
		first, k1, second, k2 = ev.before, types.UpdateBefore, ev.after, types.UpdateAfter
	case "d":
		if ev.before == nil {
			return fmt.Errorf("debezium-json: the \"before\" field of a delete (\"d\") event is null: the source table must log full row images (e.g. Postgres' REPLICA IDENTITY FULL)")
		}
		first, k1 = ev.before, types.Delete
	default:
		return fmt.Errorf("debezium-json: unknown \"op\" value %q: expected \"c\", \"r\", \"u\" or \"d\"", ev.op)
	}
	if err := d.dbzImage(first, d.slots, imageName(k1)); err != nil {
		return err
	}
	if second != nil {
		// The second image decodes into the other slots, so that the
		// first one survives until both are known to be good.
		d.slots, d.slots2 = d.slots2, d.slots
		err := d.dbzImage(second, d.slots, imageName(k2))
		d.slots, d.slots2 = d.slots2, d.slots
		if err != nil {
			return err
		}
	}
	d.appendRow(d.slots, first)
	d.kinds.Append(int8(k1))
	if second != nil {
		d.appendRow(d.slots2, second)
		d.kinds.Append(int8(k2))
	}
	if k1 != types.Insert {
		d.changes = true
	}
	return nil
}

func imageName(k types.RowKind) string {
	if k == types.Insert || k == types.UpdateAfter {
		return "after"
	}
	return "before"
}

// dbzImage decodes the row image raw (a JSON object) into slots and checks
// it.
func (d *Decoder) dbzImage(raw []byte, slots []slot, name string) error {
	for i := range slots {
		slots[i].state = slotMissing
	}
	if err := d.decodeJSON(raw); err != nil {
		return fmt.Errorf("debezium-json: %q: %w", name, err)
	}
	if err := d.checkRow(); err != nil {
		return fmt.Errorf("debezium-json: %q: %w", name, err)
	}
	return nil
}

// dbzScan finds the op and row images of the event in line (inside its
// "payload" with schema-include).
func (d *Decoder) dbzScan(line []byte) (dbzEvent, error) {
	var ev dbzEvent
	var payload []byte
	err := d.scanObject(line, func(key []byte) error {
		s := &d.scan
		switch {
		case string(key) == "payload":
			ev.hasPayload = true
			if !d.cfg.schemaInclude {
				_, err := s.skip(0)
				return err
			}
			if s.peek() != '{' {
				return s.errf("\"payload\" must be an object")
			}
			raw, err := s.skip(0)
			payload = raw
			return err
		case d.cfg.schemaInclude:
			_, err := s.skip(0)
			return err
		}
		return d.dbzField(&ev, key)
	})
	if err != nil || !d.cfg.schemaInclude || payload == nil {
		return ev, err
	}
	err = d.scanObject(payload, func(key []byte) error { return d.dbzField(&ev, key) })
	ev.hasPayload = true
	return ev, err
}

// dbzField reads the field key of an event, whose value is at the scanner.
func (d *Decoder) dbzField(ev *dbzEvent, key []byte) error {
	s := &d.scan
	switch string(key) {
	case "op":
		if s.peek() != '"' {
			return s.errf("\"op\" must be a string")
		}
		raw, a0, a1, err := s.str(&d.arena)
		if raw == nil {
			raw = d.arena[a0:a1]
		}
		ev.op = raw
		return err
	case "before", "after":
		dst := &ev.before
		if key[0] == 'a' {
			dst = &ev.after
		}
		switch s.peek() {
		case 'n':
			*dst = nil
			return s.literal("null")
		case '{':
			raw, err := s.skip(0)
			*dst = raw
			return err
		}
		return s.errf("%q must be an object or null", key)
	}
	_, err := s.skip(0)
	return err
}

// scanObject scans the JSON object in b, calling field for each key with
// the scanner at the key's value; field must consume the value.
func (d *Decoder) scanObject(b []byte, field func(key []byte) error) error {
	s := &d.scan
	s.b, s.i = b, 0
	s.ws()
	if s.peek() != '{' {
		if s.i >= len(s.b) {
			return s.errf("empty record")
		}
		return s.errf("expected '{'")
	}
	s.i++
	s.ws()
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			if s.peek() != '"' {
				return s.errf("expected a string key")
			}
			key, a0, a1, err := s.str(&d.arena)
			if err != nil {
				return err
			}
			if key == nil {
				key = d.arena[a0:a1]
			}
			s.ws()
			if s.peek() != ':' {
				return s.errf("expected ':' after object key")
			}
			s.i++
			s.ws()
			if err := field(key); err != nil {
				return err
			}
			s.ws()
			c := s.peek()
			s.i++
			if c == ',' {
				s.ws()
				continue
			}
			if c == '}' {
				break
			}
			s.i--
			return s.errf("expected ',' or '}'")
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return s.errf("unexpected data after the object")
	}
	return nil
}

// appendDebezium appends row r of cols (the data columns of a batch whose
// row kinds are kinds) as one debezium-json event.
func (e *Encoder) appendDebezium(dst []byte, cols []arrow.Array, kinds *array.Int8, r int) []byte {
	k := exec.RowKindAt(kinds, r)
	if k.IsRetraction() {
		dst = append(dst, `{"before":`...)
		dst = e.appendJSONRow(dst, cols, r)
		return append(dst, `,"after":null,"op":"d"}`+"\n"...)
	}
	dst = append(dst, `{"before":null,"after":`...)
	dst = e.appendJSONRow(dst, cols, r)
	return append(dst, `,"op":"c"}`+"\n"...)
}
