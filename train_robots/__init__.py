"""Phase scripts of the V-JEPA 2 robotics world model (see README.md)."""
