"""One module per command group of the operator CLI; each exposes ``register(groups)``, which adds
its subcommands to the ``ciosec`` parser."""

from __future__ import annotations

import argparse

type Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]
"""What ``register`` receives: the ``ciosec`` parser's ``add_subparsers()``."""
