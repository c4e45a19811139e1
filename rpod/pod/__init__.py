"""Pods: groups of containers sharing namespaces held by an infra container (``rpod pod ...``)."""
