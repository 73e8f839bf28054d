package types

import (
	"math"
	"math/rand"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

func TestAppendFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		bits int
		want string
	}{
		{1, 64, "1.0"}, {0.1, 64, "0.1"}, {-2.5, 64, "-2.5"}, {0, 64, "0.0"}, {math.Copysign(0, -1), 64, "-0.0"},
		{0.001, 64, "0.001"}, {0.0001, 64, "1.0E-4"}, {1.5e-7, 64, "1.5E-7"},
		{9999999, 64, "9999999.0"}, {1e7, 64, "1.0E7"}, {12345678.9, 64, "1.23456789E7"},
		{123456789012, 64, "1.23456789012E11"}, {1e20, 64, "1.0E20"}, {-1e20, 64, "-1.0E20"},
		{1e21, 64, "1.0E21"}, {1e300, 64, "1.0E300"},
		{math.NaN(), 64, "NaN"}, {math.Inf(1), 64, "Infinity"}, {math.Inf(-1), 64, "-Infinity"},
		{float64(float32(0.1)), 32, "0.1"}, {float64(float32(4294967297)), 32, "4.2949673E9"},
	} {
		if got := string(AppendFloat(nil, tc.f, tc.bits)); got != tc.want {
			t.Errorf("AppendFloat(%v, %d) = %q, want %q", tc.f, tc.bits, got, tc.want)
		}
	}
}

// TestFloatRoundTrip checks that what AppendFloat writes reads back as the
// same float.
func TestFloatRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 100000; i++ {
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) {
			continue
		}
		s := AppendFloat(nil, f, 64)
		if back, err := strconv.ParseFloat(string(s), 64); err != nil || back != f {
			t.Fatalf("%v → %q → %v, %v", f, s, back, err)
		}
		f32 := math.Float32frombits(r.Uint32())
		if f32 != f32 {
			continue
		}
		s = AppendFloat(nil, float64(f32), 32)
		if back, err := strconv.ParseFloat(string(s), 32); err != nil || float32(back) != f32 {
			t.Fatalf("%v → %q → %v, %v", f32, s, back, err)
		}
	}
}

func TestAppendDecimal(t *testing.T) {
	for _, tc := range []struct {
		n     decimal128.Num
		scale int32
		want  string
	}{
		{decimal128.FromI64(150), 2, "1.50"}, {decimal128.FromI64(-5), 2, "-0.05"}, {decimal128.FromI64(0), 3, "0.000"},
		{decimal128.FromI64(42), 0, "42"}, {decimal128.FromI64(7), -2, "700"}, {decimal128.FromI64(-999995), 3, "-999.995"},
		{decimal128.New(1, 0), 2, "184467440737095516.16"}, {decimal128.New(1, 0).Negate(), 0, "-18446744073709551616"},
	} {
		if got := string(AppendDecimal(nil, tc.n, tc.scale)); got != tc.want {
			t.Errorf("AppendDecimal(%v, %d) = %q, want %q", tc.n, tc.scale, got, tc.want)
		}
	}
}

func BenchmarkAppendFloat(b *testing.B) {
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendFloat(buf[:0], float64(i)*1.25e3, 64)
	}
}
