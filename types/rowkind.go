package types

import "fmt"

// RowKind is the kind of change a row of a changelog stream describes, as
// Flink's RowKind: an insertion, the old and new images of an update, or a
// deletion. Its values are those of Flink's byte representation and of the
// Int8 "$row_kind" column that exec carries in batches that are not all
// inserts.
type RowKind int8

// The row kinds.
const (
	Insert       RowKind = 0 // "+I": a new row
	UpdateBefore RowKind = 1 // "-U": the old image of an updated row, retracted
	UpdateAfter  RowKind = 2 // "+U": the new image of an updated row
	Delete       RowKind = 3 // "-D": a deleted row, retracted
)

var rowKindNames = [...]string{Insert: "+I", UpdateBefore: "-U", UpdateAfter: "+U", Delete: "-D"}

// String returns the short form Flink prints: "+I", "-U", "+U" or "-D".
func (k RowKind) String() string {
	if k >= 0 && int(k) < len(rowKindNames) {
		return rowKindNames[k]
	}
	return fmt.Sprintf("RowKind(%d)", int8(k))
}

// Valid reports whether k is one of the four row kinds.
func (k RowKind) Valid() bool { return k >= Insert && k <= Delete }

// IsRetraction reports whether a row of kind k takes a row away (-U, -D)
// rather than adding one (+I, +U).
func (k RowKind) IsRetraction() bool { return k == UpdateBefore || k == Delete }

// ParseRowKind parses the short form ("+I", "-U", "+U", "-D") or Flink's
// long name ("INSERT", "UPDATE_BEFORE", "UPDATE_AFTER", "DELETE"), the
// latter case-insensitively.
func ParseRowKind(s string) (RowKind, error) {
	switch s {
	case "+I":
		return Insert, nil
	case "-U":
		return UpdateBefore, nil
	case "+U":
		return UpdateAfter, nil
	case "-D":
		return Delete, nil
	}
	switch {
	case equalFold(s, "INSERT"):
		return Insert, nil
	case equalFold(s, "UPDATE_BEFORE"):
		return UpdateBefore, nil
	case equalFold(s, "UPDATE_AFTER"):
		return UpdateAfter, nil
	case equalFold(s, "DELETE"):
		return Delete, nil
	}
	return 0, fmt.Errorf("unknown row kind %q: expected +I, -U, +U or -D", s)
}
