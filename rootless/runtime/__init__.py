"""rpod's rootless OCI runtime: ``python -m rootless.runtime`` (CLI) and ``rootless.runtime.api`` (library).

Modules: ``bundle`` (config.json), ``state`` (state.json, status), ``sync`` (parent<->child
messages), ``create`` (parent side), ``init`` (child side), ``mounts`` (filesystem), ``hooks``,
``log``, ``errors``.  Nothing here is imported by ``import rootless.runtime``: start-up stays cheap.
"""
