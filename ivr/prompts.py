"""Rendering the menu's prompts to 8 kHz mono 16-bit WAV files for Asterisk.

Each prompt is spoken in the menu's languages in order (Mandarin, then English by
default) and stored as ``<sounds_dir>/<name>.wav``; the IVR plays it by absolute path
without extension. Every (voice, text) segment is rendered once with pyttsx3 (espeak-ng)
in a worker thread, converted with sox, and cached under ``<sounds_dir>/.cache`` by a
hash of voice and text, so unchanged prompts are not rendered again.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from ivr.errors import PromptBuildError
from ivr.menu import Menu, Outage, PromptText

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
# Bump when the conversion changes, so cached segments are re-rendered.
FORMAT_VERSION = "wav8k-mono-s16-norm3-pad0.3-v2"
CACHE_DIR = ".cache"
MANIFEST = "manifest.json"
Progress = Callable[[str, int, int], None]  # (prompt name, prompts done, prompts total)


class SpeechEngine(Protocol):
    """Renders text to a WAV file. Blocking; `build_prompts` calls it in a worker thread."""

    def render(self, text: str, voice: str, out: Path) -> None: ...


# espeak-ng keeps process-global state (a single synth callback). A second pyttsx3 engine,
# or the garbage collection of an old one, silently clears the other's callback and the
# next file comes out empty. So: one engine per driver for the whole process, used by one
# thread at a time.
_ENGINES: dict[str, Any] = {}
_ENGINE_LOCK = threading.Lock()
# Drop the engines while the interpreter is still whole (pyttsx3's __del__ needs it).
atexit.register(_ENGINES.clear)


class Pyttsx3Engine:
    """pyttsx3 (espeak-ng driver by default); `render` blocks: run it in a thread."""

    def __init__(self, driver: str = "espeak", *, timeout: float = 60.0) -> None:
        self.driver = driver
        self.timeout = timeout

    def _engine(self) -> Any:
        engine = _ENGINES.get(self.driver)
        if engine is None:
            try:
                import pyttsx3
            except ImportError as exc:
                raise PromptBuildError(f"pyttsx3 is not installed: {exc}") from exc
            try:
                engine = pyttsx3.init(self.driver)
            except Exception as exc:  # pyttsx3 raises bare errors when the library is absent
                raise PromptBuildError(
                    f"TTS engine {self.driver!r} is not available ({exc}); "
                    "install espeak-ng (Debian: apt-get install espeak-ng)"
                ) from exc
            _ENGINES[self.driver] = engine
        return engine

    def render(self, text: str, voice: str, out: Path) -> None:
        with _ENGINE_LOCK:
            engine = self._engine()
            if voice not in {v.id for v in engine.getProperty("voices")}:
                raise PromptBuildError(f"the TTS engine has no voice {voice!r}")
            # espeak-ng synthesises asynchronously in AUDIO_OUTPUT_RETRIEVAL mode and the
            # driver's runAndWait can return before the file is written (it does under
            # load). "finished-utterance" is notified only after the WAV is on disk.
            finished = threading.Event()
            token = engine.connect("finished-utterance", lambda **_kw: finished.set())
            try:
                engine.setProperty("voice", voice)
                engine.save_to_file(text, str(out))
                # The espeak driver prints "Audio saved to ..." on stdout: keep CLI output clean.
                with contextlib.redirect_stdout(io.StringIO()):
                    engine.runAndWait()
                    done = finished.wait(self.timeout)
            finally:
                engine.disconnect(token)
            if not done:
                raise PromptBuildError(f"the TTS engine did not finish {text[:30]!r} in time")
        if not out.exists() or out.stat().st_size <= 44:
            raise PromptBuildError(f"the TTS engine produced no audio for {text[:30]!r}")


@dataclass(frozen=True)
class BuildReport:
    sounds_dir: Path
    rendered: tuple[str, ...]  # prompts (re)assembled in this run
    unchanged: tuple[str, ...]  # prompts whose texts and voices did not change
    segments_rendered: int  # TTS runs in this run
    segments_cached: int  # segments taken from the cache

    @property
    def total(self) -> int:
        return len(self.rendered) + len(self.unchanged)


def segment_key(voice: str, text: str) -> str:
    return hashlib.sha256(f"{FORMAT_VERSION}\0{voice}\0{text}".encode()).hexdigest()[:32]


async def _run(*argv: str) -> None:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except FileNotFoundError as exc:
        raise PromptBuildError(f"{argv[0]} is not installed (Debian: apt-get install sox)") from exc
    _out, err = await proc.communicate()
    if proc.returncode != 0:
        raise PromptBuildError(f"{argv[0]} failed ({proc.returncode}): {err.decode()[-300:]}")


def _read_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_manifest(path: Path, manifest: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


async def build_prompts(
    menu: Menu,
    sounds_dir: Path,
    *,
    progress: Progress | None = None,
    engine: SpeechEngine | None = None,
    extra: Iterable[PromptText] = (),
) -> BuildReport:
    """Render every prompt of `menu` (and `extra` ones, e.g. an outage announcement)."""
    if shutil.which("sox") is None:
        raise PromptBuildError("sox is not installed (Debian: apt-get install sox)")
    tts: SpeechEngine = Pyttsx3Engine() if engine is None else engine
    cache = sounds_dir / CACHE_DIR
    await asyncio.to_thread(cache.mkdir, parents=True, exist_ok=True)
    manifest_path = cache / MANIFEST
    manifest = await asyncio.to_thread(_read_manifest, manifest_path)
    prompts = [*menu.prompts.values(), *extra]
    rendered: list[str] = []
    unchanged: list[str] = []
    fresh = cached = 0
    try:
        for done, prompt in enumerate(prompts, start=1):
            segments: list[Path] = []
            for lang, text in prompt.texts:
                voice = menu.voices[lang]
                key = segment_key(voice, text)
                segment = cache / f"{key}.wav"
                if await asyncio.to_thread(segment.exists):
                    cached += 1
                else:
                    raw = cache / f"{key}.raw.wav"
                    await asyncio.to_thread(tts.render, text, voice, raw)
                    await _run(
                        "sox",
                        str(raw),
                        "-c",
                        "1",
                        "-b",
                        "16",
                        "-e",
                        "signed-integer",
                        str(segment),
                        "rate",
                        str(SAMPLE_RATE),
                        "norm",
                        "-3",
                        "pad",
                        "0",
                        "0.3",
                    )
                    await asyncio.to_thread(raw.unlink)
                    fresh += 1
                segments.append(segment)
            combined = hashlib.sha256("".join(p.stem for p in segments).encode()).hexdigest()
            out = sounds_dir / f"{prompt.name}.wav"
            if manifest.get(prompt.name) == combined and await asyncio.to_thread(out.exists):
                unchanged.append(prompt.name)
            else:
                tmp = sounds_dir / f".{prompt.name}.tmp.wav"
                await _run("sox", *map(str, segments), str(tmp))
                await asyncio.to_thread(os.replace, tmp, out)
                manifest[prompt.name] = combined
                rendered.append(prompt.name)
                log.debug("prompt %s rendered to %s", prompt.name, out)
            if progress is not None:
                progress(prompt.name, done, len(prompts))
    finally:
        await asyncio.to_thread(_write_manifest, manifest_path, manifest)
    return BuildReport(sounds_dir, tuple(rendered), tuple(unchanged), fresh, cached)


async def render_announcement(
    menu: Menu,
    sounds_dir: Path,
    incident_id: str,
    texts: Mapping[str, str],
    *,
    engine: SpeechEngine | None = None,
) -> Outage:
    """Render an outage announcement (one text per menu language) and return the `Outage`
    that `IvrModePort.current_outage()` should hand to the IVR while it is active."""
    missing = [lang for lang in menu.languages if not texts.get(lang, "").strip()]
    if missing:
        raise PromptBuildError(f"outage {incident_id}: no announcement text for {missing}")
    name = "outage-" + re.sub(r"[^A-Za-z0-9_.-]", "-", incident_id)
    prompt = PromptText(name, tuple((lang, texts[lang]) for lang in menu.languages))
    await build_prompts(replace(menu, prompts={}), sounds_dir, engine=engine, extra=[prompt])
    return Outage(incident_id, name, texts[menu.languages[0]])
