"""`python -m pbx`: a stand-in on 127.0.0.1:5038 with a few agents, to poke with telnet."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from pbx.standin import PbxStandIn


async def _main(args: argparse.Namespace) -> None:
    pbx = PbxStandIn(
        host=args.host,
        ami_port=args.port,
        agi_host=args.agi_host,
        agi_port=args.agi_port,
        speed=args.speed,
    )
    pbx.add_agent("PJSIP/1001", answer_after=1.0, member_name="Agent 1001")
    pbx.add_agent("PJSIP/1002", answer_after=2.0, member_name="Agent 1002")
    pbx.add_agent("PJSIP/1003", answer_after=None, member_name="Agent 1003")
    pbx.add_agent("Local/1001@agents-local", answer_after=2.0, member_name="Local agent 1001")
    await pbx.start()
    print(f"AMI stand-in on {args.host}:{pbx.ami_port} (user hotline / hotline-secret)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if args.call_every > 0:
            number = 13800138000
            while not stop.is_set():
                await pbx.place_call(str(number), "Site caller", talk_time=10.0)
                number += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), args.call_every)
        else:
            await stop.wait()
    finally:
        await pbx.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pbx", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5038)
    parser.add_argument("--agi-host", default="127.0.0.1")
    parser.add_argument("--agi-port", type=int, default=4573)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--call-every", type=float, default=0.0, help="seconds; 0 = no calls")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
