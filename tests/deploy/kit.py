"""Readers of the deploy kit's files for the tests: the Dockerfile's stages and steps, the
compose file, the Kubernetes manifests, the Makefile's targets and pyproject's packages."""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"


@dataclass
class Instruction:
    keyword: str
    arguments: str


@dataclass
class Stage:
    base: str
    name: str
    steps: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [step.arguments for step in self.steps if step.keyword == keyword]


def dockerfile_stages(path: Path = DOCKERFILE) -> list[Stage]:
    """Return the Dockerfile's stages, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in lines:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = arguments.split()
            stages.append(Stage(words[0], words[2] if len(words) > 2 else str(len(stages))))
        elif stages:
            stages[-1].steps.append(Instruction(keyword, " ".join(arguments.split())))
    return stages


def shell_commands(run_arguments: str) -> list[list[str]]:
    """Split a RUN line's shell text into its `&&`-joined commands, each as words."""
    words = shlex.split(run_arguments)
    commands: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            commands.append([])
        else:
            commands[-1].append(word)
    return [command for command in commands if command]


def without_env_prefix(command: list[str]) -> list[str]:
    """Drop leading `NAME=value` assignments from a shell command."""
    index = 0
    while index < len(command) and "=" in command[index] and not command[index].startswith("-"):
        index += 1
    return command[index:]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    """Return every Kubernetes object of deploy/k8s/, with its file."""
    found: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(K8S.glob("*.yaml")):
        found += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def makefile_recipe(target: str) -> list[list[str]]:
    """Return the commands of a Makefile target's recipe, as words (`@` dropped)."""
    commands: list[list[str]] = []
    inside = False
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("\t"):
            if inside:
                commands.append(shlex.split(line.strip().removeprefix("@")))
            continue
        name, colon, _ = line.partition(":")
        inside = bool(colon) and name.strip() == target
    return commands


def manage_py_commands(commands: list[list[str]]) -> dict[str, list[str]]:
    """Map each `manage.py <command>` of a list of commands to its arguments."""
    found: dict[str, list[str]] = {}
    for command in commands:
        if "manage.py" in command:
            rest = command[command.index("manage.py") + 1 :]
            found[rest[0]] = rest[1:]
    return found


def setuptools_packages() -> list[str]:
    """Return the top-level packages pyproject.toml's setuptools `include` lists."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").rstrip(".") for pattern in include})
