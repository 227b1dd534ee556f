"""The audit log of administrative changes (users, roles, tokens, services)."""
