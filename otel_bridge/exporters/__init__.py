"""Exporter types: the registry and one subpackage or module per backend."""
