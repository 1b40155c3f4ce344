"""Command-line entry points: parse arguments and dispatch. Nothing in the package imports these."""
