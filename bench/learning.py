"""Benchmark: the learning test (issue 15, docs/learning.md): one supplier truly 2 days slower than its
master data says, planned without and with learning from receipts, on the same world.

    uv run python bench/learning.py                                # small profile, 56 days, seeds 1-7
    uv run python bench/learning.py --profile standard --seeds 1 2 --days 56 --extra-days 2

Prints one markdown table: the slowed supplier, N (its receipts when the plan first orders with the
learned lead time) and that day, and the fill rates: punctual supplier (reference), slow supplier
without learning, slow supplier with learning, over the whole run and from the day it was learned on.
"""

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

from lab.simulation.learning import LearningTrial, learning_trial
from lab.synthetic import PROFILES, Profile


def _trial(args: tuple[Profile, int, int, int]) -> tuple[LearningTrial, float]:
    profile, seed, days, extra = args
    started = time.perf_counter()
    trial = learning_trial(profile=profile, seed=seed, days=days, extra_days=extra)
    return trial, time.perf_counter() - started


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=list(PROFILES), default="small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6, 7])
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--extra-days", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    work = [(args.profile, seed, args.days, args.extra_days) for seed in args.seeds]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(_trial, work))
    print(
        f"{args.profile} profile, {args.days} days, the supplier {args.extra_days} day(s) slower than its master data\n"
    )
    print(
        "| seed | slowed supplier | N receipts | learned on | fill punctual | fill without | fill with "
        "| after: without | after: with | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for trial, seconds in results:
        print(
            f"| {trial.seed} | {trial.supplier_name} ({trial.supplier_id}) | {trial.receipts_when_learned or '–'} "
            f"| {trial.learned_on or 'never'} | {_rate(trial.punctual.fill_rate)} "
            f"| {_rate(trial.without_learning.fill_rate)} | {_rate(trial.with_learning.fill_rate)} "
            f"| {_rate(trial.without_learning.fill_rate_after)} | {_rate(trial.with_learning.fill_rate_after)} "
            f"| {seconds:.1f} |"
        )


if __name__ == "__main__":
    main()
