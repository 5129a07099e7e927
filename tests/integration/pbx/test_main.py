"""`python -m pbx` starts a stand-in one can poke with telnet, and stops cleanly."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

from .conftest import AmiTestClient, get


async def test_python_dash_m_pbx_serves_ami_and_exits_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pbx",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, line
        client = await AmiTestClient.connect(int(match.group(1)))
        try:
            reply = await client.action(
                "QueueAdd", Queue="hotline-main", Interface="PJSIP/1001", MemberName="Agent 1001"
            )
            assert get(reply, "Response") == "Success"
            added = await client.wait_event("QueueMemberAdded")
            assert get(added, "Status") == "1"  # the built-in agent phones exist
        finally:
            await client.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
