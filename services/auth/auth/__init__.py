"""The auth service: amishis, sign-in by email, sessions and their tokens."""
