"""Answers to an event's custom questions: checked against the questions, and each consent
kept with the exact wording the attendee was shown, in the language shown, and when."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.registration.models import (
    CHOICE,
    CONSENT,
    MULTIPLE_CHOICE,
    TEXT,
    YES_NO,
    ConsentRecord,
    Question,
)
from services.registration.wording import N_, localised

NEEDS_AN_ANSWER = N_("This question needs an answer.")
NEEDS_CONSENT = N_("Your consent is needed to register.")
NOT_A_QUESTION = N_("Not a question of this event.")
_WRONG_SHAPE = {
    TEXT: N_("Answer with text."),
    CHOICE: N_("Choose one of the options."),
    MULTIPLE_CHOICE: N_("Choose among the options."),
    YES_NO: N_("Answer yes or no."),
    CONSENT: N_("Answer yes or no."),
}


def questions_of(session: Session, event_id: str) -> list[Question]:
    return list(
        session.scalars(
            select(Question)
            .where(Question.event_id == event_id, Question.removed_at.is_(None))
            .order_by(Question.position, Question.id)
        )
    )


def check_answers(questions: list[Question], answers: dict) -> tuple[dict, dict]:
    """(the answers to keep, {question_id: [message]} for each wrong or missing one)."""
    known = {question.id: question for question in questions}
    errors = {key: [NOT_A_QUESTION] for key in answers if key not in known}
    kept = {}
    for question in questions:
        value = answers.get(question.id)
        if _blank(question, value):
            if question.required:
                errors[question.id] = [
                    NEEDS_CONSENT if question.kind == CONSENT else NEEDS_AN_ANSWER
                ]
            elif question.kind == CONSENT and value is False:
                kept[question.id] = False
        elif not _fits(question, value):
            errors[question.id] = [_WRONG_SHAPE[question.kind]]
        else:
            kept[question.id] = value
    return kept, errors


def consent_changes(
    questions: list[Question], before: dict, after: dict, registration_id: str, language: str
) -> list[ConsentRecord]:
    """A record for each consent given or withdrawn between `before` and `after`."""
    return [
        ConsentRecord(
            registration_id=registration_id,
            question_id=question.id,
            given=bool(after.get(question.id)),
            wording=localised(question.label, question.translations, language, "label"),
            language=language,
        )
        for question in questions
        if question.kind == CONSENT
        and bool(before.get(question.id)) != bool(after.get(question.id))
    ]


def _blank(question: Question, value) -> bool:
    if question.kind == CONSENT:
        return value is None or value is False
    return value is None or value == "" or value == []


def _fits(question: Question, value) -> bool:
    if question.kind == TEXT:
        return isinstance(value, str)
    if question.kind == CHOICE:
        return isinstance(value, str) and value in question.options
    if question.kind == MULTIPLE_CHOICE:
        return (
            isinstance(value, list)
            and len(set(value)) == len(value)
            and all(isinstance(item, str) and item in question.options for item in value)
        )
    return isinstance(value, bool)
