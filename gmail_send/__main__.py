"""`python -m gmail_send ...` runs the gmail-send command."""

from .cli._main import main

raise SystemExit(main())
