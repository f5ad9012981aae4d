"""Marshmallow pieces every service's API schemas use."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, validate


class StrictSchema(Schema):
    """Input schemas refuse unknown fields, so a client cannot set server-owned ones."""

    class Meta:
        unknown = "raise"


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict()


def validate_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("Not a known IANA time zone, e.g. Asia/Hong_Kong.") from None


class Instant(fields.AwareDateTime):
    """A moment with its offset, held in UTC. Moments outside 1970-2999 are refused: no
    showcase or scan falls there, and the arithmetic done on event times (early entry,
    retention, claim deadlines) stays inside the calendar."""

    EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
    LATEST = datetime(3000, 1, 1, tzinfo=UTC)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            moment = None
        if moment is None or not self.EARLIEST <= moment < self.LATEST:
            raise ValidationError("Must fall between 1970 and 2999.")
        return moment


class TrimmedString(fields.String):
    """Text with surrounding whitespace removed, so "   " is as empty as ""."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


def Text(max_length: int, **kwargs) -> fields.String:  # noqa: N802 (reads like a field class)
    required = kwargs.pop("required", False)
    return TrimmedString(
        required=required,
        validate=validate.Length(min=1 if required else 0, max=max_length),
        **kwargs,
    )
