"""The graph service: connections between cotos, and pins."""
