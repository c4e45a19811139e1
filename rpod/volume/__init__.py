"""Volumes: named-volume store and ``-v``/``--mount``/``--tmpfs`` parsing (``volumes``)."""
