// Package bench holds the engine's end-to-end benchmarks and the
// hand-written baselines they are measured against. Run them with
//
//	go test -bench . -benchmem -cpu 1 ./bench/
//
// Each benchmark reports events/s; b.N is the number of events.
package bench
