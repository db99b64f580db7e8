"""The pages' six languages: every catalog has every English key with the same
placeholders, every key the pages use is in the English catalog, and the server picks
the page's language from the ``lang`` cookie, else ``Accept-Language``, else English.

The first two need no server: a key added to a page and forgotten in a catalog fails
here, with the file and key named.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from livecommerce.db.models import Role, SessionStatus
from livecommerce.http.security import inline_script_hashes
from livecommerce.hub.protocol import REACTION_KINDS
from livecommerce.moderation.schemas import ACTIONS
from livecommerce.web.component import PAGES
from livecommerce.web.language import LANGUAGES, choose

STATIC = Path(__file__).resolve().parent.parent / "livecommerce" / "web" / "static"
CATALOGS = STATIC / "i18n"
PLACEHOLDER = re.compile(r"\{(\w+)\}")

# How the pages name a key: data-i18n="k", data-i18n-attr="attr:k;attr:k", t("k", ...),
# tn("k", n) (the plural forms k_one, k_other ...), and t(`prefix${...}`) built keys.
DATA_I18N = re.compile(r"""data-i18n=["']([^"']+)["']""")
DATA_I18N_ATTR = re.compile(r"""data-i18n-attr=["']([^"']+)["']""")
# The JS form ("data-i18n": "k") of the same attributes, as el() is given them.
JS_DATA_I18N = re.compile(r"""["']data-i18n["']\s*:\s*["']([^"']+)["']""")
JS_DATA_I18N_ATTR = re.compile(r"""["']data-i18n-attr["']\s*:\s*["']([^"']+)["']""")
T_CALL = re.compile(r"""\bt\(\s*["']([^"']+)["']""")
TN_CALL = re.compile(r"""\btn\(\s*["']([^"']+)["']""")
T_BUILT = re.compile(r"""\bt\(\s*`([^`$]*)\$\{""")


def _catalog(lang: str) -> dict[str, str]:
    data = json.loads((CATALOGS / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict), lang
    return data


def _sources() -> list[Path]:
    # i18n.js itself only passes keys through.
    return sorted(p for p in [*STATIC.glob("*.html"), *STATIC.glob("*.js")] if p.name != "i18n.js")


def test_catalogs_are_the_six_languages_each_one_flat_sorted_object() -> None:
    assert sorted(p.stem for p in CATALOGS.glob("*.json")) == sorted(LANGUAGES)
    for lang in LANGUAGES:
        path = CATALOGS / f"{lang}.json"
        data = _catalog(lang)
        bad = {k: v for k, v in data.items() if not isinstance(v, str)}
        assert not bad, f"{path.name}: values must be strings: {bad}"
        # The one way they are written (a read-modify-write by json.dump), so concurrent
        # edits merge and a diff shows only the keys that changed.
        canonical = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        assert path.read_text(encoding="utf-8") == canonical, f"{path.name} is not json.dump'd"
        misnamed = [k for k in data if not re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_]+", k)]
        assert not misnamed, f"{path.name}: keys are <page>.<name>: {misnamed}"


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_english_key_is_translated_with_the_same_placeholders(lang: str) -> None:
    english, other = _catalog("en"), _catalog(lang)
    missing = sorted(set(english) - set(other))
    assert not missing, f"{lang}.json lacks {missing}"
    empty = sorted(k for k in english if not other[k].strip())
    assert not empty, f"{lang}.json has empty {empty}"
    mismatched = {
        k: (english[k], other[k])
        for k in english
        if set(PLACEHOLDER.findall(english[k])) != set(PLACEHOLDER.findall(other[k]))
    }
    assert not mismatched, f"{lang}.json placeholders differ from en.json: {mismatched}"
    extra = sorted(set(other) - set(english))
    assert not extra, f"{lang}.json has keys en.json lacks: {extra}"


def test_every_key_the_pages_use_is_in_the_english_catalog() -> None:
    english = _catalog("en")
    missing: list[str] = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        keys = [*DATA_I18N.findall(text), *JS_DATA_I18N.findall(text), *T_CALL.findall(text)]
        for spec in [*DATA_I18N_ATTR.findall(text), *JS_DATA_I18N_ATTR.findall(text)]:
            keys += [pair.split(":", 1)[1].strip() for pair in spec.split(";") if ":" in pair]
        keys += [f"{k}_other" for k in TN_CALL.findall(text)]
        missing += [f"{path.name}: {k}" for k in keys if k not in english]
        # A built key (t(`common.status_${s}`)): at least one key has its prefix.
        missing += [
            f"{path.name}: {prefix}*"
            for prefix in T_BUILT.findall(text)
            if not any(k.startswith(prefix) for k in english)
        ]
    assert not missing, f"keys used by the pages but not in en.json: {missing}"


def test_the_keys_built_from_values_cover_every_value() -> None:
    # Pages build these keys from what the API sends; every value needs its text.
    english = _catalog("en")
    wanted = [
        *(f"common.status_{s.value}" for s in SessionStatus),
        *(f"common.role_{r.value}" for r in Role),
        *(f"moderate.action_{a}" for a in ACTIONS),
        *(f"watch.react_{k}" for k in REACTION_KINDS),
    ]
    assert not [k for k in wanted if k not in english]


def test_a_missing_key_fails_the_check() -> None:
    # The check above can fail: a page naming a key en.json lacks is reported.
    text = '<b data-i18n="index.no_such_key">x</b> t("watch.also_missing")'
    english = _catalog("en")
    found = [*DATA_I18N.findall(text), *T_CALL.findall(text)]
    assert found == ["index.no_such_key", "watch.also_missing"]
    assert all(k not in english for k in found)


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        (None, "tr-TR,tr;q=0.9", "tr"),
        (None, "de-DE,de;q=0.9,en;q=0.8", "de"),
        (None, "xx-YY, zz", "en"),
        (None, None, "en"),
        (None, "", "en"),
        (None, "tr;q=0, fr;q=0.5", "fr"),
        (None, "it;q=0.3, id;q=0.7", "id"),
        (None, "*;q=0.5, fr-CA", "fr"),
        (None, "de;q=abc, it", "it"),
        ("de", "tr-TR,tr;q=0.9", "de"),
        ("xx", "it", "it"),
        ("FR", None, "fr"),
    ],
)
def test_choose(cookie: str | None, accept: str | None, expected: str) -> None:
    assert choose(cookie, accept) == expected


def _html_lang(body: str) -> str:
    match = re.search(r'<html lang="([^"]*)">', body)
    assert match, body[:200]
    return match.group(1)


async def test_the_server_writes_the_chosen_language_into_the_page(
    client: httpx.AsyncClient,
) -> None:
    async def lang(page: str, accept: str | None = None, cookie: str | None = None) -> str:
        headers = {"Accept-Language": accept} if accept is not None else {}
        if cookie is not None:
            headers["Cookie"] = f"lang={cookie}"
        r = await client.get(page, headers=headers)
        assert r.status_code == 200, r.text
        vary = {v.strip().lower() for v in r.headers["vary"].split(",")}
        assert {"accept-language", "cookie"} <= vary
        assert r.headers["content-language"] == _html_lang(r.text)
        return _html_lang(r.text)

    assert await lang("/", "tr-TR,tr;q=0.9") == "tr"
    assert await lang("/watch/1", "de-DE,de;q=0.9") == "de"
    assert await lang("/login", "tr-TR,tr;q=0.9", cookie="it") == "it"  # the cookie wins
    assert await lang("/", "pt-BR,pt;q=0.9") == "en"  # none we have
    assert await lang("/", "fr;q=0, id;q=0.2") == "id"  # q=0: not French
    assert await lang("/host/1", "fr;q=0") == "en"
    assert await lang("/moderate/1") == "en"


async def test_a_page_revalidates_per_language(client: httpx.AsyncClient) -> None:
    english = await client.get("/", headers={"Accept-Language": "en"})
    german = await client.get("/", headers={"Accept-Language": "de"})
    assert english.headers["etag"] != german.headers["etag"]
    again = await client.get(
        "/", headers={"Accept-Language": "en", "If-None-Match": english.headers["etag"]}
    )
    assert again.status_code == 304 and again.headers["content-language"] == "en"
    # the same validator asked for in another language is not a match: the German page
    r = await client.get(
        "/", headers={"Accept-Language": "de", "If-None-Match": english.headers["etag"]}
    )
    assert r.status_code == 200 and 'lang="de"' in r.text


async def test_every_page_keeps_its_inline_scripts_allowed_in_every_language(
    client: httpx.AsyncClient,
) -> None:
    pages = [url.replace("{session_id:int}", "1") for url in PAGES]
    pages = [re.sub(r"\{[^}]+\}", "1", url) for url in pages]
    for page in pages:
        for lang in LANGUAGES:
            r = await client.get(page, headers={"Cookie": f"lang={lang}"})
            assert r.status_code == 200, (page, r.status_code)
            assert _html_lang(r.text) == lang
            csp = r.headers["content-security-policy"]
            # The hashes the browser computes over the page it got are in its CSP.
            assert all(h in csp for h in inline_script_hashes(r.text)), (page, lang)
