"""Built-in knowledge base (YAML data). Shipped in the wheel as enricher._knowledge."""
