"""Organizations and their members: the tenants of the system."""
