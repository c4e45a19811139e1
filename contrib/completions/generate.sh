#!/bin/sh
# Regenerate the shell completion scripts from the CLI (click's completion protocol: the scripts
# call back into rpod, which completes commands, flags, and local image and container names).
# tests/unit/test_completions.py checks that the committed files match this output.
set -e
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
_RPOD_COMPLETE=bash_source "$PY" -m rpod > rpod.bash
_RPOD_COMPLETE=zsh_source "$PY" -m rpod > _rpod
_RPOD_COMPLETE=fish_source "$PY" -m rpod > rpod.fish
