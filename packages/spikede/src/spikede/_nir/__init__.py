"""Private implementation of :mod:`spikede.nir` (export to and import from NIR graphs)."""
