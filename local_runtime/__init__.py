"""Everything needed to run the system on a laptop: no Docker, no cloud account."""
