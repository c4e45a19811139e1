"""Kubernetes YAML: ``kube play`` (``spec``) and ``generate kube`` (``generate``)."""
