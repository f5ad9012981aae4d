"""What every service's Alembic env.py runs: migrate the connection the caller hands over."""

from alembic import context
from sqlalchemy import MetaData

from shared.db import create_database_engine
from shared.models import UtcDateTime


def run_migrations(target_metadata: MetaData) -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        # Called from the alembic command line (e.g. `alembic revision --autogenerate`).
        engine = create_database_engine(context.config.get_main_option("sqlalchemy.url"))
        with engine.begin() as connection:
            _run(connection, target_metadata)
        return
    _run(connection, target_metadata)


def _run(connection, target_metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    context.run_migrations()


def _render_item(type_, obj, autogen_context):
    # Migrations must not depend on our Python types, only on what the database stores.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False
