"""Integrations with web frameworks; each module needs its framework (and its own extra).

`gmail_send.contrib.django`: a Django e-mail backend (`pip install 'gmail-send[django]'`).
"""

__all__: list[str] = []
