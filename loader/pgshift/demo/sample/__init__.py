"""The sample marketplace source database: schema and deterministic seeding."""
