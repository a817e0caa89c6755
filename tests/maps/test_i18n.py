"""Bokmål and English strings: both languages for every message, one number format rule."""

from __future__ import annotations

from maps.i18n import LANGS, MESSAGES, format_number, labels, parse_lang, t


def test_every_message_has_both_languages() -> None:
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGS), key
        assert all(v.strip() for v in texts.values()), key


def test_parse_lang_defaults_to_bokmal() -> None:
    assert parse_lang(None) == "nb"
    assert parse_lang("") == "nb"
    assert parse_lang("EN") == "en"
    assert parse_lang("en-GB") == "en"
    assert parse_lang("no") == "nb"
    assert parse_lang("de") == "nb"


def test_numbers_in_both_languages() -> None:
    assert format_number(12345.67, 1, "nb") == "12\u00a0345,7"
    assert format_number(12345.67, 1, "en") == "12,345.7"
    assert format_number(0.04, 1, "nb") == "0,0"


def test_labels_for_the_browser() -> None:
    nb = labels(("status.",), "nb")
    assert nb["status.pre-approved"] == "Ferdig regulert"
    assert t("status.pre-approved", "en") == "Zoned and ready"
