"""A row of tests/confusion_matrix.py for each group of mistakes planted together
(``COMBINED``: two inside one backward, three at once), each in an API not yet taken while
there is one, so that every API has some: the checker names exactly the planted mistakes. The whole matrix is the script's."""

from __future__ import annotations

import pytest
from confusion_matrix import COMBINED, combined_rows, exact, named

ROWS = combined_rows()
CHOSEN = []
for k, group in enumerate(COMBINED):
    planted_as = "+".join(group)
    apis = sorted({api for row, api, _ in ROWS if row == planted_as})
    new = [api for api in apis if api not in {chosen[1] for chosen in CHOSEN}]
    api = new[-1] if new else apis[k % len(apis)]  # an API not yet taken, if any
    CHOSEN.append((planted_as, api, ("float64", "float32")[k % 2]))


def test_every_api_has_a_group_planted():
    assert {api for _, api, _ in CHOSEN} == {api for _, api, _ in ROWS}


@pytest.mark.parametrize(("planted_as", "api", "dtype"), CHOSEN, ids=str)
def test_mistakes_planted_together_are_named_exactly(request, planted_as, api, dtype):
    if api in ("d2l", "cs231n-torch"):
        request.getfixturevalue("torch")  # or a skip, where torch is not installed
    names = named(planted_as, api, dtype)
    assert exact(planted_as, names), names
