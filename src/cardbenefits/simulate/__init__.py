"""Simulation: replay a campaign on historical events before launch (see :mod:`.replay`)."""
