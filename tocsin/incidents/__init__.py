"""Incidents: severity, workflow, roles and their timeline."""
