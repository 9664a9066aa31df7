"""The fuzz tier's Hypothesis profiles, chosen with `BAKEPLAN_FUZZ_PROFILE` (docs/resilience.md, "Fuzz tier").

- `ci` (default, what `make test` runs): each test's modest example count, derandomized (the same
  examples every run, so CI is reproducible and its time bounded) and no example database.
- `deep` (`make fuzz`): twenty times the examples, random each run, failures kept in `.hypothesis/`
  so the next run tries them first.

A test states its `ci` count (`fuzz_settings(examples=40)`); `deep` multiplies it. The profiles apply
to the fuzz tests only: nothing here loads a profile globally, so the other tiers' properties keep
their own settings.
"""

import os

from hypothesis import HealthCheck, settings

_SCALE = {"ci": 1, "deep": 20}

settings.register_profile(
    "bakeplan-fuzz-ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile(
    "bakeplan-fuzz-deep",
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def profile_name() -> str:
    name = os.environ.get("BAKEPLAN_FUZZ_PROFILE", "ci")
    if name not in _SCALE:
        raise ValueError(f"BAKEPLAN_FUZZ_PROFILE={name!r}: use one of {', '.join(_SCALE)}")
    return name


def fuzz_settings(examples: int) -> settings:
    """The settings of one fuzz test: `examples` under `ci`, more under `deep`."""
    name = profile_name()
    return settings(settings.get_profile(f"bakeplan-fuzz-{name}"), max_examples=examples * _SCALE[name])
