"""Pose capture: camera or video → MediaPipe world landmarks → a VRM humanoid pose stream.

Imports nothing from the rendering engine; mediapipe and OpenCV load lazily on first use.
"""
