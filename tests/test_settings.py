import json
import os
import subprocess
import sys
from pathlib import Path

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
        "print(json.dumps([s.CELERY_BROKER_URL, s.CELERY_BROKER_TRANSPORT_OPTIONS]))"
    )

    printed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    broker_url, options = json.loads(printed)

    assert broker_url.startswith("filesystem://")
    folders = {key: value for key, value in options.items() if "folder" in key}
    assert set(folders) >= {"data_folder_in", "data_folder_out", "control_folder"}
    assert all(Path(folder).is_relative_to(tmp_path / "var") for folder in folders.values())
