"""Paging: contact methods, notification rules, escalations (pages), the notification outbox."""
