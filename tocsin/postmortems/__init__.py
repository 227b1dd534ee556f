"""Learn: a blameless postmortem for every major incident, approved and shared as a blog."""
