"""Build, inspect and start the deploy artefacts (``python3 scripts/dev.py package``); never shipped."""
