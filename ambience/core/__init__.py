"""Pure decisions: every function takes ``now`` and returns what to do and when to wake."""
