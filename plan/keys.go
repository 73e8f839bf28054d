package plan

// PrimaryKeyOption is the option under which the planner hands a table's
// PRIMARY KEY (…) NOT ENFORCED to its connector: the key's column names,
// separated by ','. It is not a WITH option: a table that writes it in its
// WITH clause is refused, and SHOW CREATE TABLE shows the key as declared.
const PrimaryKeyOption = "$primary-key"

// PartitionKeysOption is the option under which the planner hands a
// table's PARTITIONED BY (…) columns to its connector, as PrimaryKeyOption
// does the key: the column names, separated by ','. Only connectors that
// accept it (connectors.PartitionFactory) may be given one.
const PartitionKeysOption = "$partition-keys"
