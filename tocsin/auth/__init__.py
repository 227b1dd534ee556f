"""Users, teams, API tokens, login sessions and permissions."""
