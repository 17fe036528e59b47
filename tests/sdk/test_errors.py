import pytest

from triggerkit.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TriggerkitError,
    UnprocessableEntityError,
    error_from_response,
)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (405, ApiError),
        (413, ApiError),
    ],
    ids=lambda value: str(value) if isinstance(value, int) else value.__name__,
)
def test_each_status_maps_to_its_error_class(status, error_class):
    error = error_from_response(status, {"error": "nope"}, {"x-a": "1"})

    assert type(error) is error_class
    assert isinstance(error, TriggerkitError)
    assert error.status == status
    assert error.headers == {"x-a": "1"}


def test_the_message_is_the_error_string_of_the_body():
    body = {"error": "Run not found"}

    error = error_from_response(404, body, {})

    assert error.message == "Run not found"
    assert str(error) == "Run not found"
    assert error.body == body


def test_an_error_object_gives_its_message():
    error = error_from_response(403, {"error": {"message": "Scope missing"}}, {})

    assert error.message == "Scope missing"


def test_an_error_of_another_shape_is_shown_as_json():
    error = error_from_response(400, {"error": ["a", "b"]}, {})

    assert error.message == '["a", "b"]'


def test_a_body_that_is_not_json_gives_the_status_and_the_text():
    error = error_from_response(502, "Bad Gateway", {})

    assert error.message == "502 Bad Gateway"


@pytest.mark.parametrize("body", [None, {"detail": "x"}], ids=["empty", "no-error-key"])
def test_a_body_without_an_error_says_so(body):
    error = error_from_response(500, body, {})

    assert error.message == "500 status code (no body)"
