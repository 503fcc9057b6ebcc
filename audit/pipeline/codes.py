"""The documented exit codes (a contract CI scripts use); errors carry theirs as ``exit_code``."""

EXIT_PASS = 0  # audit ran and every blocking rule passed (verify: intact; gate: open)
EXIT_FAIL = 1  # audit ran and at least one blocking rule failed (gate: closed)
EXIT_INPUT = 2  # bad input or usage
EXIT_INTEGRITY = 3  # a digest or signature does not verify
EXIT_DENIED = 4  # access denied
EXIT_INTERNAL = 5  # a bug in audit
