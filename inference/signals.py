"""Signals other apps listen to (``diagnosis`` records them in its audit trail)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the activation's transaction: a receiver that fails undoes the activation, so an
# activation never happens without its audit record. Arguments: ``activation`` (ModelActivation).
model_activated = Signal()
