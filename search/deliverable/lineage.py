"""What a run was trained on, and what reproduces it, recorded the MLflow way.

The data are MLflow datasets (name, digest, source: the generator and its
arguments, the bundled loader, or the CSV file) logged as the run's inputs in
the ``training`` and ``test`` contexts. Trial runs carry the training digest as
a tag instead (one write per trial less), so runs can still be filtered by it.
Every run also records the package versions and the command line (masked).
"""

from __future__ import annotations

import shlex
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from search.text import mask

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from search.data import Dataset

#: Tags naming the data a run was trained on, for runs without dataset inputs (the trials).
DATASET_TAG, DIGEST_TAG = "dataset", "dataset_digest"
#: The packages whose versions reproduce a result.
PACKAGES = ("cml-hyperparameter-search", "scikit-learn", "optuna", "mlflow", "numpy")
#: The command line this process was started with, as the user typed it (set by the entry point).
_command: list[str] = []


def record_command(words: Sequence[str]) -> None:
    """Remember the command line a run should record (``search study knn ...``)."""
    _command[:] = list(words)


@dataclass(frozen=True)
class Lineage:
    """The training and test splits as MLflow datasets (``name``, ``digest``, ``source``, ``schema``, ...)."""

    training: dict[str, Any]
    test: dict[str, Any]

    @property
    def name(self) -> str:
        return self.training["name"]

    @property
    def digest(self) -> str:
        return self.training["digest"]

    def tags(self) -> dict[str, str]:
        return {DATASET_TAG: self.name, DIGEST_TAG: self.digest}

    def log(self, client: MlflowClient, run_id: str) -> None:
        """Log both splits as the run's inputs, in the ``training`` and ``test`` contexts."""
        from mlflow.entities import Dataset, DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        inputs = []
        for context, fields in (("training", self.training), ("test", self.test)):
            entity = Dataset(name=fields["name"], digest=fields["digest"], source_type=fields["source_type"],
                             source=fields["source"], schema=fields.get("schema"), profile=fields.get("profile"))
            inputs.append(DatasetInput(entity, tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)]))
        for attempt in range(3):
            try:
                client.log_inputs(run_id, datasets=inputs)
                return
            except Exception as error:
                # Commands started together on one experiment insert the same dataset at once; the loser of
                # that race finds it there on its next try.
                if attempt == 2 or not any(word in str(error) for word in ("UNIQUE constraint", "duplicate key")):
                    raise


def lineage(data: Dataset) -> Lineage:
    """``data``'s two splits as MLflow datasets, with their digests."""
    import mlflow.data
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.sources import LocalArtifactDatasetSource

    origin = dict(data.origin)
    if "uri" in origin:
        source = LocalArtifactDatasetSource(origin["uri"])
    else:
        source = CodeDatasetSource(tags={key: str(value) for key, value in origin.items()})
    splits = []
    for part, labels in (("train", data.y_train), ("test", data.y_test)):
        frame = data.features(part)
        frame[data.target_name] = labels.to_numpy()
        with warnings.catch_warnings():  # integer labels: MLflow hints at missing values; labels have none
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(frame, source=source, targets=data.target_name, name=data.name)
            splits.append(dataset.to_dict())
    return Lineage(*splits)


def provenance_tags(command: Sequence[str] | None = None) -> dict[str, str]:
    """What reproduces a run besides its params: the package versions and the command line (masked)."""
    from importlib.metadata import PackageNotFoundError, version  # read here: every command imports this module

    tags = {}
    for package in PACKAGES:
        try:
            tags[f"version.{package}"] = version(package)
        except PackageNotFoundError:
            continue
    words = list(command or _command or [sys.argv[0].rsplit("/", 1)[-1], *sys.argv[1:]])
    tags["command"] = mask(shlex.join(words))
    return tags
