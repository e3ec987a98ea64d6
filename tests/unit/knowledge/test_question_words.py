"""What the retrieval statement is given: the any-of-these-words query and the question's content words."""

from __future__ import annotations

import uuid

from shared.knowledge import retrieval


def test_question_words_leave_the_full_text_query_and_the_coverage() -> None:
    # given a question worded with interrogatives and an existential verb
    question = "Quantas coberturas existem no prédio?"
    # when its query and content words are built / then only the words about its subject remain
    assert retrieval.words(question) == "coberturas or no or prédio"
    assert retrieval.content_words(question) == "coberturas no prédio"


def test_a_question_of_question_words_only_has_no_content_words() -> None:
    # given a question with nothing to look for / then the coverage has nothing to count (nothing passes)
    assert retrieval.content_words("Como? Quando? Onde?") == ""


def test_the_threshold_is_passed_to_sql() -> None:
    # given a query / when its parameters are built / then the coverage threshold and content words are in them
    query = retrieval.Query(uuid.uuid4(), "Posso parcelar a entrada?", [0.0] * 384)
    params = retrieval.params(query)
    assert (params["min_coverage"], params["text"]) == (retrieval.MIN_COVERAGE, "parcelar a entrada")
