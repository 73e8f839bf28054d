package format

import (
	"bytes"
	"fmt"

	"github.com/streamsql/streamsql/types"
)

// csvField is one field of a CSV line: line[s0:s1], or arena[s0:s1] for a
// quoted field with doubled quotes.
type csvField struct {
	s0, s1  int
	quoted  bool
	inArena bool
}

// splitCSV splits one CSV line (RFC 4180 quoting; a record may not span
// lines) into d.csv.
func (d *Decoder) splitCSV(line []byte) error {
	delim := d.cfg.delim
	d.csv = d.csv[:0]
	i := 0
	for {
		if i < len(line) && line[i] == '"' {
			f := csvField{quoted: true}
			i++
			start := i
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					return fmt.Errorf("field %d: unterminated quoted field", len(d.csv)+1)
				}
				i += j
				if i+1 < len(line) && line[i+1] == '"' {
					// A doubled quote: copy the field to the arena.
					if !f.inArena {
						f.inArena = true
						f.s0 = len(d.arena)
						d.arena = append(d.arena, line[start:i+1]...)
					} else {
						d.arena = append(d.arena, line[start:i+1]...)
					}
					i += 2
					start = i
					continue
				}
				if f.inArena {
					d.arena = append(d.arena, line[start:i]...)
					f.s1 = len(d.arena)
				} else {
					f.s0, f.s1 = start, i
				}
				i++ // the closing quote
				break
			}
			d.csv = append(d.csv, f)
			if i == len(line) {
				return nil
			}
			if line[i] != delim {
				return fmt.Errorf("field %d: unexpected %q after a quoted field", len(d.csv), line[i])
			}
			i++
			continue
		}
		j := bytes.IndexByte(line[i:], delim)
		if j < 0 {
			d.csv = append(d.csv, csvField{s0: i, s1: len(line)})
			return nil
		}
		d.csv = append(d.csv, csvField{s0: i, s1: i + j})
		i += j + 1
	}
}

func (d *Decoder) decodeCSV(line []byte) (skip bool, err error) {
	if d.cfg.allowComments && len(line) > 0 && line[0] == '#' {
		return true, nil
	}
	if err := d.splitCSV(line); err != nil {
		return false, err
	}
	if len(d.csv) != len(d.cols) {
		return false, fmt.Errorf("expected %d fields, got %d", len(d.cols), len(d.csv))
	}
	for i, f := range d.csv {
		c, sl := &d.cols[i], &d.slots[i]
		src := line
		if f.inArena {
			src = d.arena
		}
		text := src[f.s0:f.s1]
		switch {
		case d.cfg.nullLiteralSet && !f.quoted && string(text) == d.cfg.nullLiteral:
			sl.state = slotNull
		case len(text) == 0 && !f.quoted && (c.typ.Kind != types.String || !d.cfg.nullLiteralSet):
			sl.state = slotNull
		case c.typ.Kind == types.String:
			sl.state, sl.inArena, sl.s0, sl.s1 = slotValue, f.inArena, f.s0, f.s1
		default:
			if err := setNumber(c, sl, trimBytes(text), f.quoted || c.typ.IsTemporal()); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}
