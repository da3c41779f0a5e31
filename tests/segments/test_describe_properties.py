"""Property test: any valid condition tree (the compiler property test's generator) is
described without raising, and the words of the whole tree hold each leaf's sentence."""

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.models import CustomField
from segments.describe import Names, condition_describe, conditions_describe
from segments.tree import iter_conditions
from tests.segments.test_compiler_properties import CHOICES, FIELD_TYPES, trees

NAMES = Names(
    fields={
        key: CustomField(
            key=key, label=key.upper(), type=kind, choices=CHOICES if kind == "choice" else []
        )
        for key, kind in FIELD_TYPES.items()
    },
    segments={1: "First"},
    topics={"news": "Newsletter"},
)
moments = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),
    max_value=dt.datetime(2090, 1, 1),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-11))]),
)


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(tree=trees, now=moments)
def test_every_valid_tree_is_described_with_each_leaf_sentence(tree, now):
    text = conditions_describe(conditions=tree, now=now, names=NAMES)

    assert text.strip()
    for leaf in iter_conditions(tree):
        sentence = condition_describe(condition=leaf, now=now, names=NAMES)
        assert sentence.strip()
        assert sentence in text
