"""Marshmallow pieces every service's API schemas use."""

from datetime import UTC
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
    """A moment with its offset, held in UTC; one whose UTC form falls outside the
    calendar (0001-01-01T00:00+00:01) is refused rather than failing at storage."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Not a representable date and time.") from None


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
