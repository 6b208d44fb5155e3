"""The shipped scene packs and avatars, as package data.

The repository keeps them where the product's layout puts them, ``scenes/`` and
``assets/avatars/``; setup.py maps two subpackages onto those folders, so in a wheel they sit
here as ``immersion/_shipped/scenes/`` and ``immersion/_shipped/avatars/``.
:mod:`immersion.catalogue` looks here first and falls back to the checkout's folders (a source
tree, an editable install).
"""
