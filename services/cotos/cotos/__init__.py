"""The cotos service: cotos, timelines and the anonymous memo pad."""
