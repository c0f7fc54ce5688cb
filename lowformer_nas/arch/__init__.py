"""Architecture description (config, registry, YAML, compat) and the builder."""
