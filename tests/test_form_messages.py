"""What a form says when a value is refused: plain words naming the field, never Pydantic's."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field

from tocsin.errors import InvalidInput
from tocsin.web.forms import parse


class Level(BaseModel):
    targets: Annotated[list[int], Field(min_length=1)]
    delay_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    weight: Annotated[float, Field(gt=0)] = 1.0


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"targets": []}, "Targets: choose at least one."),
        ({"targets": [1], "delay_minutes": "soon"}, "Delay minutes: enter a whole number."),
        ({"targets": [1], "delay_minutes": 0}, "Delay minutes: at least 1."),
        ({"targets": [1], "delay_minutes": 61}, "Delay minutes: at most 60."),
        ({"targets": [1], "weight": 0}, "Weight: more than 0."),
        ({"targets": [1], "weight": "heavy"}, "Weight: enter a number."),
    ],
)
def test_refused_values_are_explained_in_plain_words(values, said):
    with pytest.raises(InvalidInput) as refused:
        parse(Level, values)
    assert refused.value.message == said
