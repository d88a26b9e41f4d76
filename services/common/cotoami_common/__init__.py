"""Shared plumbing for the Cotoami services. No domain logic lives here."""
