"""Replay as pytrees: transitions, uniform and prioritized buffers, n-step windows."""
