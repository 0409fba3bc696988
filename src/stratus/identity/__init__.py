"""Identity: Keystone v3 — users, projects, domains, roles, tokens, catalog, credentials."""
