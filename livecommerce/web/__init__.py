"""The web pages: plain HTML/CSS/JS served by the app (no build step)."""
