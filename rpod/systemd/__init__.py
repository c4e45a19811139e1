"""systemd integration: ``generate systemd`` units, Quadlet files, ``auto-update``."""
