"""Loading the menu data file (TOML), validated with pydantic into `ivr.menu.Menu`."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ivr.errors import MenuFileError
from ivr.menu import LevelMenu, Menu, PromptText, Question, SurveyMenu

DEFAULT_MENU = "default.toml"
_KEY = r"^[0-9*#]$"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"  # a file name under the sounds dir


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Greeting(_Strict):
    prompt: str = Field(pattern=_NAME)


class _Outage(_Strict):
    offer_prompt: str = Field(pattern=_NAME)
    join_key: str = Field("1", pattern=_KEY)
    timeout_ms: int = Field(5000, ge=500, le=60000)


class _Question(_Strict):
    prompt: str = Field(pattern=_NAME)
    invalid_prompt: str | None = Field(None, pattern=_NAME)
    timeout_prompt: str | None = Field(None, pattern=_NAME)
    timeout_ms: int = Field(6000, ge=500, le=60000)
    attempts: int = Field(3, ge=1, le=10)


class _SiteCode(_Question):
    max_digits: int = Field(8, ge=1, le=32)


class _LevelMenu(_Question):
    operator_key: str = Field("0", pattern=_KEY)
    repeat_key: str = Field("*", pattern=_KEY)
    max_repeats: int = Field(3, ge=0, le=10)
    default: Literal["operator", "1", "2", "3", "4"] = "operator"

    @model_validator(mode="after")
    def _keys_differ(self) -> _LevelMenu:
        keys = {"1", "2", "3", "4"}
        if self.operator_key in keys or self.repeat_key in keys:
            raise ValueError("operator_key and repeat_key must not be a level digit 1-4")
        if self.operator_key == self.repeat_key:
            raise ValueError("operator_key and repeat_key must differ")
        return self


class _Connecting(_Strict):
    prompt: str | None = Field(None, pattern=_NAME)


class _RecordingNotice(_Strict):
    prompt: str | None = Field(None, pattern=_NAME)


class _Survey(_Question):
    enabled: bool = True
    thanks_prompt: str | None = Field(None, pattern=_NAME)


class _MenuFile(_Strict):
    languages: list[str] = Field(min_length=1)
    voices: dict[str, str]
    greeting: _Greeting
    outage: _Outage
    site_code: _SiteCode
    level_menu: _LevelMenu
    connecting: _Connecting = _Connecting()
    recording_notice: _RecordingNotice = _RecordingNotice()
    survey: _Survey
    prompts: dict[str, dict[str, str]]

    @model_validator(mode="after")
    def _cross_check(self) -> _MenuFile:
        for lang in self.languages:
            if lang not in self.voices:
                raise ValueError(f"voices: no voice for language {lang!r}")
        for name, texts in self.prompts.items():
            if not re.match(_NAME, name):
                raise ValueError(f"prompts.{name}: not a valid prompt name")
            for lang in self.languages:
                if not texts.get(lang, "").strip():
                    raise ValueError(f"prompts.{name}: missing text for language {lang!r}")
            extra = set(texts) - set(self.languages)
            if extra:
                raise ValueError(f"prompts.{name}: unknown language(s) {sorted(extra)}")
        for where, ref in self._referenced():
            if ref is not None and ref not in self.prompts:
                raise ValueError(f"{where}: prompt {ref!r} is not defined in [prompts]")
        return self

    def _referenced(self) -> list[tuple[str, str | None]]:
        refs: list[tuple[str, str | None]] = [
            ("greeting.prompt", self.greeting.prompt),
            ("outage.offer_prompt", self.outage.offer_prompt),
            ("connecting.prompt", self.connecting.prompt),
            ("recording_notice.prompt", self.recording_notice.prompt),
            ("survey.thanks_prompt", self.survey.thanks_prompt),
        ]
        for section, q in (
            ("site_code", self.site_code),
            ("level_menu", self.level_menu),
            ("survey", self.survey),
        ):
            refs += [
                (f"{section}.prompt", q.prompt),
                (f"{section}.invalid_prompt", q.invalid_prompt),
                (f"{section}.timeout_prompt", q.timeout_prompt),
            ]
        return refs

    def to_menu(self) -> Menu:
        def question(q: _Question, max_digits: int) -> Question:
            return Question(
                q.prompt, q.timeout_ms, max_digits, q.attempts, q.invalid_prompt, q.timeout_prompt
            )

        lm = self.level_menu
        return Menu(
            languages=tuple(self.languages),
            voices=dict(self.voices),
            prompts={
                name: PromptText(name, tuple((lang, texts[lang]) for lang in self.languages))
                for name, texts in self.prompts.items()
            },
            greeting=self.greeting.prompt,
            outage_offer=Question(self.outage.offer_prompt, self.outage.timeout_ms, 1, 1),
            outage_join_key=self.outage.join_key,
            site_code=question(self.site_code, self.site_code.max_digits),
            level_menu=LevelMenu(
                question(lm, 1), lm.operator_key, lm.repeat_key, lm.max_repeats, lm.default
            ),
            connecting=self.connecting.prompt,
            recording_notice=self.recording_notice.prompt,
            survey=SurveyMenu(
                self.survey.enabled, question(self.survey, 1), self.survey.thanks_prompt
            ),
        )


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line number of a dotted key path in the TOML text."""
    keys = [str(p) for p in loc if not isinstance(p, int)]
    if not keys:
        return None
    section_line = 0
    lines = text.splitlines()
    if len(keys) > 1:
        header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(map(re.escape, keys[:-1])) + r"\s*\]")
        for i, line in enumerate(lines):
            if header.match(line):
                section_line = i
                break
    key = re.compile(r"^\s*" + re.escape(keys[-1]) + r"\s*=")
    for i in range(section_line, len(lines)):
        if key.match(lines[i]):
            return i + 1
    if section_line:
        return section_line + 1
    return None


def parse_menu(text: str, *, source: str = "<menu>") -> Menu:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MenuFileError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return _MenuFile.model_validate(data).to_menu()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_of(text, loc)
            at = f" (line {line})" if line else ""
            problems.append(f"{where}{at}: {err['msg']}")
        raise MenuFileError(f"{source}: invalid menu: " + "; ".join(problems)) from exc


def load_menu(path: Path | None = None) -> Menu:
    """Load `path`, or the default menu shipped in `ivr/menus/` when None."""
    if path is None:
        text = resources.files("ivr.menus").joinpath(DEFAULT_MENU).read_text(encoding="utf-8")
        return parse_menu(text, source=f"ivr/menus/{DEFAULT_MENU}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MenuFileError(f"cannot read menu file {path}: {exc}") from exc
    return parse_menu(text, source=str(path))
