from retrieval.library import Library


def test_sample_lists_both_exercises(sample_library: Library) -> None:
    answer = sample_library.ask("what exercises were mentioned?")
    assert answer.answerable
    assert "North Pacific" in answer.text and "Sea of Japan" in answer.text
