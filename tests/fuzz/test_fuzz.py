"""Each fuzz target, briefly: a few hundred generated inputs must not crash it (issue 12).

The long run is by hand: `python benchmarks/fuzz.py --count 1000000`. Set
AKSCAN_FUZZ_EXAMPLES to run more (or fewer) here.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz.targets import TARGETS, Target

settings.register_profile(
    "fuzz-ci", max_examples=int(os.environ.get("AKSCAN_FUZZ_EXAMPLES", "200")), deadline=None,
    database=None, suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("target", TARGETS.values(), ids=list(TARGETS))
def test_generated_input_never_crashes(target: Target) -> None:
    @settings(settings.get_profile("fuzz-ci"))
    @given(target.inputs)
    def run(data: bytes) -> None:
        target.run(data)

    run()
