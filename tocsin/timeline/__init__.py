"""The timeline every domain writes to: immutable events about an incident or an alert.

It stands below every domain so that a lower domain (paging) can leave a mark on
a higher one (an incident) without importing it.
"""
