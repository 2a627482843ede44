"""Timing and memory of every artifact (run) and the peak of each in its own process (peak)."""
