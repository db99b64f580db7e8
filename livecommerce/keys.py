"""The one Redis key scheme. Every key is built here; nothing else spells a key.

All keys start with ``lc:``. Keys of one live session share the hash tag
``{s:<id>}`` and keys of one product share ``{p:<id>}``, so a Lua script over
one session or one product never crosses Redis Cluster slots. The full table
is in ``docs/redis-keys.md``; keep the two in step.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "cart",
    "idempotency",
    "link",
    "link_tag",
    "link_visitors",
    "on_sale",
    "product_buyers",
    "product_counts",
    "product_holdinfo",
    "product_holds",
    "product_sessions",
    "product_stock",
    "product_stock_event",
    "product_tag",
    "user_feed",
    "user_tag",
    "session_banned",
    "session_chat",
    "session_chat_rate",
    "session_chat_slow",
    "session_counters",
    "session_dashboard_samples",
    "session_events",
    "session_media",
    "session_media_nodes",
    "session_nodes",
    "session_origin",
    "session_moderation",
    "session_muted",
    "session_pin",
    "session_presence",
    "session_seq",
    "session_live_start",
    "session_status",
    "session_stream_start",
    "session_taps",
    "session_tag",
    "session_uniques",
    "session_viewers_tick",
    "throttle_login_account",
    "throttle_login_address",
    "throttle_signup_address",
]


def session_tag(session_id: int) -> str:
    return f"lc:{{s:{session_id}}}"


def session_events(session_id: int) -> str:
    """Stream of the session's events; entry ids are ``<seq>-0`` (see livecommerce.sessionfeed)."""
    return f"{session_tag(session_id)}:events"


def session_seq(session_id: int) -> str:
    """Integer: the last ``seq`` given to an event of the session."""
    return f"{session_tag(session_id)}:seq"


def session_pin(session_id: int) -> str:
    """JSON of the current pin (:class:`livecommerce.hub.pins.PinState`); absent if none."""
    return f"{session_tag(session_id)}:pin"


def session_status(session_id: int) -> str:
    """String: the session's status as the hub last heard it (mirror of SQL, for snapshots)."""
    return f"{session_tag(session_id)}:status"


def session_stream_start(session_id: int) -> str:
    """String (int): unix ms of the program date-time of the first frame the HLS packager
    wrote for the show: position 0 of its stream (livecommerce.streampos)."""
    return f"{session_tag(session_id)}:stream_start"


def session_taps(session_id: int) -> str:
    """Hash ``<product id>:<unix second>`` -> taps on the pinned product's card in that
    second (highlight clips weigh them); expires a week after the last tap."""
    return f"{session_tag(session_id)}:taps"


def session_live_start(session_id: int) -> str:
    """String (int): unix ms when the show went live; positions count from it while no
    stream start is known (livecommerce.streampos)."""
    return f"{session_tag(session_id)}:live_start"


def session_chat(session_id: int) -> str:
    """List of the latest chat events' JSON, newest first (for snapshots); trimmed."""
    return f"{session_tag(session_id)}:chat"


def session_chat_rate(session_id: int, user_id: int) -> str:
    """Integer with a TTL: chat messages of one user in the current rate window."""
    return f"{session_tag(session_id)}:chatrate:{user_id}"


def session_counters(session_id: int) -> str:
    """Hash of counters for dashboards: ``chat_messages``, ``reactions``, ``pins``,
    ``viewers_now``, ``viewers_peak`` (see docs/redis-keys.md)."""
    return f"{session_tag(session_id)}:counters"


def session_uniques(session_id: int) -> str:
    """HyperLogLog of the viewers ever joined (user ids, or ``a:<conn>`` for anonymous)."""
    return f"{session_tag(session_id)}:uniques"


def session_presence(session_id: int) -> str:
    """Hash: hub process id → ``<local viewers>:<unix ms of the report>``."""
    return f"{session_tag(session_id)}:presence"


def session_viewers_tick(session_id: int) -> str:
    """Short-lived lock: the one hub process that publishes ``viewers`` this second."""
    return f"{session_tag(session_id)}:viewerstick"


def session_muted(session_id: int) -> str:
    """Sorted set: user id → unix ms until which the user may not chat."""
    return f"{session_tag(session_id)}:muted"


def session_banned(session_id: int) -> str:
    """Set of user ids banned from the session's chat."""
    return f"{session_tag(session_id)}:banned"


def session_moderation(session_id: int) -> str:
    """Hash of the session's chat rules: ``slow_mode_s`` (int, 0 = off) and
    ``blocked_words`` (JSON list of lower-case words)."""
    return f"{session_tag(session_id)}:modrules"


def session_chat_slow(session_id: int, user_id: int) -> str:
    """String SET NX PX (slow mode): present while ``user_id`` must wait to chat again."""
    return f"{session_tag(session_id)}:slow:{user_id}"


def session_dashboard_samples(session_id: int) -> str:
    """Sorted set unix ms → ``<ms>:<chat total>:<reaction total>``: counter samples of the
    last ~70 s, from which dashboards compute per-minute rates."""
    return f"{session_tag(session_id)}:dashsamples"


