"""Loading a logged model without running code from it: skops, with the types our own models declare.

A pickle (or cloudpickle) file runs whatever its author wrote the moment it is
loaded, and MLflow loads one by default. So the toolkit loads only what it logs
itself: MLflow's scikit-learn flavour in the skops format, whose loader builds
objects of allowed types only. The allowed types are those scikit-learn's own
estimators need (skops's defaults) plus those the installed model declarations
declare (`ModelSpec.skops_trusted_types`), never what the model file says it
needs: a file that lists ``os.system`` as trusted is still refused. Anything
else is refused in one line, naming the format, unless the user accepts the
risk (``--trust-unsafe-format``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from models import PREPROCESSING_TYPES
from search.errors import InputError
from search.plugins import registered_models
from search.text import one_line

if TYPE_CHECKING:
    from mlflow.models import Model
    from sklearn.pipeline import Pipeline

#: The option that loads a model whatever its format, at the user's risk.
TRUST_OPTION = "--trust-unsafe-format"
#: Types beyond the estimators' own that a fitted pipeline of ours holds (a fitted imputer keeps dtypes).
PIPELINE_TYPES = PREPROCESSING_TYPES


class UnsafeModelError(InputError):
    """A model stored in a way that could run code when loaded; the message says how to accept the risk."""


def trusted_types() -> set[str]:
    """The types (beyond skops's defaults) a model of ours may hold: what the installed models declare."""
    return {name for spec in registered_models().values() for name in spec.skops_trusted_types} | set(PIPELINE_TYPES)


def describe(uri: str) -> tuple[Model, Path]:
    """The MLmodel description of the model at ``uri`` (a model URI, or a folder here), and its files' folder.

    The files are fetched, not loaded: reading the description runs no code of the model's (it is YAML).
    They are copied into a folder of this process's own (removed at its exit): MLflow fetching a registered
    model writes a file into the folder it fetches to, which for a local store is the logged model's own.
    """
    import atexit
    import shutil
    import tempfile

    import mlflow
    from mlflow.models import Model

    folder = Path(uri)
    if not (":/" not in uri and (folder / "MLmodel").is_file()):
        copy = tempfile.mkdtemp(prefix="search-model-")
        atexit.register(shutil.rmtree, copy, ignore_errors=True)
        folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=copy))
    return Model.load(str(folder / "MLmodel")), folder


def load_estimator(uri: str, model: Model, folder: Path, *, trust_unsafe: bool = False) -> Pipeline:
    """The scikit-learn model at ``uri`` (``model`` its description, ``folder`` its files), loaded safely."""
    import mlflow

    flavor = model.flavors.get("sklearn")
    if flavor is None:
        raise InputError(f"model {uri} is not a scikit-learn model (its flavours: {', '.join(model.flavors)})")
    kind = flavor.get("serialization_format", "pickle")
    if trust_unsafe:
        return mlflow.sklearn.load_model(str(folder))
    if kind != "skops":
        raise UnsafeModelError(
            f"model {uri} is stored as {kind}, a format that can run code when it is loaded; search loads only "
            f"skops models (as it logs them). If you trust whoever logged it, pass {TRUST_OPTION}"
        )
    import skops.io

    path = folder / flavor.get("pickled_model", "model.skops")
    if not path.resolve().is_relative_to(folder.resolve()):  # an absolute path, or ../: someone else's file
        raise UnsafeModelError(f"model {uri} names a file outside its folder ({flavor.get('pickled_model')}): "
                               "refused")
    try:
        found = set(skops.io.get_untrusted_types(file=path))
    except Exception as error:  # not a skops file after all
        raise UnsafeModelError(f"model {uri} has no readable skops file ({one_line(error)})") from None
    strange = sorted(found - trusted_types())
    if strange:
        raise UnsafeModelError(
            f"model {uri} holds types no installed model declares ({', '.join(strange[:5])}); they could run "
            f"code when loaded. If you trust whoever logged it, pass {TRUST_OPTION}"
        )
    return skops.io.load(path, trusted=sorted(found))
