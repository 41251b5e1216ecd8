"""The store's revisions, one file each: ``NNNN_what_it_does.py`` (docs/store.md).

A package so that setuptools ships the files with arena; Alembic reads them by path (it
skips this ``__init__``).
"""
