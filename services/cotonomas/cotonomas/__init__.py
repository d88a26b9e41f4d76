"""The cotonomas service: cotonomas, their nesting, and their members."""
