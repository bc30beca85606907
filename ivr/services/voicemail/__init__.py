"""Voicemail: messages saved as audio files plus an index row, listed, heard, deleted, expired."""
