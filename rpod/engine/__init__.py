"""rpod's engine: the one API every front end calls (the CLI, the API socket, Python users).

Layers, one direction (``tests/unit/test_layering.py`` enforces it):

    front ends   rpod/cli/*, rpod/api/*          parse input, call ONE engine function, print/serialise
        │
    engine       rpod/engine/<noun>.py           containers, images, networks, volumes, system,
        │                                         builds, pods, kube, secrets ...: typed options in,
        │                                         typed reports out; work that spans two domains
        │                                         (an image's containers, a network's containers)
        ▼
    domain       rpod/image, rpod/container, rpod/network, rpod/volume, rpod/build, rpod/pod ...
        │        (import only what is below them: never the engine, never a front end)
        ▼
    kernel side  rootless/                        stdlib + ctypes, never imports rpod

Conventions for an engine module:

- one verb per function, named after it (``containers.stop(opts) -> StopReport``); options and
  reports are dataclasses defined in the engine module (or ``rpod.engine.types`` when shared);
- engine functions never print; long work reports progress through a callback argument;
- errors are ``rpod.errors`` exceptions (mapped to exit codes at the edge); per-item verbs return
  one report per item with its error, so a front end prints them through one loop;
- heavy imports (requests, pyroute2, rich) stay inside the functions that need them, so start-up
  of short commands does not regress.
"""
