"""The service catalogue: services (what breaks) and products (what customers notice)."""
