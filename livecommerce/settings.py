"""The one settings object, read from environment variables.

Every tunable of the system lives here; nothing else reads ``os.environ``.
A bad value raises :class:`SettingsError`, whose message names the variable,
so start-up stops with one clear line.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["Settings", "SettingsError"]

_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
_ENVIRONMENTS = {"development", "production", "test"}
#: REDIS_URL schemes: one server, or (``+cluster``) a Redis Cluster (livecommerce.redisclient).
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    environment: str = "development"
    #: Tests only: seconds the app's wall clock (livecommerce.clock) is moved forward
    #: (``CLOCK_OFFSET_S``); refused when ``LIVECOMMERCE_ENV=production``.
    clock_offset_s: float = 0.0
    data_dir: Path = Path(".livecommerce")
    database_url: str = ""
    #: ``None`` means: start a private ``valkey-server`` under ``data_dir``.
    redis_url: str | None = None
    #: Seconds one Redis command may take before it fails (0: no per-command timeout).
    #: redis-py wraps every command in a timer task when this is set (~15% of a
    #: checkout's CPU); a dead server still fails fast, as its connection is reset.
    redis_socket_timeout_s: float = 0.0
    #: Connections redis-py's pool may open per process (blocking reads, pub/sub and
    #: everything not on the auto-pipelined RedisMux); past it a command fails at once.
    redis_max_connections: int = 512
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    #: Level of aioice's and aiortc's own loggers (their INFO is per-candidate chatter).
    library_log_level: str = "WARNING"
    #: Lifetime of a bearer token, seconds.
    token_ttl_s: int = 7 * 24 * 3600
    #: Hub: events kept per session stream for ``since`` recovery.
    hub_stream_maxlen: int = 1000
    #: Hub: outgoing frames buffered per connection before it is closed as too slow.
    hub_send_queue: int = 256
    #: Hub: and at most this many bytes (characters) of them.
    hub_send_buffer_bytes: int = 1024 * 1024
    hub_max_frame_bytes: int = 16 * 1024
    hub_idle_timeout_s: float = 60.0
    hub_chat_max_len: int = 500
    #: Hub: WebSocket protocol pings (uvicorn), seconds; 0 turns them off.
    hub_ping_interval_s: float = 20.0
    #: Hub: uvicorn's WebSocket implementation ("websockets-sansio", "websockets", "wsproto").
    hub_ws_impl: str = "websockets-sansio"
    #: Hub: how long high-rate events (chat, reactions, stock, viewers) wait to share a frame.
    hub_batch_window_s: float = 0.05
    #: Hub: requests per second per connection (token bucket; bursts of twice as many).
    hub_request_rate: float = 20.0
    #: Hub: chat messages a user may send per ``hub_chat_window_s`` in one session.
    hub_chat_rate: int = 5
    hub_chat_window_s: float = 5.0
    #: Hub: reactions are summed over this window before they are published.
    hub_reaction_window_s: float = 0.5
    #: Hub: chat messages included in a snapshot.
    hub_recent_chat: int = 30
    #: Hub: the WebSocket layer's own frame limit (1009 beyond it); frames between
    #: ``hub_max_frame_bytes`` and this get a ``too_large`` error and the connection stays.
    hub_ws_max_frame_bytes: int = 64 * 1024
    #: Hub: seconds a closing connection (too slow, over the rate, idle, banned) gets to
    #: take its close frame before its transport is aborted and its buffers freed.
    hub_close_grace_s: float = 5.0
    #: Hub: refused requests in a row (over the rate) before the connection is closed.
    hub_max_refused: int = 50
    #: Hub: how long one blocking XREAD of the session streams waits, milliseconds.
    hub_read_block_ms: int = 2000
    #: How long a granted moderation right on a session is trusted by an open connection
    #: (the hub's pin rights, the dashboard's), seconds; a removed moderator loses it
    #: within this time.
    session_rights_cache_s: float = 10.0
    #: Cart: seconds a stock reservation is held before the reaper returns it.
    hold_ttl_s: int = 120
    reaper_interval_s: float = 5.0
    cart_ttl_s: int = 24 * 3600
    #: Cart: group-commit window for order writes, seconds.
    order_batch_window_s: float = 0.005
    #: Cart: units of one product one buyer may hold or buy while it is on sale (0: no cap).
    cart_max_units_per_user: int = 10
    #: Cart: checkouts run at once per process; the rest wait their turn, in order.
    checkout_admission: int = 64
    #: Cart: seconds checkout trusts its cached product and session facts (a price
    #: change applies within this time).
    checkout_lookup_ttl_s: float = 1.0
    #: Cart: ``stock`` events are coalesced to at most one per product per this window.
    stock_event_interval_s: float = 0.25
    #: Cart: how long a retry waits for the first request with its Idempotency-Key to
    #: finish before it gets 409 ``idempotency_in_progress``, and how often it looks.
    idempotency_wait_s: float = 30.0
    idempotency_poll_s: float = 0.05
    #: Cart: days after a purchase its buyer may ask for a refund (0: never); a creator's
    #: commission on it stays ``pending`` until then, and becomes ``payable`` after.
    return_window_days: int = 30
    #: Payouts: the smallest amount (minor units, any currency) a payout sends; less is
    #: carried over to a later run.
    payout_minimum_minor: int = 1000
    #: Payouts: seconds between the worker's payout runs (0: none; run ``livecommerce
    #: payouts`` from a scheduler instead).
    payout_interval_s: float = 0.0
    #: Tests only: seconds the test payout gateway waits after recording a transfer
    #: before it answers (the crash test kills the job in that gap).
    payout_test_delay_s: float = 0.0
    #: Affiliate links: days a click's signed attribution (cookie ``lc_attr``) stays valid;
    #: an order in that window earns the link's creator the commission (last click wins).
    attribution_window_days: int = 7
    #: Hub: seconds a product card (name, images, prices) is cached per process.
    card_ttl_s: float = 5.0
    #: Entries a per-process cache (cards, lookups, rights, sales) holds before it is emptied.
    cache_max_entries: int = 10_000
    #: Whether ``serve`` runs the background worker jobs itself (embedded default).
    embedded_worker: bool = True
    #: Collaborations: the range a brand's open or targeted rate must be in, basis points.
    collab_min_rate_bps: int = 100
    collab_max_rate_bps: int = 8000
    #: Collaborations: days a rate cut (or a close, or a withdrawn accepted offer) waits
    #: before it applies to attributions; raises apply at once.
    collab_rate_lock_days: int = 30
    #: Streaming: ICE servers, as ``stun:host:port`` / ``turn:user:pass@host:port``.
    ice_servers: tuple[str, ...] = ()
    #: Streaming: a publisher silent this long is replaced when the show's host publishes again.
    stream_publisher_idle_s: float = 2.0
    #: Streaming: video bitrate (kbit/s) a browser host is told to start at (0: its own 300).
    stream_host_start_kbps: int = 2500
    #: Streaming: at most one keyframe request (PLI) to the host per this many seconds.
    stream_keyframe_interval_s: float = 1.0
    #: Streaming: frames queued per viewer before its backlog is dropped (resumes at a keyframe).
    stream_viewer_queue: int = 90
    #: Cluster: this process's name among the nodes (random per start unless set).
    node_id: str = field(default_factory=lambda: secrets.token_hex(6))
    #: Cluster: the URL at which other nodes reach this process directly ("" = derived
    #: from the bind address by ``livecommerce serve``: ``http://<host>:<port>``).
    node_url: str = ""
    #: Streaming: milliseconds a show's origin lease lives unless its node refreshes it.
    stream_origin_lease_ms: int = 3000
    #: Streaming: edges that pull straight from the origin; further edges pull from an edge.
    stream_origin_max_edges: int = 8
    #: HLS: whether the origin packages each live show as LL-HLS (``/hls/<id>/live.m3u8``).
    hls_enabled: bool = True
    #: HLS: where shows' HLS media is stored (``None``: ``<data_dir>/media``).
    media_dir: Path | None = None
    #: HLS: the part target duration (seconds); parts are at most this long.
    hls_part_target_s: float = 0.3
    #: HLS: the segment target (seconds); segments are cut at a keyframe after 3/4 of it.
    hls_segment_target_s: float = 2.0
    #: Streaming: WebRTC (WHEP) viewers of one show, over all nodes, beyond which a new
    #: WHEP offer gets 503 ``webrtc_full`` with the show's HLS URL (0: no cap).
    stream_max_webrtc_viewers: int = 0
    #: Replays: days an ended show's media (its replay and clips) is kept (0: for ever).
    replay_retention_days: int = 90
    #: Replays: highlight clips made when a show ends (its moments with the most buys).
    replay_clips: int = 3
    #: HTTP: largest request body an endpoint reads unless it declares its own
    #: (``Endpoint.max_body``); bigger bodies get 413 before they are read.
    http_max_body_bytes: int = 64 * 1024
    #: HTTP: seconds a connection has to send a complete request head (slowloris).
    http_header_timeout_s: float = 10.0
    #: HTTP: origins whose pages may call the API (CORS), e.g. a brand's shop; ``*`` = any.
    cors_origins: tuple[str, ...] = ()
    #: HTTP: origins that may embed the pages in a frame (CSP ``frame-ancestors``);
    #: none by default, so no site can frame the buy page (clickjacking).
    frame_ancestors: tuple[str, ...] = ()
    #: HTTP: peers (addresses or networks, ``*`` = any) whose ``X-Forwarded-For`` and
    #: ``X-Forwarded-Proto`` are believed: the load balancer's address, never a client's.
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1", "::1")
    #: Sign-in throttle: attempts within ``auth_window_s`` before 429. A successful
    #: sign-in gives its attempt back, so these count failures (and sign-ins in flight).
    auth_window_s: int = 300
    auth_account_attempts: int = 5
    auth_address_attempts: int = 20
    #: Sign-up throttle: sign-ups per client address within ``auth_signup_window_s``.
    auth_signup_attempts: int = 30
    auth_signup_window_s: int = 60

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def media_root(self) -> Path:
        """Where HLS media is stored: ``MEDIA_DIR``, else ``<data_dir>/media``."""
        return self.media_dir if self.media_dir is not None else self.data_dir / "media"

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (handy in tests and the CLI)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        environment = env.get("LIVECOMMERCE_ENV", "development").strip().lower()
        if environment not in _ENVIRONMENTS:
            raise SettingsError(
                f"LIVECOMMERCE_ENV must be one of {sorted(_ENVIRONMENTS)}, got {environment!r}"
            )
        data_dir = Path(env.get("LIVECOMMERCE_DATA_DIR", ".livecommerce"))
        database_url = env.get("DATABASE_URL", "").strip() or _default_database_url(data_dir)
        _check_database_url(database_url)
        redis_url = env.get("REDIS_URL", "").strip() or None
        if redis_url is not None and not redis_url.startswith(_REDIS_SCHEMES):
            raise SettingsError(
                "REDIS_URL must start with redis://, rediss://, unix://, "
                f"redis+cluster:// or rediss+cluster://, got {redis_url!r}"
            )
        secret_key = env.get("SECRET_KEY", "")
        if not secret_key:
            if environment == "production":
                raise SettingsError("SECRET_KEY is required when LIVECOMMERCE_ENV=production")
            secret_key = _development_secret(data_dir)
        elif len(secret_key) < 16:
            raise SettingsError("SECRET_KEY must be at least 16 characters long")
        log_level = env.get("LOG_LEVEL", "INFO").upper()
        if log_level not in _LOG_LEVELS:
            raise SettingsError(
                f"LOG_LEVEL must be one of {sorted(_LOG_LEVELS)}, got {log_level!r}"
            )
        library_log_level = env.get("LIBRARY_LOG_LEVEL", cls.library_log_level).upper()
        if library_log_level not in _LOG_LEVELS:
            raise SettingsError(
                f"LIBRARY_LOG_LEVEL must be one of {sorted(_LOG_LEVELS)}, got {library_log_level!r}"
            )
        ice = tuple(s.strip() for s in env.get("ICE_SERVERS", "").split(",") if s.strip())
        clock_offset_s = _float(env, "CLOCK_OFFSET_S", 0.0, low=-1e10)
        if clock_offset_s and environment == "production":
            raise SettingsError("CLOCK_OFFSET_S is for tests; it is refused in production")
        collab_min = _int(env, "COLLAB_MIN_RATE_BPS", cls.collab_min_rate_bps, low=1, high=10_000)
        return cls(
            environment=environment,
            clock_offset_s=clock_offset_s,
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            redis_socket_timeout_s=_float(
                env, "REDIS_SOCKET_TIMEOUT_S", cls.redis_socket_timeout_s, low=0
            ),
            redis_max_connections=_int(
                env, "REDIS_MAX_CONNECTIONS", cls.redis_max_connections, low=4
            ),
            secret_key=secret_key,
            host=env.get("HOST", "127.0.0.1"),
            port=_int(env, "PORT", 8000, low=0, high=65535),
            log_level=log_level,
            library_log_level=library_log_level,
            token_ttl_s=_int(env, "TOKEN_TTL_S", cls.token_ttl_s, low=60),
            hold_ttl_s=_int(env, "HOLD_TTL_S", cls.hold_ttl_s, low=1),
            reaper_interval_s=_float(env, "REAPER_INTERVAL_S", cls.reaper_interval_s, low=0.05),
            order_batch_window_s=_float(
                env, "ORDER_BATCH_WINDOW_S", cls.order_batch_window_s, low=0
            ),
            cart_max_units_per_user=_int(
                env, "CART_MAX_UNITS_PER_USER", cls.cart_max_units_per_user, low=0
            ),
            checkout_admission=_int(env, "CHECKOUT_ADMISSION", cls.checkout_admission, low=1),
            checkout_lookup_ttl_s=_float(
                env, "CHECKOUT_LOOKUP_TTL_S", cls.checkout_lookup_ttl_s, low=0
            ),
            stock_event_interval_s=_float(
                env, "STOCK_EVENT_INTERVAL_S", cls.stock_event_interval_s, low=0.01
            ),
            idempotency_wait_s=_float(env, "IDEMPOTENCY_WAIT_S", cls.idempotency_wait_s, low=0),
            idempotency_poll_s=_float(env, "IDEMPOTENCY_POLL_S", cls.idempotency_poll_s, low=0.001),
            return_window_days=_int(
                env, "RETURN_WINDOW_DAYS", cls.return_window_days, low=0, high=3650
            ),
            payout_minimum_minor=_int(env, "PAYOUT_MINIMUM_MINOR", cls.payout_minimum_minor, low=1),
            payout_interval_s=_float(env, "PAYOUT_INTERVAL_S", cls.payout_interval_s, low=0),
            payout_test_delay_s=_float(env, "PAYOUT_TEST_DELAY_S", cls.payout_test_delay_s, low=0),
            attribution_window_days=_int(
                env, "ATTRIBUTION_WINDOW_DAYS", cls.attribution_window_days, low=1, high=365
            ),
            card_ttl_s=_float(env, "CARD_TTL_S", cls.card_ttl_s, low=0),
            cache_max_entries=_int(env, "CACHE_MAX_ENTRIES", cls.cache_max_entries, low=1),
            embedded_worker=_bool(env, "EMBEDDED_WORKER", True),
            collab_min_rate_bps=collab_min,
            # The range may not be empty: the maximum is at least the minimum.
            collab_max_rate_bps=_int(
                env, "COLLAB_MAX_RATE_BPS", cls.collab_max_rate_bps, low=collab_min, high=10_000
            ),
            collab_rate_lock_days=_int(
                env, "COLLAB_RATE_LOCK_DAYS", cls.collab_rate_lock_days, low=0, high=3650
            ),
            hub_stream_maxlen=_int(env, "HUB_STREAM_MAXLEN", cls.hub_stream_maxlen, low=10),
            hub_send_queue=_int(env, "HUB_SEND_QUEUE", cls.hub_send_queue, low=4),
            hub_send_buffer_bytes=_int(
                env, "HUB_SEND_BUFFER_BYTES", cls.hub_send_buffer_bytes, low=16 * 1024
            ),
            hub_max_frame_bytes=_int(env, "HUB_MAX_FRAME_BYTES", cls.hub_max_frame_bytes, low=1024),
            hub_idle_timeout_s=_float(env, "HUB_IDLE_TIMEOUT_S", cls.hub_idle_timeout_s, low=1),
            hub_chat_max_len=_int(env, "HUB_CHAT_MAX_LEN", cls.hub_chat_max_len, low=1),
            hub_request_rate=_float(env, "HUB_REQUEST_RATE", cls.hub_request_rate, low=0.1),
            hub_chat_rate=_int(env, "HUB_CHAT_RATE", cls.hub_chat_rate, low=1),
            hub_chat_window_s=_float(env, "HUB_CHAT_WINDOW_S", cls.hub_chat_window_s, low=0.1),
            hub_reaction_window_s=_float(
                env, "HUB_REACTION_WINDOW_S", cls.hub_reaction_window_s, low=0.05
            ),
            hub_recent_chat=_int(env, "HUB_RECENT_CHAT", cls.hub_recent_chat, low=0),
            cart_ttl_s=_int(env, "CART_TTL_S", cls.cart_ttl_s, low=60),
            hub_ping_interval_s=_float(env, "HUB_PING_INTERVAL_S", cls.hub_ping_interval_s, low=0),
            hub_batch_window_s=_float(env, "HUB_BATCH_WINDOW_S", cls.hub_batch_window_s, low=0),
            hub_ws_max_frame_bytes=_int(
                env, "HUB_WS_MAX_FRAME_BYTES", cls.hub_ws_max_frame_bytes, low=16 * 1024
            ),
            hub_close_grace_s=_float(env, "HUB_CLOSE_GRACE_S", cls.hub_close_grace_s, low=0),
            hub_max_refused=_int(env, "HUB_MAX_REFUSED", cls.hub_max_refused, low=1),
            hub_read_block_ms=_int(env, "HUB_READ_BLOCK_MS", cls.hub_read_block_ms, low=1),
            session_rights_cache_s=_float(
                env, "SESSION_RIGHTS_CACHE_S", cls.session_rights_cache_s, low=0
            ),
            hub_ws_impl=_choice(
                env, "HUB_WS_IMPL", cls.hub_ws_impl, ("websockets-sansio", "websockets", "wsproto")
            ),
            ice_servers=ice,
            stream_publisher_idle_s=_float(
                env, "STREAM_PUBLISHER_IDLE_S", cls.stream_publisher_idle_s, low=0.1
            ),
            stream_host_start_kbps=_int(
                env, "STREAM_HOST_START_KBPS", cls.stream_host_start_kbps, low=0, high=50_000
            ),
            stream_keyframe_interval_s=_float(
                env, "STREAM_KEYFRAME_INTERVAL_S", cls.stream_keyframe_interval_s, low=0.05
            ),
            stream_viewer_queue=_int(env, "STREAM_VIEWER_QUEUE", cls.stream_viewer_queue, low=2),
            node_id=env.get("NODE_ID", "").strip() or secrets.token_hex(6),
            node_url=env.get("NODE_URL", "").strip().rstrip("/"),
            stream_origin_lease_ms=_int(
                env, "STREAM_ORIGIN_LEASE_MS", cls.stream_origin_lease_ms, low=500
            ),
            stream_origin_max_edges=_int(
                env, "STREAM_ORIGIN_MAX_EDGES", cls.stream_origin_max_edges, low=1
            ),
            hls_enabled=_bool(env, "HLS_ENABLED", cls.hls_enabled),
            media_dir=Path(env["MEDIA_DIR"]) if env.get("MEDIA_DIR", "").strip() else None,
            hls_part_target_s=_float(env, "HLS_PART_TARGET_S", cls.hls_part_target_s, low=0.1),
            hls_segment_target_s=_float(
                env, "HLS_SEGMENT_TARGET_S", cls.hls_segment_target_s, low=1.0
            ),
            stream_max_webrtc_viewers=_int(
                env, "STREAM_MAX_WEBRTC_VIEWERS", cls.stream_max_webrtc_viewers, low=0
            ),
            replay_retention_days=_int(
                env, "REPLAY_RETENTION_DAYS", cls.replay_retention_days, low=0, high=36500
            ),
            replay_clips=_int(env, "REPLAY_CLIPS", cls.replay_clips, low=0, high=50),
            http_max_body_bytes=_int(env, "HTTP_MAX_BODY_BYTES", cls.http_max_body_bytes, low=1024),
            http_header_timeout_s=_float(
                env, "HTTP_HEADER_TIMEOUT_S", cls.http_header_timeout_s, low=0.1
            ),
            cors_origins=_list(env, "CORS_ORIGINS"),
            frame_ancestors=_list(env, "FRAME_ANCESTORS"),
            forwarded_allow_ips=_list(env, "FORWARDED_ALLOW_IPS") or cls.forwarded_allow_ips,
            auth_window_s=_int(env, "AUTH_WINDOW_S", cls.auth_window_s, low=1),
            auth_account_attempts=_int(
                env, "AUTH_ACCOUNT_ATTEMPTS", cls.auth_account_attempts, low=1
            ),
            auth_address_attempts=_int(
                env, "AUTH_ADDRESS_ATTEMPTS", cls.auth_address_attempts, low=1
            ),
            auth_signup_attempts=_int(env, "AUTH_SIGNUP_ATTEMPTS", cls.auth_signup_attempts, low=1),
            auth_signup_window_s=_int(env, "AUTH_SIGNUP_WINDOW_S", cls.auth_signup_window_s, low=1),
        )


def _default_database_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'livecommerce.db').as_posix()}"


def _check_database_url(url: str) -> None:
    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://", "postgresql://")):
        raise SettingsError(
            "DATABASE_URL must be sqlite+aiosqlite:///path or postgresql+asyncpg://..., "
            f"got {url!r}"
        )


def _development_secret(data_dir: Path) -> str:
    """A random key kept under ``data_dir`` so tokens survive restarts in development."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        path.write_text(key)
        path.chmod(0o600)
        return key


def _int(
    env: Mapping[str, str], name: str, default: int, *, low: int, high: int | None = None
) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if high is None and value < low:
        raise SettingsError(f"{name} must be at least {low}, got {value}")
    if value < low or (high is not None and value > high):
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list; blanks dropped."""
    return tuple(s.strip() for s in env.get(name, "").split(",") if s.strip())


def _float(env: Mapping[str, str], name: str, default: float, *, low: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < low:
        raise SettingsError(f"{name} must be at least {low}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {list(choices)}, got {raw!r}")
    return raw


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")
