"""`python -m gmail_send ...` runs the gmail-send command."""

from .cli import main

raise SystemExit(main())
