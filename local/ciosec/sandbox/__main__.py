"""``python -m ciosec.sandbox``: the sandbox on its own (``--help`` for the options)."""

from ciosec.sandbox.cli import main

raise SystemExit(main())
