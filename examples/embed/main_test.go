package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	cfg := config{StateDir: t.TempDir(), Rows: 6000, Rate: "unlimited", Window: time.Second}
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^level=INFO msg=window start="(2024-01-01 00:00:0\d\.000)" page=([123]) views=(\d+) avg_ms=\d+(\.\d+)?$`)
	total, windows := 0, map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("unexpected line %q in\n%s", l, out.String())
		}
		n, _ := strconv.Atoi(m[3])
		total += n
		windows[m[1]]++
	}
	// 6000 views 1 ms apart: six one-second windows of three pages.
	if total != 6000 || len(windows) != 6 {
		t.Fatalf("%d views in %d windows:\n%s", total, len(windows), out.String())
	}
	for w, pages := range windows {
		if pages != 3 {
			t.Errorf("window %s: %d pages", w, pages)
		}
	}
}
