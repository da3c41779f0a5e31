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
