"""icat."""
