"""Apps do not reach up into the project package: they use settings and send tasks by name."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "chatkit_platform"
# Every package at the top of the checkout is an app or the SDK, except these.
NOT_APPS = {PROJECT, "tests", "bench", "deploy", "scripts", "templates"}


def _app_modules() -> list[Path]:
    packages = [
        path.parent
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in NOT_APPS and not path.parent.name.startswith(".")
    ]
    assert {"chatkit_core", "tenants", "hosted_agents"} <= {p.name for p in packages}
    return [module for package in packages for module in package.rglob("*.py")]


def _imports_project(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(name == PROJECT or name.startswith(PROJECT + ".") for name in names):
            lines.append(node.lineno)
    return lines


def test_no_app_module_imports_the_project_package() -> None:
    offenders = {}
    for module in _app_modules():
        lines = _imports_project(ast.parse(module.read_text(), filename=str(module)))
        if lines:
            offenders[str(module.relative_to(ROOT))] = lines
    assert offenders == {}


def test_the_check_finds_an_import_of_the_project_package() -> None:
    tree = ast.parse(
        "def f():\n    from chatkit_platform.celery import app\nimport chatkit_platform\n"
    )
    assert sorted(_imports_project(tree)) == [2, 3]
