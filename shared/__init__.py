"""Shared layer for every Conversion Agents function.

Importing this package is cheap on purpose: it imports no SDK. Clients are built
lazily, once per container, by the factories in ``shared.clients``. In Lambda, it pauses
the garbage collector for the rest of init (``shared.coldstart_gc``).
"""

from shared import coldstart_gc

coldstart_gc.pause()
