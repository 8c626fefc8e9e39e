"""Session objects: refusal of unstorable values by name, change detection, size bound."""

from __future__ import annotations

import pytest

from htagweb_asgi.sessions.values import ProcessSession, Session, SessionValueError, diff, encode


def test_unstorable_values_are_refused_by_key_and_not_kept() -> None:
    session = Session("id", {"kept": '"yes"'})
    with pytest.raises(SessionValueError, match="'bad' is not JSON-serializable"):
        session["bad"] = object()
    with pytest.raises(SessionValueError, match="'nan'"):
        session["nan"] = float("nan")
    assert dict(session) == {"kept": "yes"}


def test_changes_are_per_key_and_see_nested_mutations() -> None:
    before = {"a": "1", "b": '{"x":[]}', "c": "true"}
    session = Session("id", before)
    session["a"] = 2
    session["b"]["x"].append(1)  # nested: only the JSON comparison sees it
    del session["c"]
    assert diff(before, session, 1000) == {"a": "2", "b": '{"x":[1]}', "c": None}


def test_a_session_over_the_size_limit_is_refused() -> None:
    with pytest.raises(SessionValueError, match="over the 50 allowed"):
        diff({}, {"big": "x" * 100}, 50)


def test_process_session_reports_changes_once_and_undoes_unstorable_ones() -> None:
    session = ProcessSession()
    session.refresh({"a": "1"})
    assert session.take_changes(1000) == {}  # not even looked at
    session["b"] = [1]
    assert session.take_changes(1000) == {"b": "[1]"}
    assert session.take_changes(1000) == {}
    session["b"].append({1, 2})  # a set: JSON cannot carry it
    with pytest.raises(SessionValueError, match="'b'"):
        session.take_changes(1000)
    assert dict(session) == {"a": 1, "b": [1]}  # undone: the stored session is intact


def test_a_refresh_keeps_what_a_background_task_changed() -> None:
    session = ProcessSession()
    session.refresh({"route": "1"})
    session["task"] = "mine"  # a background task, not yet reported
    session.refresh({"route": "2"})  # a route wrote meanwhile
    assert dict(session) == {"route": 2, "task": "mine"}
    assert session.take_changes(1000) == {"task": '"mine"'}


def test_keys_must_be_strings() -> None:
    with pytest.raises(SessionValueError):
        encode(1, "x")  # type: ignore[arg-type]


def test_rotate_is_asked_once() -> None:
    session = ProcessSession()
    assert not session.rotation_asked
    session.rotate()
    assert session.rotation_asked
