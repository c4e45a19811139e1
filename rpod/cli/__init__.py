"""The command-line edge: argument parsing, output, exit codes."""
