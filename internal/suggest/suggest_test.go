package suggest

import "testing"

func TestClosest(t *testing.T) {
	names := []string{"price", "auction", "bidder", "dateTime"}
	for _, c := range []struct{ in, want string }{
		{"prcie", "price"},
		{"PRICE", "price"},
		{"bider", "bidder"},
		{"datetime", "dateTime"},
		{"zzzzzz", ""},
		{"", ""},
	} {
		if got := Closest(c.in, names); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := Closest("x", nil); got != "" {
		t.Errorf("Closest with no candidates = %q", got)
	}
}

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"prcie", "price", 2}} {
		if got := Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
