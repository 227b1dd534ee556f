"""The layout, static files and what every page shares (templates, flash messages, errors)."""
