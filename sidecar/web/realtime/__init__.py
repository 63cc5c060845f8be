"""Realtime change frames over Server-Sent Events."""
