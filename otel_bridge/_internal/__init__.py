"""Private helpers shared by the configuration code and the exporters."""
