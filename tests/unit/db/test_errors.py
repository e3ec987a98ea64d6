"""translate(): Postgres errors become the project's exceptions at the database boundary."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.pq import DiagnosticField

from shared.db.errors import translate
from shared.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound, UpstreamUnavailable


def pg_error(
    sqlstate: str,
    message: str | None = None,
    *,
    constraint: str | None = None,
    column: str | None = None,
) -> psycopg.Error:
    """The error psycopg would raise for ``sqlstate``, with the diagnostics the server would send."""
    info: dict[int, bytes | None] = {DiagnosticField.SQLSTATE: sqlstate.encode()}
    if message is not None:
        info[DiagnosticField.MESSAGE_PRIMARY] = message.encode()
    if constraint is not None:
        info[DiagnosticField.CONSTRAINT_NAME] = constraint.encode()
    if column is not None:
        info[DiagnosticField.COLUMN_NAME] = column.encode()
    error = psycopg.errors.lookup(sqlstate)(message or sqlstate, info=info)
    assert error.diag.sqlstate == sqlstate
    return error


def test_the_helper_builds_the_class_psycopg_raises() -> None:
    # GIVEN / WHEN an error built by sqlstate
    error = pg_error("23505", "duplicate key", constraint="leads_email_key")

    # THEN it is psycopg's own class, carrying diagnostics
    assert isinstance(error, psycopg.errors.UniqueViolation)
    assert error.diag.constraint_name == "leads_email_key"


# ----------------------------------------------------------------------------- permissions and lookups


def test_insufficient_privilege_is_forbidden_without_details() -> None:
    # GIVEN an RLS / grant refusal that names the table
    error = pg_error("42501", "permission denied for table organizations")

    # WHEN it is translated
    result = translate(error)

    # THEN the caller is forbidden, and the schema is not revealed
    assert type(result) is Forbidden
    assert result.status == 403
    assert result.detail == "not allowed"


def test_no_data_found_is_not_found_with_the_function_message() -> None:
    # GIVEN a function that raised no_data_found with a message
    # WHEN it is translated
    result = translate(pg_error("P0002", "lead not found"))

    # THEN it is a 404 keeping that message
    assert type(result) is NotFound
    assert result.detail == "lead not found"


def test_no_data_found_without_message_has_a_default() -> None:
    # GIVEN no_data_found without diagnostics
    # WHEN it is translated
    result = translate(psycopg.errors.lookup("P0002")())

    # THEN the detail is still meaningful
    assert type(result) is NotFound
    assert result.detail == "not found"


# ----------------------------------------------------------------------------- integrity


def test_unique_violation_is_conflict_naming_the_constraint() -> None:
    # GIVEN a duplicate key
    error = pg_error("23505", "duplicate key value violates unique constraint", constraint="leads_email_key")

    # WHEN it is translated
    result = translate(error)

    # THEN it is a 409 naming the constraint
    assert type(result) is Conflict
    assert result.status == 409
    assert result.detail == "already exists (leads_email_key)"


def test_unique_violation_without_diagnostics_is_still_conflict() -> None:
    # GIVEN a duplicate key error built without diagnostics
    # WHEN it is translated
    result = translate(psycopg.errors.UniqueViolation("duplicate"))

    # THEN it is still a conflict
    assert type(result) is Conflict
    assert result.detail == "already exists"


def test_foreign_key_violation_names_the_field_from_the_constraint() -> None:
    # GIVEN a reference to a missing row, constraint named <table>_<column>_<kind>
    error = pg_error("23503", "violates foreign key constraint", constraint="messages_conversation_id_fkey")

    # WHEN it is translated
    result = translate(error)

    # THEN it is invalid input on that field
    assert type(result) is InvalidInput
    assert result.status == 422
    assert [(e.field, e.message) for e in result.errors] == [("body.conversation_id", "references a missing row")]


def test_check_violation_names_the_field() -> None:
    # GIVEN a check constraint failure
    error = pg_error("23514", "violates check constraint", constraint="leads_score_check")

    # WHEN it is translated
    result = translate(error)

    # THEN it is invalid input on the constrained column
    assert type(result) is InvalidInput
    assert [(e.field, e.message) for e in result.errors] == [("body.score", "is not valid")]


def test_not_null_violation_prefers_the_column_name() -> None:
    # GIVEN a not-null failure that names its column
    # WHEN it is translated
    result = translate(pg_error("23502", "null value in column", column="name"))

    # THEN the column is the field
    assert type(result) is InvalidInput
    assert [e.field for e in result.errors] == ["body.name"]


@pytest.mark.parametrize(
    ("constraint", "field"),
    [(None, "body"), ("pk", "body"), ("leads_pkey", "body")],
)
def test_field_falls_back_to_the_body(constraint: str | None, field: str) -> None:
    # GIVEN a check violation whose constraint name does not follow the convention (or is missing)
    # WHEN it is translated
    result = translate(pg_error("23514", "violates check constraint", constraint=constraint))

    # THEN the error is put on the body rather than on an invented field
    assert isinstance(result, InvalidInput)
    assert [e.field for e in result.errors] == [field]


# ----------------------------------------------------------------------------- bad data


@pytest.mark.parametrize(
    "sqlstate",
    [
        "22001",  # string_data_right_truncation
        "22023",  # invalid_parameter_value
        "22P02",  # invalid_text_representation
        "22003",  # numeric_value_out_of_range
        "22007",  # invalid_datetime_format
        "22008",  # datetime_field_overflow
        "22000",  # data_exception
    ],
)
def test_data_exceptions_are_invalid_input_not_server_errors(sqlstate: str) -> None:
    # GIVEN any data exception (SQLSTATE class 22), caused by a value the caller sent
    # WHEN it is translated
    result = translate(pg_error(sqlstate, "value is not valid", column="score"))

    # THEN it is a 422, never a 500
    assert isinstance(result, InvalidInput)
    assert result.status == 422
    assert [e.field for e in result.errors] == ["body.score"]


def test_invalid_text_representation_keeps_the_server_message() -> None:
    # GIVEN a value that does not parse as its type
    # WHEN it is translated
    result = translate(pg_error("22P02", 'invalid input syntax for type uuid: "abc"'))

    # THEN the reason is passed on, on the body
    assert isinstance(result, InvalidInput)
    assert [(e.field, e.message) for e in result.errors] == [("body", 'invalid input syntax for type uuid: "abc"')]


# ----------------------------------------------------------------------------- functions


def test_raise_exception_is_conflict_with_its_message() -> None:
    # GIVEN a plpgsql RAISE EXCEPTION with a business message
    # WHEN it is translated
    result = translate(pg_error("P0001", "conversation is closed"))

    # THEN it is a 409 carrying that message
    assert type(result) is Conflict
    assert result.detail == "conversation is closed"


# ----------------------------------------------------------------------------- availability


def test_query_canceled_is_a_retryable_timeout() -> None:
    # GIVEN a statement_timeout cancellation
    # WHEN it is translated
    result = translate(pg_error("57014", "canceling statement due to statement timeout"))

    # THEN it is a 503 that says timeout
    assert type(result) is UpstreamUnavailable
    assert result.status == 503
    assert result.detail == "database timeout"


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection failed: server closed the connection unexpectedly"),
        pg_error("08006", "connection failure"),
        pg_error("08001", "could not connect"),
        pg_error("53300", "too many connections"),
        pg_error("57P01", "terminating connection due to administrator command"),
        pg_error("40001", "could not serialize access"),
    ],
    ids=["operational", "08006", "08001", "53300", "57P01", "40001"],
)
def test_connection_and_server_state_errors_are_upstream_unavailable(error: psycopg.Error) -> None:
    # GIVEN a failure of the database rather than of the request
    # WHEN it is translated
    result = translate(error)

    # THEN the caller may retry, and learns nothing about the server
    assert type(result) is UpstreamUnavailable
    assert result.detail == "database unavailable"


# ----------------------------------------------------------------------------- everything else


@pytest.mark.parametrize(
    "error",
    [pg_error("42P01", 'relation "leeds" does not exist'), pg_error("42703", "column x does not exist")],
    ids=["undefined_table", "undefined_column"],
)
def test_programming_errors_are_opaque_500s(error: psycopg.Error) -> None:
    # GIVEN a bug in our SQL
    # WHEN it is translated
    result = translate(error)

    # THEN it is a generic 500 that does not echo the SQL
    assert type(result) is AppError
    assert result.status == 500
    assert result.detail == "database error"
