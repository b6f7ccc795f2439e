"""Building blocks shared by the phase scripts: one concept per module."""
