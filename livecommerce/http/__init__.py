"""The public HTTP edge: server configuration, body limits, throttles, CORS and
security headers. Each module does one job; ``create_app`` and the ``serve``
command wire them."""
