"""What simulated callers do, for `hotline demo` and benchmarks: pure planning from a
seeded `random.Random`, so a demo run can be replayed exactly."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DemoCaller:
    number: str
    name: str
    # Site code the caller types when the IVR asks for it; the IVR asks only when the
    # number does not identify a site, so for known numbers this is never used.
    site_code: str
    number_known: bool = True


@dataclass(frozen=True, slots=True)
class TrafficMix:
    """Shares of caller behaviour (each between 0 and 1) and ranges in seconds."""

    level_weights: tuple[float, float, float, float] = (0.15, 0.3, 0.35, 0.2)
    operator: float = 0.05  # presses 0 in the level menu
    wrong_code_first: float = 0.1  # mistypes the site code once
    ivr_hangup: float = 0.03  # hangs up inside the IVR
    impatient: float = 0.1  # gives up after a short wait (abandon)
    join_outage: float = 0.5  # presses 1 when an outage is announced
    talk: tuple[float, float] = (20.0, 120.0)
    patience: tuple[float, float] = (120.0, 300.0)
    short_patience: tuple[float, float] = (5.0, 25.0)
    takes_survey: float = 0.7


@dataclass(frozen=True, slots=True)
class CallPlan:
    caller: DemoCaller
    inputs: tuple[str, ...]  # one entry per digit-reading IVR question, in order
    hangup_after_commands: int | None
    patience: float
    talk_time: float
    survey_inputs: tuple[str, ...]
    level: int | None  # None: operator, or joined the outage


def plan_call(
    rng: random.Random, caller: DemoCaller, mix: TrafficMix, *, outage_active: bool = False
) -> CallPlan:
    inputs: list[str] = []
    joined = False
    if outage_active:
        joined = rng.random() < mix.join_outage
        inputs.append("1" if joined else "2")
    if not caller.number_known and not joined:
        if rng.random() < mix.wrong_code_first:
            inputs.append("9" * len(caller.site_code) + "#")
        inputs.append(caller.site_code + "#")
    level: int | None = None
    if not joined:
        if rng.random() < mix.operator:
            inputs.append("0")
        else:
            level = rng.choices((1, 2, 3, 4), weights=mix.level_weights)[0]
            inputs.append(str(level))
    # ANSWER, greeting and a few prompts run before the questions: hang up in the middle.
    hangup = rng.randint(2, 4) if rng.random() < mix.ivr_hangup else None
    low, high = mix.short_patience if rng.random() < mix.impatient else mix.patience
    survey = (str(rng.randint(3, 5)),) if rng.random() < mix.takes_survey else ()
    return CallPlan(
        caller=caller,
        inputs=tuple(inputs),
        hangup_after_commands=hangup,
        patience=rng.uniform(low, high),
        talk_time=rng.uniform(*mix.talk),
        survey_inputs=survey,
        level=level,
    )


def next_gap(rng: random.Random, mean_interval: float) -> float:
    """Seconds to the next call: arrivals of a Poisson process."""
    return rng.expovariate(1.0 / mean_interval) if mean_interval > 0 else 0.0
