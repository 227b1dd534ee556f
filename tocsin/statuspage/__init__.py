"""Status pages: components, public incidents, scheduled maintenance, the public page and API."""
