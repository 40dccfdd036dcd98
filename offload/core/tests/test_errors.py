from offload.core import errors


def test_validation_failed_lists_every_field_in_problem_body():
    # given
    error = errors.ValidationFailed(
        [errors.FieldError("country", "bad"), errors.FieldError("currency", "worse")]
    )
    # when
    body = errors.problem_body(error, instance="/api/v1/organisations")
    # then
    assert body == {
        "type": "https://offload.dev/problems/validation-failed",
        "title": "Validation failed",
        "status": 422,
        "detail": "country: bad; currency: worse",
        "instance": "/api/v1/organisations",
        "errors": [
            {"field": "country", "message": "bad"},
            {"field": "currency", "message": "worse"},
        ],
    }


def test_problem_body_carries_extra_members():
    # given
    error = errors.Conflict("cannot move", allowed=["live", "exit"])
    # when
    body = errors.problem_body(error)
    # then
    assert body["status"] == 409
    assert body["detail"] == "cannot move"
    assert body["allowed"] == ["live", "exit"]
    assert "instance" not in body


def test_from_mapping_keeps_each_message():
    # given / when
    error = errors.ValidationFailed.from_mapping({"name": ["required", "too short"]})
    # then
    assert [(e.field, e.message) for e in error.errors] == [
        ("name", "required"),
        ("name", "too short"),
    ]
