"""Property tests for what turns agent input into paths and text: ids, titles, comments."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agentdock.qms.documents import validate_title
from agentdock.qms.errors import BadRequest, InvalidDocument, QmsError
from agentdock.qms.ids import DocId, Layout, number_text, parse_doc_id
from agentdock.qms.limits import DEFAULT_LIMITS, check_comment, printable

ID_ALPHABET = string.ascii_uppercase + string.digits + "-./\\\x00 " + "٣"  # includes a non-ASCII digit
id_like = st.one_of(
    st.text(alphabet=ID_ALPHABET, max_size=24),
    st.builds(
        lambda kind, num, var: f"{kind}-{num}" + (f"-VAR-{var}" if var else ""),
        st.sampled_from(["SOP", "CR", "INV", "VAR", "cr", "SOP/.."]),
        st.text(alphabet=string.digits, min_size=1, max_size=8),
        st.one_of(st.none(), st.text(alphabet=string.digits + "-", min_size=1, max_size=8)),
    ),
)


@settings(max_examples=400, deadline=None)
@given(id_like)
@example("CR-0001")
@example("CR-1000")
@example("CR-001-VAR-000")
@example("CR-000-VAR-001")
@example("SOP-001/../../etc")
@example("CR-١٢٣")
def test_an_id_is_refused_or_names_one_file_inside_qms(value: str) -> None:
    try:
        doc = parse_doc_id(value)
    except BadRequest as exc:
        assert exc.rule == "id.format"
        return
    root = Path("/project")
    layout = Layout(root)
    assert doc.text == value and value.isascii()
    for path in (
        layout.effective_file(doc),
        layout.meta_file(doc),
        layout.audit_file(doc),
        layout.archive_file(doc, "1.0"),
    ):
        assert path.resolve().is_relative_to(root / "QMS")
        assert ".." not in path.parts and "\x00" not in str(path)
    # One spelling per number: the canonical text of the number is what was given.
    assert value.rsplit("-", 1)[1] == number_text(doc.number)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=999_999), min_size=2, max_size=20, unique=True))
def test_ids_sort_numerically_past_999(numbers: list[int]) -> None:
    docs = [parse_doc_id(f"CR-{number_text(n)}") for n in numbers]
    assert [d.number for d in sorted(docs)] == sorted(numbers)


def test_numbers_run_out_with_a_named_rule() -> None:
    with pytest.raises(BadRequest) as info:
        number_text(1_000_000)
    assert info.value.rule == "id.exhausted"
    assert isinstance(parse_doc_id("CR-1000-VAR-001"), DocId)


FORBIDDEN = {
    chr(c)
    for c in (
        *range(0x20),
        *range(0x7F, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0x2028,
        0x2029,
    )
}


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=260))
@example("\x1b[31mx")
@example("ok\x9b")
@example("  padded  ")
def test_a_title_is_refused_or_one_clean_bounded_line(value: str) -> None:
    try:
        title = validate_title(value)
    except InvalidDocument as exc:
        assert exc.rule.startswith("document.title")
        return
    assert title == title.strip() and 0 < len(title) <= DEFAULT_LIMITS.max_title_chars
    assert not FORBIDDEN & set(title)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_a_comment_is_refused_or_clean_apart_from_newlines(value: str) -> None:
    try:
        comment = check_comment(value, limits=DEFAULT_LIMITS, rule="review.comment")
    except QmsError as exc:
        assert exc.rule.startswith("review.comment.")
        return
    assert not (FORBIDDEN - {"\n"}) & set(comment)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_printable_never_lets_a_control_character_through(value: str) -> None:
    assert not FORBIDDEN & set(printable(value))
    assert not (FORBIDDEN - {"\n"}) & set(printable(value, keep_newlines=True))
