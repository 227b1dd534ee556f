"""Alerts: integrations, ingest, deduplication, routing, heartbeats and maintenance windows."""
