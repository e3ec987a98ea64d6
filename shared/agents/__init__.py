"""Agents: versioned configurations of the AI that talks with leads, and the web widget's key."""
