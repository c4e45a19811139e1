"""Container networking: modes, published ports, user-defined networks (engine side)."""
