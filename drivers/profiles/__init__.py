"""Device profiles: register maps of common devices, shipped as TOML data files."""
