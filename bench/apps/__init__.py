"""The htag App every target serves (imported by the servers, never by the load generator)."""
