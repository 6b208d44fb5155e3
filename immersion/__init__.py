"""Immersion: a VR/AR audition environment server.

The pipeline reads left to right: ``capture`` (camera → pose stream) → stage → headset and
mirror feed. This package holds the server and its command line.
"""

__version__ = "0.1.0"
