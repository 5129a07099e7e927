"""Demo caller planning: seeded, and every plan fits the IVR's questions."""

from __future__ import annotations

import random

from pbx.domain.traffic import DemoCaller, TrafficMix, next_gap, plan_call

KNOWN = DemoCaller("13800138000", "张伟", "234567", number_known=True)
UNKNOWN = DemoCaller("02787654321", "Müller", "100200", number_known=False)


def test_same_seed_same_plans() -> None:
    a = [plan_call(random.Random(7), KNOWN, TrafficMix()) for _ in range(3)]
    b = [plan_call(random.Random(7), KNOWN, TrafficMix()) for _ in range(3)]
    assert a == b


def test_known_number_answers_only_the_level_menu() -> None:
    mix = TrafficMix(operator=0.0, ivr_hangup=0.0)
    for seed in range(50):
        plan = plan_call(random.Random(seed), KNOWN, mix)
        assert len(plan.inputs) == 1 and plan.inputs[0] in "1234"
        assert plan.level == int(plan.inputs[0])


def test_unknown_number_types_the_site_code_first() -> None:
    mix = TrafficMix(wrong_code_first=1.0, operator=1.0)
    plan = plan_call(random.Random(1), UNKNOWN, mix)
    assert plan.inputs == ("999999#", "100200#", "0")
    assert plan.level is None


def test_outage_join_skips_the_questions() -> None:
    mix = TrafficMix(join_outage=1.0)
    plan = plan_call(random.Random(1), UNKNOWN, mix, outage_active=True)
    assert plan.inputs == ("1",)


def test_ranges_are_respected() -> None:
    mix = TrafficMix(impatient=1.0, takes_survey=1.0, ivr_hangup=1.0)
    for seed in range(30):
        plan = plan_call(random.Random(seed), KNOWN, mix)
        assert mix.short_patience[0] <= plan.patience <= mix.short_patience[1]
        assert mix.talk[0] <= plan.talk_time <= mix.talk[1]
        assert plan.survey_inputs and plan.survey_inputs[0] in "345"
        assert plan.hangup_after_commands in (2, 3, 4)


def test_gaps_are_positive_and_average_out() -> None:
    rng = random.Random(3)
    gaps = [next_gap(rng, 10.0) for _ in range(4000)]
    assert min(gaps) >= 0
    assert 9.0 < sum(gaps) / len(gaps) < 11.0
    assert next_gap(rng, 0.0) == 0.0
