#!/bin/sh
# Regenerate the shell completion scripts (`rpod completion SHELL`: small clients of the hidden
# `rpod __complete` command, cobra's protocol, which completes commands, flags, containers, images,
# networks and volumes).  tests/unit/test_completions.py checks that the committed files match.
set -e
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
"$PY" -m rpod completion bash > rpod.bash
"$PY" -m rpod completion zsh > _rpod
"$PY" -m rpod completion fish > rpod.fish
