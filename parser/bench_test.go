package parser

import "testing"

func BenchmarkParse(b *testing.B) {
	q := "SELECT auction, window_start, window_end, COUNT(*) AS num FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end HAVING COUNT(*) > 3"
	for i := 0; i < b.N; i++ {
		if _, err := Parse("", q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseError(b *testing.B) {
	q := "SELECT auction, window_start, window_end, COUNT(*) AS num FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end HAVING COUNT(*) > 3 garbage"
	for i := 0; i < b.N; i++ {
		if _, err := Parse("", q); err == nil {
			b.Fatal(err)
		}
	}
}
