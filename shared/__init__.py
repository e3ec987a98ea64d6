"""Shared layer for every Conversion Agents function.

Importing this package is cheap on purpose: it imports no SDK. Clients are built
lazily, once per container, by the factories in ``shared.clients``.
"""
