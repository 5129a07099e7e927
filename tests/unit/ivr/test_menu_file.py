from __future__ import annotations

from pathlib import Path

import pytest

from ivr.errors import MenuFileError
from ivr.menu_file import load_menu, parse_menu

DEFAULT = (Path(__file__).resolve().parents[3] / "ivr" / "menus" / "default.toml").read_text(
    encoding="utf-8"
)


def test_default_menu_is_mandarin_first_and_complete():
    menu = load_menu()
    assert menu.languages == ("zh", "en")
    for prompt in menu.prompts.values():
        assert [lang for lang, _ in prompt.texts] == ["zh", "en"]
    assert menu.level_menu.question.max_digits == 1
    assert menu.site_code.attempts == 3
    assert menu.survey.enabled


def test_bad_value_names_key_and_line():
    text = DEFAULT.replace("attempts = 3\noperator_key", "attempts = 0\noperator_key")
    with pytest.raises(MenuFileError) as info:
        parse_menu(text, source="menu.toml")
    line = text.splitlines().index("attempts = 0") + 1
    assert f"level_menu.attempts (line {line})" in str(info.value)
    assert "menu.toml" in str(info.value)


def test_unknown_prompt_reference():
    text = DEFAULT.replace('prompt = "connecting"', 'prompt = "nope"')
    with pytest.raises(MenuFileError, match="connecting.prompt: prompt 'nope' is not defined"):
        parse_menu(text)


def test_missing_translation():
    text = DEFAULT.replace('en = "That site code is not valid."\n', "")
    with pytest.raises(
        MenuFileError, match="prompts.site-code-invalid: missing text for language 'en'"
    ):
        parse_menu(text)


def test_unknown_key_is_refused():
    with pytest.raises(MenuFileError, match=r"site_code.max_digitz"):
        parse_menu(DEFAULT.replace("max_digits = 8", "max_digitz = 8"))


def test_not_toml():
    with pytest.raises(MenuFileError, match="not valid TOML"):
        parse_menu("languages = [")


def test_operator_key_cannot_shadow_a_level():
    with pytest.raises(MenuFileError, match="operator_key"):
        parse_menu(DEFAULT.replace('operator_key = "0"', 'operator_key = "2"'))


def test_missing_file(tmp_path: Path):
    with pytest.raises(MenuFileError, match="cannot read menu file"):
        load_menu(tmp_path / "nope.toml")
