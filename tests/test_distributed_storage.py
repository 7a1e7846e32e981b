"""Distributed Optuna storages: a real PostgreSQL database and a real Redis journal, workers on both."""

import socket
import uuid

import optuna
import pytest

from conftest import experiment_runs, require_system

pytestmark = pytest.mark.slow

PG = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)


def _listening(address) -> bool:
    try:
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def postgres_url():
    require_system(_listening(PG), "PostgreSQL is not listening on 127.0.0.1:5432")
    import psycopg

    name = f"search_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(host=PG[0], port=PG[1], user="postgres", dbname="postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{PG[0]}:{PG[1]}/{name}"
    finally:
        with psycopg.connect(host=PG[0], port=PG[1], user="postgres", dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url():
    require_system(_listening(REDIS), "Redis is not listening on 127.0.0.1:6379")
    import redis

    prefix = f"search-test-{uuid.uuid4().hex[:10]}:"
    yield f"redis://{REDIS[0]}:{REDIS[1]}/0?prefix={prefix}"
    client = redis.Redis(host=REDIS[0], port=REDIS[1])
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


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
