"""Kernel side of rpod: user namespaces, id maps, layer unpacking, overlay, the OCI runtime core and the monitor.

Stdlib and ctypes only; never imports ``rpod``.  Every entry point can run on its own
(``python -m rootless.runtime``, ``python -m rootless.monitor``, ...).
"""
