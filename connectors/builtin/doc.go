// Package builtin assembles the connector registry of a StreamSQL engine
// from the connectors that ship with it. It only wires: each connector
// lives in its own package.
package builtin
