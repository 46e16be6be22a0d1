"""The template syntax: references only, resolved at the moment of use; nothing is evaluated."""

from __future__ import annotations

import pytest

from agentdock.rehearsal.errors import TemplateError
from agentdock.rehearsal.template import references, render

CONTEXT = {"cr": {"doc_id": "CR-007", "pending_assignees": ["qa", "tu_ui"], "version": "0.1"}, "agent": "qa"}


def test_a_reference_inside_text_is_interpolated() -> None:
    assert render("approve {{ cr.doc_id }} as {{agent}}", CONTEXT) == "approve CR-007 as qa"


def test_a_whole_string_reference_keeps_the_value_type() -> None:
    assert render("{{ cr.pending_assignees }}", CONTEXT) == ["qa", "tu_ui"]


def test_list_indexes_are_numbers_in_the_path() -> None:
    assert render("{{ cr.pending_assignees.1 }}", CONTEXT) == "tu_ui"


def test_nested_inputs_are_rendered_and_the_original_is_unchanged() -> None:
    original = {"doc_id": "{{ cr.doc_id }}", "assignees": ["{{ agent }}"], "confirm": True}
    assert render(original, CONTEXT) == {"doc_id": "CR-007", "assignees": ["qa"], "confirm": True}
    assert original["doc_id"] == "{{ cr.doc_id }}"


def test_an_unknown_name_says_what_is_known() -> None:
    with pytest.raises(TemplateError, match=r"'sop' is not known here \(known: agent, cr\)"):
        render("{{ sop.doc_id }}", CONTEXT)


def test_a_missing_field_says_where_the_walk_stopped() -> None:
    with pytest.raises(TemplateError, match=r"cr has no 'title'"):
        render("{{ cr.title }}", CONTEXT)


@pytest.mark.parametrize(
    "text",
    ["{{ __import__('os').system('id') }}", "{{ cr['doc_id'] }}", "{{ cr.doc_id | upper }}", "{{ 1 + 1 }}"],
)
def test_anything_but_a_dotted_reference_is_refused_not_evaluated(text: str) -> None:
    with pytest.raises(TemplateError):
        render(text, CONTEXT)


def test_python_attributes_are_not_reachable() -> None:
    with pytest.raises(TemplateError, match="has no '__class__'"):
        render("{{ cr.__class__ }}", CONTEXT)


def test_references_lists_the_first_names() -> None:
    assert references({"a": "{{ cr.doc_id }} {{agent}}", "b": ["{{ sop.x }}"], "c": 3}) == {
        "cr",
        "agent",
        "sop",
    }
