"""Optuna studies over registered models: `StudyConfig` says what to run, `run_study` runs it.

Read in this order:

- `config`: the command's settings, checked once; `plan`: inputs checked, stores inspected, study opened;
- `runner`: the study's life, phase by phase; `wrapup`: its end (runs mended, best model, parent run);
- `drivers`: how trials get run, with two drivers: `local` (this process and worker processes) and
  `remote` (workers on other hosts, CML's);
- `execution`: one worker's loop; `objective`: a configuration's cross-validated score, fold by fold;
- `workers`: the command's trial quota, worker processes, who runs a trial; `orphans`: trials whose
  process died; `progress`: following the study as it runs;
- `callbacks`: its MLflow tracking; `samplers`: samplers and pruners by name; `outcome`: what it did;
- `repair`: ``search sync``, mending a study's runs after a crash or an outage.
"""

from search.study.config import StudyConfig, StudyError
from search.study.outcome import StudyOutcome
from search.study.plan import StudyPlan
from search.study.progress import Reporter
from search.study.runner import StudyFailed, run_study

__all__ = ["Reporter", "StudyConfig", "StudyError", "StudyFailed", "StudyOutcome", "StudyPlan", "run_study"]