# --- cart: one product's stock (all under the product's hash tag, one slot) ---


def product_tag(product_id: int) -> str:
    return f"lc:{{p:{product_id}}}"


def product_stock(product_id: int) -> str:
    """Hash variant id -> units available; present only while the product is on sale."""
    return f"{product_tag(product_id)}:stock"


def product_counts(product_id: int) -> str:
    """Hash ``t:<v>`` total, ``h:<v>`` held, ``s:<v>`` sold, ``f:<pin>`` flash units sold."""
    return f"{product_tag(product_id)}:counts"


def product_holds(product_id: int) -> str:
    """Sorted set hold id -> expiry (unix ms)."""
    return f"{product_tag(product_id)}:holds"


def product_holdinfo(product_id: int) -> str:
    """Hash hold id -> JSON ``{"u": user, "p": pin, "f": flash units, "l": [[v, q], ...]}``
    and, once claimed, ``"a"``: the payment authorized for it (see ``StockStore.claim``)."""
    return f"{product_tag(product_id)}:holdinfo"


def product_buyers(product_id: int) -> str:
    """Hash user id -> units held or bought (the per-user cap)."""
    return f"{product_tag(product_id)}:buyers"


def product_sessions(product_id: int) -> str:
    """Set of live session ids the product is on sale in (stock events go there)."""
    return f"{product_tag(product_id)}:sessions"


def product_stock_event(product_id: int) -> str:
    """String: SET NX PX 250 lock so stock events are at most 4/s per product."""
    return f"{product_tag(product_id)}:stockev"


def on_sale() -> str:
    """Set of product ids whose stock is in Redis (the reaper and reconcile walk it)."""
    return "lc:onsale"


# --- cart: per user (hash tag ``{u:<id>}``) ---


def user_tag(user_id: int) -> str:
    return f"lc:{{u:{user_id}}}"


def cart(user_id: int) -> str:
    """Hash ``<product>:<variant>`` -> quantity (plus ``session`` -> session id); idle TTL."""
    return f"{user_tag(user_id)}:cart"


def idempotency(user_id: int, key: str) -> str:
    """String JSON: the state/result of a checkout with this ``Idempotency-Key``."""
    return f"{user_tag(user_id)}:idem:{key}"


def user_feed(user_id: int) -> str:
    """Sharded pub/sub channel (not a key): frames for the user's own hub connections
    (``order_status``); see livecommerce.userfeed."""
    return f"{user_tag(user_id)}:feed"


def session_media(session_id: int) -> str:
    """Hash: the session's stream health (streaming.stats), rewritten every ~1 s; expires
    a few seconds after the relay stops reporting."""
    return f"{session_tag(session_id)}:media"


def session_media_nodes(session_id: int) -> str:
    """Hash node id -> JSON health snapshot of the show on that node (streaming.stats);
    summed into ``session_media``; entries older than a few seconds are dropped."""
    return f"{session_tag(session_id)}:medianodes"


def session_origin(session_id: int) -> str:
    """String ``{"id": node id, "url": node URL}`` SET NX PX: the show's origin lease,
    held by the node its host publishes to, refreshed every second while it publishes."""
    return f"{session_tag(session_id)}:origin"


def session_nodes(session_id: int) -> str:
    """Hash node id -> JSON ``{"url", "role", "upstream", "until_ms"}``: every node that
    serves the show's video (origin, edges, nodes with viewers waiting), refreshed
    every second; an entry past ``until_ms`` is a dead node's."""
    return f"{session_tag(session_id)}:nodes"


# --- affiliate links (hash tag ``{l:<code>}``: one link's keys share a slot) ---


def link_tag(code: str) -> str:
    return f"lc:{{l:{code}}}"


def link(code: str) -> str:
    """Hash: the link's target, written when it is made (``/l/<code>`` reads only this):
    ``i`` link id, ``c`` creator id, ``k`` target kind, ``p`` product id, ``s`` session
    id, ``h`` the creator's handle, ``g`` ``1`` while the product is withdrawn, and ``n``
    its click count (HINCRBY). A code unknown to SQL is cached as ``x`` = ``1`` with a
    short TTL (see livecommerce.creators.links)."""
    return f"{link_tag(code)}:link"


def link_visitors(code: str) -> str:
    """HyperLogLog of the link's visitors (``lc_v`` cookie ids): unique clicks."""
    return f"{link_tag(code)}:visitors"


# --- sign-in throttles (one key per window; the script touches one key per call) ---


def throttle_login_account(email: str) -> str:
    """Sorted set attempt id -> unix ms: sign-in attempts on one e-mail address (known
    or not), kept for the window. The address is hashed: no e-mail in key names."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"lc:throttle:login:account:{digest}"


def throttle_login_address(address: str) -> str:
    """Sorted set attempt id -> unix ms: sign-in attempts from one client address."""
    return f"lc:throttle:login:addr:{address}"


def throttle_signup_address(address: str) -> str:
    """Sorted set attempt id -> unix ms: sign-ups from one client address."""
    return f"lc:throttle:signup:addr:{address}"
