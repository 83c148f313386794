"""``python -m aulib`` is the same as the ``aulib`` command."""

from aulib.cli import main

raise SystemExit(main())
