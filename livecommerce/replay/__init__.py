"""Shoppable replays: an ended show's media with product chapters and highlight clips."""
