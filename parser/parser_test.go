package parser

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestParser runs the datadriven files in testdata/. Each file documents
// its commands in its opening comment; in short:
//
//	parse           the input's statements printed by String(), one a line;
//	                each printed statement must parse again to an equal AST
//	error [file=f]  the error message for the input, then the caret display
//	split           the statement texts of Split, separated by lines of ---
//	complete        "true" or "false": Complete(input)
//	pos             every node of the parsed input with its line:col
func TestParser(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "parse":
				stmts, err := Parse("", d.Input)
				if err != nil {
					return "unexpected error: " + err.Error() + "\n" + caretOf(d.Input, err) + "\n"
				}
				var b strings.Builder
				for _, s := range stmts {
					text := s.String()
					if err := checkRoundTrip(s); err != nil {
						t.Errorf("%s: %v", d.Pos, err)
					}
					b.WriteString(text)
					b.WriteString("\n")
				}
				return b.String()
			case "error":
				file := ""
				if d.HasArg("file") {
					d.ScanArgs(t, "file", &file)
				}
				_, err := Parse(file, d.Input)
				if err == nil {
					return "no error\n"
				}
				return err.Error() + "\n" + caretOf(d.Input, err) + "\n"
			case "split":
				return strings.Join(Split(d.Input), "\n---\n") + "\n"
			case "complete":
				return fmt.Sprintln(Complete(d.Input))
			case "pos":
				stmts, err := Parse("", d.Input)
				if err != nil {
					return "unexpected error: " + err.Error() + "\n"
				}
				var b strings.Builder
				for _, s := range stmts {
					walkPositions(&b, reflect.ValueOf(s), "", 0)
				}
				return b.String()
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
				return ""
			}
		})
	})
}

func caretOf(src string, err error) string {
	var perr *Error
	if !errors.As(err, &perr) {
		return fmt.Sprintf("(not a *parser.Error: %T)", err)
	}
	return Caret(src, perr.Pos)
}

// checkRoundTrip prints s, parses the text again and checks that the
// result is one statement equal to s (positions aside) that prints the
// same.
func checkRoundTrip(s Statement) error {
	text := s.String()
	again, err := Parse("", text)
	if err != nil {
		return fmt.Errorf("printed statement does not parse: %v\n%s\n%s", err, text, caretOf(text, err))
	}
	if len(again) != 1 {
		return fmt.Errorf("printed statement parses as %d statements: %s", len(again), text)
	}
	if again[0].String() != text {
		return fmt.Errorf("printing is not stable:\n%s\n%s", text, again[0].String())
	}
	a, b := stripPositions(s), stripPositions(again[0])
	if !reflect.DeepEqual(a, b) {
		return fmt.Errorf("AST differs after a round trip of %s:\n%#v\n%#v", text, a, b)
	}
	return nil
}

var posType = reflect.TypeOf(Pos{})

// stripPositions returns a deep copy of s with every Pos zeroed.
func stripPositions(s Statement) Statement {
	c := deepCopy(reflect.ValueOf(s))
	return c.Interface().(Statement)
}

func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		n := reflect.New(v.Type().Elem())
		n.Elem().Set(deepCopy(v.Elem()))
		return n
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		n := reflect.New(v.Type()).Elem()
		n.Set(deepCopy(v.Elem()))
		return n
	case reflect.Struct:
		n := reflect.New(v.Type()).Elem()
		if v.Type() == posType {
			return n
		}
		for i := 0; i < v.NumField(); i++ {
			n.Field(i).Set(deepCopy(v.Field(i)))
		}
		return n
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			n.Index(i).Set(deepCopy(v.Index(i)))
		}
		return n
	default:
		return v
	}
}

// walkPositions prints every node (and identifier) under v with its
// position, indented by depth.
func walkPositions(b *strings.Builder, v reflect.Value, field string, depth int) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkPositions(b, v.Elem(), field, depth)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkPositions(b, v.Index(i), field, depth)
		}
	case reflect.Struct:
		if v.Type() == posType {
			return
		}
		pf := v.FieldByName("Pos")
		if !pf.IsValid() {
			return
		}
		p := pf.Interface().(Pos)
		label := v.Type().Name()
		if field != "" {
			label = field + ": " + label
		}
		if id, ok := v.Interface().(Ident); ok {
			label += " " + id.String()
		}
		fmt.Fprintf(b, "%s%d:%d %s\n", strings.Repeat("  ", depth), p.Line, p.Column, label)
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if f.Name == "Pos" {
				continue
			}
			walkPositions(b, v.Field(i), f.Name, depth+1)
		}
	}
}

// TestCaret pins the caret display directly, including tabs and a
// position past the end of the text.
func TestCaret(t *testing.T) {
	for _, c := range []struct {
		src  string
		pos  Pos
		want string
	}{
		{"SELECT * FROMM t", Pos{Line: 1, Column: 10}, "LINE 1: SELECT * FROMM t\n                 ^"},
		{"SELECT 1;\n\tSELECT x y z", Pos{Line: 2, Column: 12}, "LINE 2: \tSELECT x y z\n        \t          ^"},
		{"SELECT", Pos{Line: 1, Column: 7}, "LINE 1: SELECT\n              ^"},
		{"SELECT 1\n", Pos{Line: 2, Column: 1}, "LINE 2: \n        ^"},
	} {
		if got := Caret(c.src, c.pos); got != c.want {
			t.Errorf("Caret(%q, %d:%d) =\n%s\nwant\n%s", c.src, c.pos.Line, c.pos.Column, got, c.want)
		}
	}
}

// TestKeywords checks that every keyword the grammar uses is listed, and
// that the list is sorted without duplicates.
func TestKeywords(t *testing.T) {
	kws := Keywords()
	seen := map[string]bool{}
	for i, k := range kws {
		if seen[k] {
			t.Errorf("duplicate keyword %s", k)
		}
		seen[k] = true
		if i > 0 && kws[i-1] > k {
			t.Errorf("keywords not sorted at %s", k)
		}
	}
	for _, w := range append(append([]string{}, probeKeywords...), typeWords...) {
		if !seen[w] {
			t.Errorf("keyword %s is missing from Keywords()", w)
		}
	}
}
