import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_runtime_directory_is_created_on_postgresql_and_redis_too(tmp_path):
    # Beat keeps its schedule file there whatever the database: without the directory,
    # `make run` with DATABASE_URL and CELERY_BROKER_URL set lost its beat at start.
    var_dir = tmp_path / "missing" / "var"
    env = {
        **os.environ,
        "SEGFLOW_VAR_DIR": str(var_dir),
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/segflow",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
    }

    subprocess.run([sys.executable, "-c", "import segflow.settings"], cwd=ROOT, env=env, check=True)

    assert var_dir.is_dir()


def test_embedded_broker_keeps_its_files_under_the_runtime_directory(tmp_path):
    # kombu's filesystem transport defaults to folders relative to the working directory,
    # which left a stray `control/` in the checkout after `make run`.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"}
    }
    env["SEGFLOW_VAR_DIR"] = str(tmp_path / "var")
    script = (
        "import json, segflow.settings as s; "
        "from kombu import Connection; "
        "transport = Connection(s.CELERY_BROKER_URL, transport=s.CELERY_BROKER_TRANSPORT)"
        ".transport_cls; "
        "print(json.dumps([s.CELERY_BROKER_URL, s.CELERY_BROKER_TRANSPORT_OPTIONS, transport]))"
    )

    printed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    broker_url, options, transport = json.loads(printed)

    assert broker_url.startswith("filesystem://")
    # messages are written whole before a worker can see them (segflow.filesystem_broker)
    assert transport == "segflow.filesystem_broker:Transport"
    folders = {key: value for key, value in options.items() if "folder" in key}
    assert set(folders) >= {"data_folder_in", "data_folder_out", "control_folder"}
    assert all(Path(folder).is_relative_to(tmp_path / "var") for folder in folders.values())


def _database_settings(argv: list[str], **env: str) -> dict:
    """settings.DATABASES["default"] as the process started by `argv` sees it."""
    script = (
        f"import json, sys; sys.argv = {argv!r}; import segflow.settings as s; "
        "db = s.DATABASES['default']; "
        "print(json.dumps({'max_age': db['CONN_MAX_AGE'], 'options': db['OPTIONS'], "
        "'health_checks': db['CONN_HEALTH_CHECKS']}))"
    )
    environ = {key: value for key, value in os.environ.items() if not key.startswith("DATABASE_")}
    environ.update(DATABASE_URL="postgres://postgres@127.0.0.1:5432/segflow", **env)
    printed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environ,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(printed)


def test_dev_server_borrows_from_a_bounded_pool_instead_of_one_connection_per_thread():
    database = _database_settings(["manage.py", "runserver", "--noreload"])

    assert database["max_age"] == 0
    assert database["options"]["pool"]["max_size"] == 4
    assert database["options"]["application_name"] == "segflow-devserver"


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        ([".venv/bin/gunicorn", "segflow.wsgi"], "segflow-web"),
        ([".venv/bin/celery", "-A", "segflow", "worker"], "segflow-worker"),
        (["/usr/lib/python3/site-packages/celery/__main__.py", "worker"], "segflow-worker"),
    ],
)
def test_bounded_servers_keep_one_persistent_connection_per_worker(argv, name):
    database = _database_settings(argv)

    assert database["max_age"] == 60
    assert "pool" not in database["options"]
    assert database["options"]["application_name"] == name


def test_only_a_worker_checks_its_connection_before_reusing_it():
    # a worker keeps its connection from task to task (segflow.celery), so a PostgreSQL
    # restart costs its next task a "SELECT 1"; a web request stays one round trip shorter
    worker = _database_settings([".venv/bin/celery", "-A", "segflow", "worker"])
    web = _database_settings([".venv/bin/gunicorn", "segflow.wsgi"])

    assert (worker["health_checks"], web["health_checks"]) == (True, False)


def test_connection_policy_is_set_by_environment():
    pooled = _database_settings(
        [".venv/bin/gunicorn"], DATABASE_POOL_MAX_SIZE="8", DATABASE_APPLICATION_NAME="edge"
    )
    unpooled = _database_settings(
        ["manage.py", "runserver"], DATABASE_POOL_MAX_SIZE="0", DATABASE_CONN_MAX_AGE="0"
    )

    assert (pooled["max_age"], pooled["options"]["pool"]["max_size"]) == (0, 8)
    assert pooled["options"]["application_name"] == "edge"
    assert (unpooled["max_age"], "pool" in unpooled["options"]) == (0, False)
