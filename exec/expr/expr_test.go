package expr

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/cockroachdb/datadriven"

	"github.com/streamsql/streamsql/types"
)

func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			out, err := runDirective(t, d, mem)
			if err != nil {
				d.Fatalf(t, "%v", err)
			}
			return out
		})
	})
}

// runDirective runs one datadriven directive; err is a broken test, while
// evaluation errors are part of the output.
func runDirective(t *testing.T, d *datadriven.TestData, mem memory.Allocator) (string, error) {
	var schema types.Schema
	var exprs []string
	var slice []int
	for _, a := range d.CmdArgs {
		switch a.Key {
		case "schema":
			for _, v := range a.Vals {
				name, typ, ok := strings.Cut(strings.TrimSpace(v), " ")
				if !ok {
					return "", fmt.Errorf("bad column %q", v)
				}
				ty, err := parseType(typ)
				if err != nil {
					return "", err
				}
				schema.Fields = append(schema.Fields, types.Field{Name: name, Type: ty})
			}
		case "expr":
			exprs = append(exprs, strings.Join(a.Vals, ", "))
		case "exprs":
			exprs = append(exprs, a.Vals...)
		case "slice":
			for _, v := range a.Vals {
				i, err := strconv.Atoi(v)
				if err != nil {
					return "", err
				}
				slice = append(slice, i)
			}
		default:
			return "", fmt.Errorf("unknown argument %q", a.Key)
		}
	}
	rec, err := buildRecord(mem, schema, d.Input)
	if err != nil {
		return "", err
	}
	if len(slice) == 2 {
		s := rec.NewSlice(int64(slice[0]), int64(slice[1]))
		rec.Release()
		rec = s
	}
	defer rec.Release()

	evs := make([]Evaluator, len(exprs))
	for i, s := range exprs {
		e, err := parseExprText(s, schema)
		if err != nil {
			return "", fmt.Errorf("%s: %v", s, err)
		}
		ev, err := Compile(e, schema, mem)
		if err != nil {
			return fmt.Sprintf("compile error: %v\n", err), nil
		}
		evs[i] = ev
	}
	switch d.Cmd {
	case "eval":
		cols := make([]arrow.Array, len(evs))
		defer func() { release(cols...) }()
		for i, ev := range evs {
			a, err := ev.Eval(rec)
			if err != nil {
				return fmt.Sprintf("error: %v\n", err), nil
			}
			if a.Len() != int(rec.NumRows()) {
				return "", fmt.Errorf("result has %d rows, batch %d", a.Len(), rec.NumRows())
			}
			if !arrow.TypeEqual(a.DataType(), ev.Type().Arrow()) {
				return "", fmt.Errorf("result has Arrow type %s, want %s", a.DataType(), ev.Type().Arrow())
			}
			if err := validateArray(a); err != nil {
				return "", fmt.Errorf("invalid result: %v", err)
			}
			cols[i] = a
		}
		return formatRows(cols, int(rec.NumRows())), nil
	case "filter":
		if len(evs) != 1 {
			return "", fmt.Errorf("filter takes one expr")
		}
		m, err := evs[0].Eval(rec)
		if err != nil {
			return fmt.Sprintf("error: %v\n", err), nil
		}
		defer m.Release()
		out, err := Filter(rec, m.(*array.Boolean), mem)
		if err != nil {
			return fmt.Sprintf("error: %v\n", err), nil
		}
		defer out.Release()
		if err := validateRecord(out); err != nil {
			return "", err
		}
		res := formatRows(out.Columns(), int(out.NumRows()))
		if out == rec {
			res = "(all rows pass: batch returned as is)\n" + res
		}
		return res, nil
	}
	return "", fmt.Errorf("unknown command %q", d.Cmd)
}

