"""Imported only by the process that forks the file-reading workers of ``tests/test_early_readers.py``'s encoder (its
``prepare_imports``): the workers of an encoder that needs its model for reading inherit it from that process."""
