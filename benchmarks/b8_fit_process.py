"""B8 fit isolation: what fitting each configuration in a forked child (`search.fit_process`) costs per trial.

The same configurations are scored twice in one run: in this process (the baseline, what trials did before
runaway fits could be stopped) and through `run_fit`, each forked into a child that reports its folds back.
Figures are medians over the configurations: kNN on the default data (the cheapest trial the toolkit runs,
where a fixed cost shows most), and HistGradientBoosting on penguins (strings and blanks), on one thread as
a study's trials run. No target: the figure to watch is the added seconds per trial against its own time.

    python -m benchmarks.b8_fit_process [--quick]
"""

from __future__ import annotations

import statistics
import time

from benchmarks._common import Row, cli, print_table, ratio

CASES = {"knn on synthetic": ("knn", "synthetic", {"n_neighbors": 7}),
         "hist-gradient-boosting on penguins": ("hist-gradient-boosting", "penguins", {"max_iter": 100})}


def main(*, quick: bool) -> list[Row]:
    from threadpoolctl import threadpool_limits

    from search.data import DataSpec
    from search.evaluation import Scoring, evaluate
    from search.fit_process import run_fit
    from search.plugins import get_model

    repeats = 5 if quick else 20
    rows = []
    for name, (model, source, params) in CASES.items():
        data = DataSpec(source).load()
        scoring = Scoring().for_task(data.task)
        spec = get_model(model).for_task(data.task)
        pipeline = spec.build(spec.resolve(params), 0, data.columns)

        def in_process(pipeline=pipeline, data=data, scoring=scoring) -> None:
            evaluate(pipeline, data, scoring, on_fold=lambda step, scores: None)

        def in_child(pipeline=pipeline, data=data, scoring=scoring) -> None:
            run_fit(lambda send: evaluate(pipeline, data, scoring, on_fold=lambda step, scores: send(scores[-1])),
                    on_message=lambda score: None)

        seconds: dict[str, list[float]] = {"in process": [], "in a child": []}
        # One thread each, as a study runs its trials; interleaved, so a slower moment hits both alike.
        with threadpool_limits(limits=1):
            for _ in range(repeats):
                for label, fit in (("in process", in_process), ("in a child", in_child)):
                    started = time.perf_counter()
                    fit()
                    seconds[label].append(time.perf_counter() - started)
        alone, isolated = (statistics.median(seconds[label]) for label in ("in process", "in a child"))
        rows.append(Row(f"{name}: one trial in process", alone, "s", "in process", 1.0))
        rows.append(Row(f"{name}: one trial in a child", isolated, "s", "in process", ratio(isolated, alone)))
        rows.append(Row(f"{name}: added per trial", isolated - alone, "s"))
    print_table(f"B8 fit isolation, median of {repeats} trials each (ratio = time / in process)", rows)
    return rows


if __name__ == "__main__":
    cli(main, __doc__.splitlines()[0])
