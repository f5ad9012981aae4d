"""Column types and base pieces every service's models use."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from shared.auth import define_token_table
from shared.bus.inbox import define_inbox_table
from shared.bus.outbox import define_outbox_table
from shared.identity import define_identity_tables
from shared.runtime import CommonTables


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UtcDateTime(TypeDecorator):
    """Timezone-aware datetimes on SQLite too (it stores them without an offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


UUID_LENGTH = 36
Id = String(UUID_LENGTH)


def common_tables(metadata: MetaData) -> CommonTables:
    return CommonTables(
        outbox=define_outbox_table(metadata),
        inbox=define_inbox_table(metadata),
        tokens=define_token_table(metadata),
        identity=define_identity_tables(metadata),
    )


def service_base() -> type[DeclarativeBase]:
    class Base(DeclarativeBase):
        metadata = MetaData(
            naming_convention={
                "ix": "ix_%(column_0_label)s",
                "uq": "uq_%(table_name)s_%(column_0_name)s",
                "ck": "ck_%(table_name)s_%(constraint_name)s",
                "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
                "pk": "pk_%(table_name)s",
            }
        )
        type_annotation_map = {datetime: UtcDateTime}

    return Base
