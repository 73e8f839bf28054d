// Package termtest replays what a program wrote to a terminal onto a
// screen, for tests that check what a user sees (the shell's prompt,
// its live tables). It is imported only by tests.
package termtest

import (
	"strconv"
	"strings"
)

// Lines replays what a program wrote to its terminal onto a
// screen, as a terminal would (the cursor movements and erasures readline
// uses: CR, LF, BS, ESC[nA/B/C/D, ESC[K, ESC[2K, ESC[J), and returns the
// screen's lines, trailing blanks trimmed.
func Lines(raw string) []string {
	var lines [][]rune
	row, col := 0, 0
	at := func() {
		for len(lines) <= row {
			lines = append(lines, nil)
		}
	}
	rs := []rune(raw)
	for i := 0; i < len(rs); i++ {
		at()
		switch r := rs[i]; {
		case r == '\r':
			col = 0
		case r == '\n':
			row++
		case r == '\b':
			col = max(col-1, 0)
		case r == '\x1b' && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && (rs[j] >= '0' && rs[j] <= '9' || rs[j] == ';' || rs[j] == '?') {
				j++
			}
			if j >= len(rs) {
				i = j
				continue
			}
			n := 1
			arg := string(rs[i+2 : j])
			if v, err := strconv.Atoi(arg); err == nil {
				n = v
			}
			switch rs[j] {
			case 'A':
				row = max(row-n, 0)
			case 'B':
				row += n
			case 'C':
				col += n
			case 'D':
				col = max(col-n, 0)
			case 'K':
				if arg == "2" {
					lines[row] = nil
				} else if col < len(lines[row]) {
					lines[row] = lines[row][:col]
				}
			case 'J':
				if col < len(lines[row]) {
					lines[row] = lines[row][:col]
				}
				lines = lines[:row+1]
			}
			i = j
		case r == '\x1b':
			i++ // ESC ( B and the like
		case r < ' ':
		default:
			for len(lines[row]) <= col {
				lines[row] = append(lines[row], ' ')
			}
			lines[row][col] = r
			col++
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(string(l), " ")
	}
	return out
}
