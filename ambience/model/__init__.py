"""Frozen value types and strict models: presets, clients, limits, room states. No I/O, no clock."""
