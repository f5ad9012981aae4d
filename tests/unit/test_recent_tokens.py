"""Door devices scan several times a second: their token is looked up once every few
seconds, and a revoked token stops working within that time (at once in the process that
revoked it)."""

from shared.auth import ORGANISER, STAFF, Principal, RecentTokens
from shared.identity import PersonalTokenUses

DOOR = Principal(STAFF, "northwind", "event-1")


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TokenTable:
    """The stored tokens as the lookup sees them, counting lookups."""

    def __init__(self, **principals):
        self.principals = principals
        self.lookups = 0

    def look_up(self, token):
        def look_up():
            self.lookups += 1
            return self.principals.get(token)

        return look_up


def test_a_door_scanning_often_is_looked_up_once_within_the_window():
    clock, table = Clock(), TokenTable(door=DOOR)
    recent = RecentTokens(seconds=5, clock=clock)

    answers = [recent.principal("door", table.look_up("door")) for _ in range(50)]

    assert answers == [DOOR] * 50
    assert table.lookups == 1


def test_a_token_revoked_in_another_process_is_refused_once_the_window_has_passed():
    clock, table = Clock(), TokenTable(door=DOOR)
    recent = RecentTokens(seconds=5, clock=clock)
    recent.principal("door", table.look_up("door"))

    del table.principals["door"]
    clock.now += 4.9
    assert recent.principal("door", table.look_up("door")) == DOOR
    clock.now += 0.2
    assert recent.principal("door", table.look_up("door")) is None


def test_a_token_revoked_in_this_process_is_refused_at_once():
    clock, table = Clock(), TokenTable(door=DOOR)
    recent = RecentTokens(seconds=5, clock=clock)
    recent.principal("door", table.look_up("door"))

    del table.principals["door"]
    recent.forget_all()

    assert recent.principal("door", table.look_up("door")) is None


def test_an_unknown_token_is_asked_for_every_time_so_a_new_one_works_at_once():
    clock, table = Clock(), TokenTable()
    recent = RecentTokens(seconds=5, clock=clock)
    assert recent.principal("new", table.look_up("new")) is None

    table.principals["new"] = Principal(ORGANISER, "northwind")

    assert recent.principal("new", table.look_up("new")) == Principal(ORGANISER, "northwind")
    assert table.lookups == 2


def test_a_personal_tokens_use_is_announced_once_a_minute_however_often_it_is_used():
    now = [1000.0]
    uses = PersonalTokenUses(clock=lambda: now[0])

    assert uses.due("script") and not uses.due("script")
    assert uses.due("another script")
    now[0] += 59
    assert not uses.due("script")
    now[0] += 1
    assert uses.due("script")
