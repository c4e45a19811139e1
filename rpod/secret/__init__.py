"""Secrets: ``rpod secret create/ls/inspect/rm/exists`` (file driver) and ``--secret`` at run time."""
