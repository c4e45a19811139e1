"""The ``rpod container ...`` group (``ls``, ``rm``, ``inspect``, ``run``, ``exists``, ``cleanup``...)."""

from rpod.cli import container_more, cp
from rpod.cli.containers import container as app

for _name, _cmd in container_more.app.commands.items():
    app.add_command(_cmd, _name)
app.add_command(container_more.container_prune_cmd, "prune")
for _name, _cmd in cp.app.commands.items():
    app.add_command(_cmd, _name)

__all__ = ["app"]
