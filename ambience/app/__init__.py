"""The running daemon: one loop owns all state."""
