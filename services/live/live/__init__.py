"""The live service: server-sent events of the domain event streams (contract v2, "Live rooms")."""
