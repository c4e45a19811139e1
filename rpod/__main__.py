"""``python -m rpod`` and the ``rpod`` console script."""

from __future__ import annotations

import sys


def main() -> int:
    if "service" in sys.argv[1:5]:  # the API service starts without the CLI framework
        from rpod.api.service import fast_main

        code = fast_main(sys.argv[1:])
        if code is not None:
            return code
    from rpod.cli.fast import main as fast_main  # the everyday commands, without click

    code = fast_main(sys.argv[1:])
    if code is not None:
        return code
    from rpod.cli.app import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
