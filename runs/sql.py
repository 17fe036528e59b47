"""Prepared statements for the engine's hot paths.

Django binds parameters on the client, so PostgreSQL parses and plans every
statement it receives. The few statements every run goes through (the claim,
the end of an attempt, the dispatch pass) instead run through a cursor that
binds on the server: psycopg prepares each on its first use on a connection,
and later uses skip parsing and planning. Every other query keeps Django's
client-side binding, which psycopg never prepares.

`DATABASE_PREPARED_STATEMENTS=false` (for a pooler that cannot keep prepared
statements) makes `prepared_cursor` an ordinary Django cursor, and so does
Django logging queries (DEBUG, or a test capturing them): its log then shows
each statement with its values, as for any other query.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorWrapper
from django.db.models import Model


def prepared_cursor() -> CursorWrapper:
    """A Django cursor whose statements are prepared once per connection."""
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None or connection.queries_logged:
        return connection.cursor()
    return connection.make_cursor(ServerBindingCursor(connection.connection))


def execute(statement: str, params: dict[str, Any]) -> list[tuple]:
    """Run one prepared statement; return its rows."""
    with prepared_cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def column_list(model: type[Model], table_alias: str) -> str:
    """The model's columns, named one by one: a prepared statement returning
    `alias.*` would fail once a migration adds a column under a live process."""
    return ", ".join(f"{table_alias}.{field.column}" for field in model._meta.concrete_fields)


def model_from_row(model: type[Model], row: tuple) -> Model:
    """An instance from the first columns of a row in `column_list` order, read
    through each field's converters as a queryset would."""
    fields = model._meta.concrete_fields
    values = []
    for field, value in zip(fields, row):
        for convert in field.get_db_converters(connection):
            value = convert(value, field, connection)
        values.append(value)
    return model.from_db(connection.alias, [field.attname for field in fields], values)
