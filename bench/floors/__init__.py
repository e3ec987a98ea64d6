"""Reference functions the project's functions are measured against."""
