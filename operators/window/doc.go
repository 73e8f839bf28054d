// Package window holds the window operators: the window aggregation
// (plan.WindowAgg: TUMBLE, HOP, CUMULATE and SESSION windows grouped by
// keys, with their accumulators) and the window assignment (plan.WindowAssign:
// a window TVF consumed without aggregation, which buffers SESSION windows).
// NewAgg and NewAssign are their constructors for the operator registry;
// each instance is one subtask owning a range of key groups.
//
// Their checkpointed state is declared as state tables (package
// exec/state; the layout is documented in state.go and assign.go): keyed
// entries carry the key group of their group or partition key, so a
// checkpoint taken at one parallelism restores at any other. The package
// never touches channels, tasks or the checkpoint store: the runtime
// (package exec) calls the operators and commits what they write.
package window
