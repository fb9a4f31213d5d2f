"""``python -m ciosec``: the operator CLI."""

from ciosec.cli import main

raise SystemExit(main())
