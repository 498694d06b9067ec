"""Counterpoint: compare audio and symbolic (MIDI) embeddings of the same music."""

__version__ = "0.1.0"
