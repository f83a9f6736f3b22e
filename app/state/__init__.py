"""Views of the key-value state that execution reads and writes before anything is committed."""

from app.state.overlay import Overlay, Reader

__all__ = ["Overlay", "Reader"]
