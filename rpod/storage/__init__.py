"""Layer storage and container root filesystems."""
