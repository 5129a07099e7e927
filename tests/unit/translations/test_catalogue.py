"""The catalogue is complete and in step: every message the product can show (templates,
page scripts, API errors, notices, paper pads, the monthly report) has a Chinese text
with the same placeholders, the committed .mo is the compiled .po, and no user-facing
English is left outside the catalogue."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from babel.util import pathmatch

from console.pages import TEMPLATES
from translations import LOCALE_DIR, catalogue_for_scripts, translator

ROOT = Path(__file__).parents[3]
PO = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "hotline.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "t": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


BABEL_CFG = ROOT / "translations" / "babel.cfg"


def _extracted() -> dict[str, str]:
    """Every marked message of the product, from the sources babel.cfg names (the same
    mapping scripts/catalogue extracts with)."""
    with BABEL_CFG.open(encoding="utf-8") as cfg:
        methods, options = parse_mapping_cfg(cfg, filename=str(BABEL_CFG))
    found: dict[str, str] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=methods, options_map=options, keywords=KEYWORDS
    ):
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found[msgid] = filename
    return found


def test_every_source_with_messages_is_mapped_in_babel_cfg() -> None:
    """A package that marks texts with `_()`/`N_()` but is missing from babel.cfg would
    slip past both scripts/catalogue and the test above: name it here instead."""
    with BABEL_CFG.open(encoding="utf-8") as cfg:
        methods, _options = parse_mapping_cfg(cfg, filename=str(BABEL_CFG))
    mapped = [pattern for pattern, method in methods if method == "python"]
    keywords = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
    unmapped = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        where = path.relative_to(ROOT).as_posix()
        if where.startswith(("tests/", "sim/", ".venv/", "bench/")) or any(
            pathmatch(pattern, where) for pattern in mapped
        ):
            continue
        with path.open("rb") as source:
            if any(extract("python", source, keywords=keywords)):
                unmapped.append(where)
    # Templates and page scripts: `{{ _(` and `t("` mark their messages.
    others = [pattern for pattern, method in methods if method != "python"]
    marked = re.compile(r"""\{\{-? ?_\(|(?<![\w.$])t\(["'`]""")
    for path in sorted([*ROOT.glob("*/**/*.html"), *ROOT.glob("*/**/*.js")]):
        where = path.relative_to(ROOT).as_posix()
        if where.startswith(("tests/", "sim/", ".venv/", "artifacts/")) or any(
            pathmatch(pattern, where) for pattern in others
        ):
            continue
        if marked.search(path.read_text(encoding="utf-8", errors="replace")):
            unmapped.append(where)
    assert not unmapped, f"add these to translations/babel.cfg: {unmapped}"


def _po() -> Catalog:
    with PO.open("rb") as handle:
        return read_po(handle, locale="zh_CN")


def test_every_marked_message_has_a_chinese_text_with_the_same_placeholders() -> None:
    catalogue = _po()
    extracted = _extracted()
    assert len(extracted) > 300, "extraction found too little: is the mapping right?"
    # Notices, pads and the report are in the mapping too, not only the console.
    sources = {Path(where).parts[0] for where in extracted.values()}
    assert {"console", "supervision", "fallback"} <= sources, sources
    problems = []
    for msgid, where in sorted(extracted.items()):
        message = catalogue.get(msgid)
        if message is None or not message.string:
            problems.append(f"untranslated ({where}): {msgid!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy ({where}): {msgid!r}")
        elif sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(message.string)):
            problems.append(f"placeholders differ: {msgid!r} -> {message.string!r}")
    assert not problems, "run scripts/catalogue and translate:\n" + "\n".join(problems)


def test_the_committed_mo_is_the_compiled_po() -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _po())
    compiled.seek(0)
    fresh = {m.id: m.string for m in read_mo(compiled) if m.id}
    with MO.open("rb") as handle:
        committed = {m.id: m.string for m in read_mo(handle) if m.id}
    assert committed == fresh, "hotline.mo is stale: run scripts/catalogue and commit it"


def test_scripts_and_server_read_the_same_texts() -> None:
    scripts = catalogue_for_scripts("zh-CN")
    server = translator("zh-CN")
    assert scripts["Ready"] == server.gettext("Ready") == "就绪"
    assert all(server.gettext(msgid) == text for msgid, text in scripts.items())
    assert catalogue_for_scripts("en") == {}


# --- no English left outside the catalogue ------------------------------------------------

# Words that stay as they are in a Chinese page: key names, the language switch, product
# names and abbreviations Chinese offices use as such, and a sample ticket number.
ALLOWED_WORDS = frozenset(
    {"Alt", "Ctrl", "Enter", "Esc", "English", "RMA", "AMI", "HL", "Redis", "JSON", "km"}
)
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


class _VisibleText(HTMLParser):
    """Text a person reads or hears: text nodes (not scripts) and labelling attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        for name, value in attrs:
            if name in {"placeholder", "aria-label", "title", "alt"} and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.texts.append(data)


def _render(name: str, language: str) -> str:
    gettext = translator(language).gettext
    user = SimpleNamespace(username="值班员", role=SimpleNamespace(value="supervisor"))
    context: dict[str, Any] = {
        "lang": language,
        "timezone": "Asia/Shanghai",
        "catalogue": {},
        "_": gettext,
        "gettext": gettext,
        "ngettext": translator(language).ngettext,
        "user": user,
        "page": name,
        "error": None,
        "username": "",
    }
    return TEMPLATES.env.get_template(name).render(context)


@pytest.mark.parametrize("name", ["login.html", "agent.html", "supervisor.html", "forbidden.html"])
def test_templates_in_chinese_show_no_english(name: str) -> None:
    page = _render(name, "zh-CN")
    assert '<html lang="zh-CN"' in page
    parser = _VisibleText()
    parser.feed(page)
    english = {
        word
        for text in parser.texts
        for word in LATIN_WORD.findall(text)
        if word not in ALLOWED_WORDS
    }
    assert not english, f"{name} shows English outside the catalogue: {sorted(english)}"


def test_templates_in_english_are_english() -> None:
    page = _render("agent.html", "en")
    assert '<html lang="en"' in page and "Save ticket" in page and "保存" not in page


# Literals of the page scripts that are not words for people: selectors, class lists,
# header and API names.
SCRIPT_LITERALS = frozenset(
    {
        "use strict",
        "msg ok",
        "msg error",
        "Notification",
        "Accept-Language",
        "Content-Type",
        "Key",
        "Slash",
        "Redis",
        "Asia/Shanghai",
    }
)


def _script_literals(source: str) -> list[tuple[str, str]]:
    """(text before the literal, literal) for each string and template literal, with the
    `${...}` parts of template literals scanned as code (their literals count too)."""
    found: list[tuple[str, str]] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i) if "\n" in source[i:] else n
            continue
        if source.startswith("/*", i):
            i = source.find("*/", i) + 2
            continue
        if c in "\"'":
            j = i + 1
            while source[j] != c:
                j += 2 if source[j] == "\\" else 1
            found.append((source[max(0, i - 16) : i], source[i + 1 : j]))
            i = j + 1
            continue
        if c == "`":
            j, text, depth_start = i + 1, [], i
            while source[j] != "`":
                if source[j] == "\\":
                    text.append(source[j : j + 2])
                    j += 2
                elif source.startswith("${", j):
                    depth, k = 1, j + 2
                    while depth:
                        depth += {"{": 1, "}": -1}.get(source[k], 0)
                        if source[k] == "`":  # a nested template: skip it whole
                            k = source.find("`", k + 1)
                        k += 1
                    found.extend(_script_literals(source[j + 2 : k - 1]))
                    text.append(" ")
                    j = k
                else:
                    text.append(source[j])
                    j += 1
            found.append((source[max(0, depth_start - 16) : depth_start], "".join(text)))
            i = j + 1
            continue
        i += 1
    return found


def _is_words_for_people(literal: str) -> bool:
    if literal in SCRIPT_LITERALS or literal.strip() == "":
        return False
    if re.match(r"[#./]", literal) or re.search(r"[\[\]>]", literal):  # selectors, paths
        return False
    sentence = re.search(r"[A-Za-z]{2,}[,.:;!?]?\s+[A-Za-z]{2,}", literal)
    return bool(sentence) or bool(re.fullmatch(r"[A-Z][a-z]+[.!…]?", literal.strip()))


def _for_people(before: str, literal: str) -> bool:
    """A literal people would read: not a t() id, not a class list, but words."""
    if before.endswith("t(") or re.search(r"class(Name)?\s*[:=]\s*$", before):
        return False
    return _is_words_for_people(literal)


@pytest.mark.parametrize("script", sorted((ROOT / "console" / "static").glob("*.js")))
def test_page_scripts_say_nothing_outside_the_catalogue(script: Path) -> None:
    untranslated = [
        literal
        for before, literal in _script_literals(script.read_text(encoding="utf-8"))
        if _for_people(before, literal)
    ]
    assert not untranslated, f"{script.name}: wrap these in t(): {untranslated}"


def test_the_script_check_catches_a_bare_sentence() -> None:
    source = 'flash(x, "Saved the ticket.", true); flash(y, t("Saved %(n)s."), true);'
    found = [lit for before, lit in _script_literals(source) if _for_people(before, lit)]
    assert found == ["Saved the ticket."]
