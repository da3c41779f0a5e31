"""The docs keep up with the code: every setting read from the environment is in the README,
every API path of the OpenAPI schema is in docs/api.md."""

import ast
import re
from pathlib import Path

from drf_spectacular.generators import SchemaGenerator

ROOT = Path(__file__).resolve().parent.parent
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")


def _environment_variables_read_by(path: Path) -> set[str]:
    """Names passed as a string literal to os.environ.get / os.getenv / env_*(), or used
    as os.environ["NAME"]."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args:
            function = ast.unparse(node.func)
            first = node.args[0]
            reads_env = function in {"os.environ.get", "os.getenv"} or function.startswith("env_")
            if reads_env and isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return {name for name in names if ENV_NAME.match(name)}


def test_readme_documents_every_environment_variable_of_the_settings():
    names = _environment_variables_read_by(ROOT / "segflow" / "settings.py")
    readme = (ROOT / "README.md").read_text()

    assert {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY"} <= names
    assert sorted(name for name in names if f"`{name}`" not in readme) == []


def _without_parameter_names(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_api_docs_mention_every_path_of_the_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = _without_parameter_names((ROOT / "docs" / "api.md").read_text())

    paths = [_without_parameter_names(path) for path in schema["paths"]]

    assert "/api/v1/events/batch" in paths
    assert sorted(path for path in paths if path not in documented) == []
