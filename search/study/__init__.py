"""Optuna studies over registered models: `StudyConfig` says what to run, `run_study` runs it.

- `config`: the command's settings, checked once; `samplers`: samplers and pruners by name;
- `objective`: a configuration's cross-validated score, fold by fold;
- `runner`: the study's life (stores, parent run, workers, repair); `workers`: the command's
  trial quota and worker processes; `interrupts`: Ctrl-C and SIGTERM; `progress`: following it.
"""

from search.study.config import StudyConfig, StudyError
from search.study.progress import Reporter
from search.study.runner import StudyOutcome, StudyPlan, run_study

__all__ = ["Reporter", "StudyConfig", "StudyError", "StudyOutcome", "StudyPlan", "run_study"]
