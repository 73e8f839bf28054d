package types

import "testing"

func TestRowKindStringParse(t *testing.T) {
	for k, want := range map[RowKind]string{Insert: "+I", UpdateBefore: "-U", UpdateAfter: "+U", Delete: "-D"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int8(k), got, want)
		}
		back, err := ParseRowKind(want)
		if err != nil || back != k {
			t.Errorf("ParseRowKind(%q) = %v, %v; want %v", want, back, err, k)
		}
		if !k.Valid() {
			t.Errorf("%v not valid", k)
		}
	}
	for s, want := range map[string]RowKind{"insert": Insert, "UPDATE_BEFORE": UpdateBefore, "Update_After": UpdateAfter, "DELETE": Delete} {
		if got, err := ParseRowKind(s); err != nil || got != want {
			t.Errorf("ParseRowKind(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseRowKind("+X"); err == nil || err.Error() != `unknown row kind "+X": expected +I, -U, +U or -D` {
		t.Errorf("ParseRowKind(+X) error = %v", err)
	}
	if RowKind(4).Valid() || RowKind(-1).Valid() {
		t.Error("out-of-range kinds are valid")
	}
	if got := RowKind(9).String(); got != "RowKind(9)" {
		t.Errorf("RowKind(9).String() = %q", got)
	}
	if Insert.IsRetraction() || UpdateAfter.IsRetraction() || !UpdateBefore.IsRetraction() || !Delete.IsRetraction() {
		t.Error("IsRetraction wrong")
	}
}
