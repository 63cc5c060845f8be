"""Realtime change frames over Server-Sent Events (contract §7)."""
