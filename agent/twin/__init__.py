"""The digital twin: a state model of the asset updated with every reading."""