func validateRecord(rec arrow.Record) error {
	for _, c := range rec.Columns() {
		if c.Len() != int(rec.NumRows()) {
			return fmt.Errorf("column has %d rows, record %d", c.Len(), rec.NumRows())
		}
		if err := validateArray(c); err != nil {
			return err
		}
	}
	return nil
}

// buildRecord reads rows of '|'-separated cells; NULL is NULL, and a
// string cell may be quoted to keep spaces (” is the empty string).
func buildRecord(mem memory.Allocator, schema types.Schema, input string) (arrow.Record, error) {
	b := array.NewRecordBuilder(mem, schema.Arrow())
	defer b.Release()
	rows := 0
	for _, line := range strings.Split(input, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) != schema.Len() {
			return nil, fmt.Errorf("row %q has %d cells, schema %d", line, len(cells), schema.Len())
		}
		for i, c := range cells {
			if err := appendCell(b.Field(i), schema.Fields[i].Type, strings.TrimSpace(c)); err != nil {
				return nil, fmt.Errorf("row %q: %v", line, err)
			}
		}
		rows++
	}
	rec := b.NewRecord()
	if rec.NumRows() != int64(rows) {
		rec.Release()
		return nil, fmt.Errorf("built %d rows, want %d", rec.NumRows(), rows)
	}
	return rec, nil
}

func appendCell(b array.Builder, t types.Type, c string) error {
	if c == "NULL" {
		b.AppendNull()
		return nil
	}
	if t.Kind == types.String {
		if len(c) >= 2 && c[0] == '\'' && c[len(c)-1] == '\'' {
			c = strings.ReplaceAll(c[1:len(c)-1], "''", "'")
		}
		b.(*array.StringBuilder).Append(c)
		return nil
	}
	var v any
	switch t.Kind {
	case types.Boolean:
		switch strings.ToUpper(c) {
		case "TRUE":
			v = true
		case "FALSE":
			v = false
		default:
			return fmt.Errorf("bad boolean %q", c)
		}
	case types.Int, types.BigInt, types.Interval:
		i, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			return err
		}
		v = i
	case types.Float, types.Double:
		f, err := strconv.ParseFloat(c, 64)
		if err != nil {
			return err
		}
		v = f
	case types.Decimal, types.Timestamp, types.TimestampLTZ:
		v = c
	default:
		return fmt.Errorf("no cells of type %s", t)
	}
	return appendValue(b, v, t)
}

// formatRows prints one line per row, columns separated by " | ".
func formatRows(cols []arrow.Array, n int) string {
	var sb strings.Builder
	if n == 0 {
		return "(no rows)\n"
	}
	for i := 0; i < n; i++ {
		for j, c := range cols {
			if j > 0 {
				sb.WriteString(" | ")
			}
			sb.WriteString(formatValue(c, i))
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

func formatValue(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	switch a := a.(type) {
	case *array.Boolean:
		if a.Value(i) {
			return "TRUE"
		}
		return "FALSE"
	case *array.Int32:
		return strconv.Itoa(int(a.Value(i)))
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Float32:
		return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64)
	case *array.Decimal128:
		return formatDecimal(a.Value(i), int(a.DataType().(*arrow.Decimal128Type).Scale))
	case *array.String:
		return "'" + a.Value(i) + "'"
	case *array.Timestamp:
		return types.FormatTimestamp(int64(a.Value(i)))
	case *array.Duration:
		return strconv.FormatInt(int64(a.Value(i)), 10) + "ms"
	}
	return fmt.Sprintf("?%s", a.DataType())
}

// validateArray checks the null count against the validity bitmap.
func validateArray(a arrow.Array) error {
	d := a.Data()
	want := 0
	if bm := d.Buffers()[0]; bm != nil {
		want = a.Len() - bitutil.CountSetBits(bm.Bytes(), d.Offset(), a.Len())
	}
	if d.NullN() != want {
		return fmt.Errorf("null count %d, bitmap says %d", d.NullN(), want)
	}
	return nil
}
