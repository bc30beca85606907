"""Prompts (lookup by language, rendering), and later speech recognizers and audio streams."""
