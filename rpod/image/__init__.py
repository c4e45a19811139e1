"""Image references, registries, the content store and pulling."""
