"""Starting the keystroke after a space while the word is typed (`Engine.speculate`,
engine/speculation.py): the same answers, without the step and the scan on the keystroke."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from conftest import TINY_BUNDLE
from test_prepare import CountingSearch, end_of, fresh_completions, type_text

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.engine.speculation import STARVED_SHARE
from nextword.server.settings import RankingWeights

TEXT = "the government of the people, by the people and for the government"


@pytest.fixture
def engine() -> Engine:
    engine = load_engine(TINY_BUNDLE)
    engine.speculation.starved_share = 0.0  # a loaded test machine must not pause it
    return engine


class MainThreadSteps:
    """Counts the recurrent steps the engine's caller runs itself (not its worker thread)."""

    def __init__(self, engine: Engine) -> None:
        self.step = engine.network.step
        self.calls = 0
        engine.network.step = self  # type: ignore[method-assign]

    def __call__(self, *args, **kwargs):
        self.calls += threading.current_thread() is threading.main_thread()
        return self.step(*args, **kwargs)


def finished(engine: Engine) -> None:
    assert engine.speculation.job is not None
    engine.speculation.job.future.result()


def test_a_speculated_space_equals_fresh_without_a_step_or_a_scan(engine: Engine) -> None:
    document = DocumentState.open("mem://a", "")
    steps, speculated = MainThreadSteps(engine), False
    for char in TEXT:
        scans, steps.calls, used = CountingSearch(engine), 0, engine.stats.speculations_used
        completions = engine.complete(document, *type_text(document, char))
        assert completions == fresh_completions(engine, document.source), document.source
        if char == " " and speculated:
            assert engine.stats.speculations_used == used + 1, document.source
            assert (steps.calls, scans.calls) == (0, 0), document.source
        speculated = engine.speculate(document, *end_of(document))
        if speculated:  # a job not begun when the space comes is dropped: let it finish
            finished(engine)
    assert engine.stats.speculations_used >= 5


def test_speculation_waits_for_a_word_that_leads_its_ranking(engine: Engine) -> None:
    """Not after every keystroke: "governmen" is not a word, "government" leads its ranking."""
    document = DocumentState.open("mem://a", "")
    engine.complete(document, *type_text(document, "the governmen"))
    assert not engine.speculate(document, *end_of(document))
    engine.complete(document, *type_text(document, "t"))
    assert engine.speculate(document, *end_of(document))
    document.edit((0, 0), (0, 0), "and ")  # an edit since the ranking
    assert not engine.speculate(document, *end_of(document))


@pytest.mark.parametrize("typed", ["s", ", ", "\n\n", "'s "])
def test_a_speculation_is_not_used_for_another_context(engine: Engine, typed: str) -> None:
    document = DocumentState.open("mem://a", "")
    engine.complete(document, *type_text(document, "the government"))
    assert engine.speculate(document, *end_of(document))
    finished(engine)
    position = type_text(document, typed)
    assert engine.complete(document, *position) == fresh_completions(engine, document.source)
    assert engine.stats.speculations_used == 0


def test_a_speculation_under_other_settings_is_not_used(engine: Engine) -> None:
    document = DocumentState.open("mem://a", "")
    engine.complete(document, *type_text(document, "the government"))
    assert engine.speculate(document, *end_of(document))
    finished(engine)
    engine.configure(dataclasses.replace(engine.settings, ranking=RankingWeights(prior=0.5)))
    position = type_text(document, " ")
    assert engine.complete(document, *position) == fresh_completions(engine, document.source)
    assert engine.stats.speculations_used == 0


@pytest.mark.parametrize("starved_share", [0.0, 1.01])
def test_a_starved_worker_pauses_speculation(engine: Engine, starved_share: float) -> None:
    """A job that did not get a processor for most of its time (here: all of them, with a
    share no job reaches) stops the next ones for a while."""
    engine.speculation.starved_share = starved_share
    document = DocumentState.open("mem://a", "")
    engine.complete(document, *type_text(document, "the government"))
    assert engine.speculate(document, *end_of(document))
    finished(engine)
    engine.complete(document, *type_text(document, " of"))
    assert engine.speculate(document, *end_of(document)) == (starved_share == 0.0)


def test_a_space_after_punctuation_is_speculated_with_both_steps(engine: Engine) -> None:
    """After "people," the state after "people" was never needed (no completion is offered
    right after the comma): the job steps over the word and the comma."""
    document = DocumentState.open("mem://a", "")
    engine.complete(document, *type_text(document, "the people"))
    engine.complete(document, *type_text(document, ","))
    assert engine.speculate(document, *end_of(document))
    finished(engine)
    steps, scans = MainThreadSteps(engine), CountingSearch(engine)
    completions = engine.complete(document, *type_text(document, " "))
    assert completions == fresh_completions(engine, document.source)
    assert (steps.calls, scans.calls, engine.stats.speculations_used) == (0, 0, 1)
    assert engine.stats.recurrent_steps == 4  # <p> the, then people and the comma ahead


def test_one_starved_job_does_not_pause_speculation(engine: Engine) -> None:
    """The jobs' shares of processor time are averaged: one job kept waiting (by the
    interpreter's lock or the scheduler, as happens on an idle machine) does not pause them, a
    second in a row does, and the jobs after the pause are judged afresh."""
    speculation = engine.speculation
    speculation.starved_share = STARVED_SHARE
    speculation._share = 0.0
    assert speculation.has_spare_processor()
    speculation._share = 0.0
    assert not speculation.has_spare_processor()
    speculation._paused_until = 0.0  # the pause is over
    speculation._share = 0.0
    assert speculation.has_spare_processor()
