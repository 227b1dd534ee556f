"""Communications from an incident: stakeholder updates and their cadence."""
