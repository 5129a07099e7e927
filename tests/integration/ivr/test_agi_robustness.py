"""The AGI reply reader never desynchronises or hangs on whatever Asterisk sends."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.agi import AgiApplication, AgiChannel, AgiReply, parse_agi_environment, quote_arg
from ivr.directory import InMemorySiteDirectory, InMemorySurveySink, StaticIvrMode
from ivr.errors import AgiError, AgiInjection, AgiProtocolError
from ivr.menu_file import load_menu
from ivr.server import IvrServer, IvrServerError
from routing.domain.levels import SlaPolicy


class Sink:
    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        return None


REPLY_LINES = st.one_of(
    st.sampled_from(
        [
            b"200 result=1\n",
            b"200 result= (timeout)\n",
            b"200 result=-1\n",
            b"HANGUP\n",
            b"510 Invalid or unknown command\n",
            b"511 Command Not Permitted\n",
            b"520 Invalid command syntax.  Proper usage not available.\n",
            b"520-Invalid command syntax.  Proper usage follows:\n",
            b"520 End of proper usage.\n",
            b"100 result=0 Trying...\n",
            b"200 result=0 endpos=8000\n",
        ]
    ),
    st.binary(max_size=40),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chunks=st.lists(REPLY_LINES, max_size=12))
def test_reader_returns_or_raises_agi_errors_only(chunks: list[bytes]):
    async def scenario() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(b"".join(chunks))
        reader.feed_eof()
        chan = AgiChannel(AgiApplication(), {}, reader, Sink())  # type: ignore[arg-type]
        for _ in range(len(chunks) + 1):
            try:
                reply = await chan.send_command("GET VARIABLE X")
                assert isinstance(reply, AgiReply) and reply.code == 200
            except AgiProtocolError:
                return  # EOF or garbage: the conversation is over
            except AgiError:
                continue

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_quote_arg():
    assert quote_arg('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    with pytest.raises(AgiInjection):
        quote_arg("a\r\nb")


def test_environment_parsing_keeps_empty_values_and_colons():
    env = parse_agi_environment(b"agi_accountcode: \nagi_request: agi://127.0.0.1:4573/ivr\n\n")
    assert env == {"agi_accountcode": "", "agi_request": "agi://127.0.0.1:4573/ivr"}
    with pytest.raises(AgiProtocolError):
        parse_agi_environment(b"garbage line\n\n")


def _server(tmp_path: Path) -> IvrServer:
    return IvrServer(
        load_menu(),
        InMemorySiteDirectory(),
        StaticIvrMode(),
        InMemorySurveySink(),
        policy=SlaPolicy(),
        sounds_dir=tmp_path,
    )


async def test_port_in_use_is_a_clear_error(tmp_path: Path):
    first = _server(tmp_path)
    await first.start("127.0.0.1", 0)
    try:
        with pytest.raises(IvrServerError, match="cannot listen for FastAGI"):
            await _server(tmp_path).start("127.0.0.1", first.port or 0)
    finally:
        await first.stop()
    await first.stop()  # idempotent


async def test_missing_prompts_are_reported_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    (tmp_path / "greeting.wav").write_bytes(b"RIFF")
    server = _server(tmp_path)
    with caplog.at_level(logging.WARNING, logger="ivr.server"):
        await server.start("127.0.0.1", 0)
    await server.stop()
    assert "greeting" not in server.missing_prompts()
    assert "level-menu" in server.missing_prompts()
    assert any("prompts missing" in r.message for r in caplog.records)
