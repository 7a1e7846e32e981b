"""Distributed Optuna storages: a real PostgreSQL database and a real Redis journal, workers on both."""

import optuna
import pytest
from support import experiment_runs

pytestmark = pytest.mark.slow


def _children(tracking_uri, experiment):
    return experiment_runs(tracking_uri, experiment)[1]


@pytest.mark.system
def test_study_on_postgresql_with_two_workers(run_cli, postgres_url, tracking_uri):
    result = run_cli("study", "knn", "--n-trials", "6", "--workers", "2", "--storage", postgres_url,
                     "--no-progress")
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="knn", storage=postgres_url)
    finished = [t.number for t in study.trials if t.state.is_finished()]
    assert len(finished) >= 6
    assert sorted(int(c.data.tags["number"]) for c in _children(tracking_uri, "knn")) == sorted(finished)


@pytest.mark.system
def test_study_on_a_redis_journal_resumes(run_cli, redis_url, tracking_uri):
    assert run_cli("study", "knn", "--n-trials", "3", "--storage", redis_url).returncode == 0
    again = run_cli("study", "knn", "--n-trials", "2", "--storage", redis_url, "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert "already had 3 trials" in again.stdout
    assert len(_children(tracking_uri, "knn")) >= 5
    best = run_cli("best", "knn", "--storage", redis_url, "--format", "json")
    assert best.returncode == 0 and '"study": "knn"' in best.stdout


@pytest.mark.system
def test_storage_password_never_printed(run_cli, postgres_url):
    secret_url = postgres_url.replace("postgres@", "postgres:Sup3rSecret@")
    result = run_cli("study", "knn", "--n-trials", "1", "--storage", secret_url)
    assert "Sup3rSecret" not in result.stdout + result.stderr
    assert "postgres:***@" in result.stdout + result.stderr
