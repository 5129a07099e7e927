"""Fault-level IVR over FastAGI, its menu, and its spoken prompts.

Public API (kept import-light on purpose: `ivr.menu` must stay importable without I/O):

    from ivr.menu_file import load_menu          # Menu from ivr/menus/default.toml or a file
    from ivr.server import IvrServer             # FastAGI scripts `ivr` and `survey`
    from ivr.ports import SiteDirectoryPort, IvrModePort, SurveySinkPort, SiteMatch, Outage
    from ivr.directory import InMemorySiteDirectory, StaticIvrMode, InMemorySurveySink
    from ivr.prompts import build_prompts, render_announcement   # async
    from ivr.cli import prompts_app              # `hotline prompts build`

    server = IvrServer(load_menu(settings.menu_file), sites, mode, surveys,
                       policy=settings.sla_policy(), sounds_dir=settings.sounds_dir)
    await server.start(settings.agi_host, settings.agi_port)
    ...
    await server.stop()
"""
