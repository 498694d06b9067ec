"""Imported only by the file-reading workers of ``tests/test_early_readers.py``'s encoder (its
``prepare_imports``): whether a worker holds it tells whether the worker imported what reading needs."""
