"""The check-in token and the step rules, without I/O."""

from datetime import UTC, datetime, timedelta

import pytest

from supervision.domain.dispatch import (
    CheckinClaim,
    CheckinRefused,
    CheckinStep,
    DispatchState,
    Refusal,
    check_location,
    make_token,
    read_token,
    step_effects,
)

KEY = b"0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
CLAIM = CheckinClaim(7, "HL-20261118-0001", NOW + timedelta(hours=72))
TOKEN = make_token(KEY, CLAIM)


def test_a_token_reads_back_for_its_ticket_until_it_expires() -> None:
    claim = read_token(KEY, CLAIM.ticket_number, TOKEN, NOW)
    assert (claim.dispatch_id, claim.ticket_number) == (7, CLAIM.ticket_number)
    assert claim.expires_at == CLAIM.expires_at.replace(microsecond=0)


@pytest.mark.parametrize(
    ("ticket", "token", "now", "reason"),
    [
        ("HL-20261118-0002", TOKEN, NOW, Refusal.FORGED),  # another ticket's link
        (CLAIM.ticket_number, make_token(b"x" * 32, CLAIM), NOW, Refusal.FORGED),
        (CLAIM.ticket_number, TOKEN.replace("7.", "8.", 1), NOW, Refusal.FORGED),
        (CLAIM.ticket_number, TOKEN, NOW + timedelta(hours=72), Refusal.EXPIRED),
        (CLAIM.ticket_number, "", NOW, Refusal.MALFORMED),
        (CLAIM.ticket_number, "a.b.c", NOW, Refusal.MALFORMED),
        (CLAIM.ticket_number, TOKEN + ".x", NOW, Refusal.MALFORMED),
        (CLAIM.ticket_number, "1" * 101, NOW, Refusal.MALFORMED),
        (CLAIM.ticket_number, "７.１.x", NOW, Refusal.MALFORMED),  # full-width digits
    ],
)
def test_bad_tokens_are_refused(ticket: str, token: str, now: datetime, reason: Refusal) -> None:
    with pytest.raises(CheckinRefused) as refused:
        read_token(KEY, ticket, token, now)
    assert refused.value.reason is reason


OPEN = DispatchState(superseded=False, ticket_open=True)
ARRIVED = DispatchState(False, True, arrived_at=NOW, ticket_onsite_at=NOW)
LATER = NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("state", "step", "dispatch", "ticket"),
    [
        (OPEN, CheckinStep.ON_THE_WAY, {"on_the_way_at": LATER}, {}),
        (OPEN, CheckinStep.ARRIVED, {"arrived_at": LATER}, {"onsite_at": LATER}),
        (ARRIVED, CheckinStep.ARRIVED, {}, {}),  # replay: nothing moves
        (ARRIVED, CheckinStep.ON_THE_WAY, {}, {}),  # too late to be on the way
        # Another engineer arrived first: this dispatch records its arrival, the ticket not.
        (
            DispatchState(False, True, ticket_onsite_at=NOW),
            CheckinStep.ARRIVED,
            {"arrived_at": LATER},
            {},
        ),
        (ARRIVED, CheckinStep.FIXED, {"fixed_at": LATER}, {"status": "resolved"}),
        (
            ARRIVED,
            CheckinStep.PART_NEEDED,
            {"part_needed_at": LATER},
            {"part_needed_at": LATER},
        ),
        (
            DispatchState(False, True, arrived_at=NOW, part_needed_at=NOW),
            CheckinStep.PART_NEEDED,
            {},
            {},
        ),
    ],
)
def test_step_effects(
    state: DispatchState, step: CheckinStep, dispatch: dict[str, object], ticket: dict[str, object]
) -> None:
    effects = step_effects(state, step, LATER)
    assert dict(effects.dispatch) == dispatch
    assert dict(effects.ticket) == ticket
    assert effects.replay is (not dispatch and not ticket)


@pytest.mark.parametrize(
    ("state", "step", "reason"),
    [
        (DispatchState(True, True), CheckinStep.ARRIVED, Refusal.SUPERSEDED),
        (DispatchState(False, False), CheckinStep.ARRIVED, Refusal.CLOSED),
        (OPEN, CheckinStep.FIXED, Refusal.NOT_ARRIVED),
        (OPEN, CheckinStep.PART_NEEDED, Refusal.NOT_ARRIVED),
    ],
)
def test_refused_steps(state: DispatchState, step: CheckinStep, reason: Refusal) -> None:
    with pytest.raises(CheckinRefused) as refused:
        step_effects(state, step, LATER)
    assert refused.value.reason is reason


def test_a_location_is_kept_only_when_it_is_one() -> None:
    assert check_location(30.5, 114.3, 15.0) == (30.5, 114.3, 15.0)
    assert check_location(30.5, None, 15.0) is None
    assert check_location(95.0, 114.3, None) is None
    assert check_location(30.5, 114.3, -1.0) == (30.5, 114.3, None)
