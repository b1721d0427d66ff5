"""Integrations with web frameworks; each module needs its framework (and its own extra).

`gmail_send.contrib.django`: a Django e-mail backend (`pip install 'gmail-send[django]'`).
`gmail_send.contrib.fastapi`: a lifespan and a `get_gmail` dependency
(`pip install 'gmail-send[fastapi]'`).
"""

__all__: list[str] = []
