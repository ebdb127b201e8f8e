"""The deploy kit, checked without a container engine: the compose file against the Compose
specification, the manifests against the Kubernetes schemas, the Dockerfile by hadolint, and
the image's steps against what `make run` does."""

from __future__ import annotations

import copy
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from django.conf import settings

from tests.deploy.kit import (
    COMPOSE,
    DOCKERFILE,
    ROOT,
    compose,
    dockerfile_stages,
    makefile_recipe,
    manage_py_commands,
    manifests,
    setuptools_packages,
    shell_commands,
    without_env_prefix,
)

HADOLINT = Path(sys.executable).with_name("hadolint")
KUBERNETES_VERSION = "1.30.0"
LONG_RUNNING_ROLES = ("web", "worker", "platform-worker", "beat")


# --- compose ---------------------------------------------------------------------------


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    # check-jsonschema ships the Compose specification's schema: nothing is downloaded.
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
               "vendor.compose-spec", str(path)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_compose_file_follows_the_compose_specification() -> None:
    result = check_compose(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_validation_catches_a_malformed_file(tmp_path: Path) -> None:
    broken = compose()
    broken["services"]["web"]["healthcheck"]["intervall"] = "5s"  # a typo
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(broken))

    result = check_compose(path)

    assert result.returncode == 1, result.stdout
    assert "$.services.web.healthcheck" in result.stdout
    assert "intervall" in result.stdout


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def _queues(command: list[str]) -> set[str]:
    value = command[command.index("-Q") + 1]
    return set(value.split(","))


def test_compose_runs_every_role_on_the_queues_the_settings_name() -> None:
    services = compose()["services"]

    assert {"db", "redis", "migrate", *LONG_RUNNING_ROLES} <= services.keys()
    assert _command(services["web"])[0] == "daphne"
    assert services["web"]["deploy"]["replicas"] >= 2
    assert _queues(_command(services["worker"])) == {
        settings.CELERY_TASK_DEFAULT_QUEUE,
        settings.CELERY_LONG_TOOL_QUEUE,
    }
    assert _queues(_command(services["platform-worker"])) == {settings.CELERY_PLATFORM_QUEUE}
    assert _command(services["beat"])[3] == "beat"
    assert services["migrate"]["restart"] == "no"
    for role in LONG_RUNNING_ROLES:
        assert services[role]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, role
    for name in ("db", "redis", *LONG_RUNNING_ROLES):
        assert services[name]["healthcheck"]["test"], name


def test_compose_keeps_data_and_uploads_on_volumes() -> None:
    loaded = compose()
    assert {"pgdata", "data", "uploads"} <= loaded["volumes"].keys()
    for role in LONG_RUNNING_ROLES:
        mounts = loaded["services"][role]["volumes"]
        assert {"data:/srv/var", "uploads:/srv/media"} <= set(mounts), role


def test_the_proxy_in_front_of_the_web_processes_does_not_buffer_streams() -> None:
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    for directive in ("proxy_buffering off;", "proxy_read_timeout 3600s;",
                      "proxy_set_header Upgrade $http_upgrade;"):  # fmt: skip
        assert directive in nginx


# --- Kubernetes ------------------------------------------------------------------------


def test_the_kubernetes_manifests_follow_the_kubernetes_schemas() -> None:
    objects = manifests()
    assert len(objects) >= 10
    for path, document in objects:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{path.name}: {document['kind']} {document['metadata']['name']}: {error}")


def test_the_kubernetes_validation_catches_a_malformed_manifest() -> None:
    deployment = next(doc for _, doc in manifests() if doc["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _objects(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests() if doc["kind"] == kind}


def test_the_manifests_hold_every_part_of_a_deployment() -> None:
    deployments = _objects("Deployment")
    assert set(deployments) == {
        "chatkit-web", "chatkit-worker", "chatkit-platform-worker", "chatkit-beat",
    }  # fmt: skip
    assert deployments["chatkit-beat"]["spec"]["replicas"] == 1
    assert deployments["chatkit-beat"]["spec"]["strategy"]["type"] == "Recreate"
    assert {h["spec"]["scaleTargetRef"]["name"] for h in _objects("HorizontalPodAutoscaler")
            .values()} == {"chatkit-web", "chatkit-worker"}  # fmt: skip
    assert set(_objects("PodDisruptionBudget")) >= {"chatkit-web", "chatkit-worker"}
    assert _objects("Service") and _objects("Secret") and _objects("ConfigMap")
    [job] = _objects("Job").values()
    [migrate] = job["spec"]["template"]["spec"]["containers"]
    assert migrate["command"][:3] == ["python", "manage.py", "migrate"]


def test_web_pods_are_probed_on_healthz_and_readyz_with_a_host_they_serve() -> None:
    [web] = _objects("Deployment")["chatkit-web"]["spec"]["template"]["spec"]["containers"]
    [config] = _objects("ConfigMap").values()
    public_hosts = config["data"]["ALLOWED_HOSTS"].split(",")
    probes = {name: web[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for probe in probes.values():
        assert probe["httpHeaders"] == [{"name": "Host", "value": public_hosts[0]}]


def test_the_ingress_passes_streams_unbuffered_and_keeps_them_open() -> None:
    [ingress] = _objects("Ingress").values()
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= (
        settings.LONG_TOOL_TIMEOUT_SECONDS
    )
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 600


def test_every_pod_runs_as_the_images_unprivileged_user() -> None:
    templates = [doc["spec"]["template"] for kind in ("Deployment", "Job")
                 for doc in _objects(kind).values()]  # fmt: skip
    for template in templates:
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True
        assert template["spec"]["securityContext"]["runAsUser"] == 10001


# --- the image -------------------------------------------------------------------------


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    command = [str(HADOLINT), "--no-color", "--failure-threshold", "info", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_dockerfile_passes_hadolint() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get update && apt-get install gcc\n")

    result = hadolint(careless)

    assert result.returncode == 1
    assert "DL3007" in result.stdout  # the latest tag
    assert "DL3008" in result.stdout or "DL3015" in result.stdout  # unpinned, recommends


def test_the_image_is_multi_stage_unprivileged_and_without_compilers() -> None:
    stages = dockerfile_stages()
    final = stages[-1]
    assert len(stages) >= 2
    assert "slim" in final.base
    assert final.all("COPY")[0].startswith("--from=")
    [user] = final.all("USER")
    assert user.split(":")[0] not in ("0", "root")
    final_runs = " ".join(final.all("RUN"))
    for tool in ("gcc", "build-essential", "apt-get install", "make "):
        assert tool not in final_runs
    [check] = final.all("HEALTHCHECK")
    assert "/healthz" in check


def test_every_package_pyproject_installs_is_copied_into_the_image() -> None:
    packages = setuptools_packages()
    assert "console" in packages
    for stage in dockerfile_stages():
        if not any("pip install" in run or "manage.py" in run for run in stage.all("RUN")):
            continue
        copied = {args.split()[0] for args in stage.all("COPY") if not args.startswith("--")}
        missing = set(packages) - copied
        assert not missing, f"stage {stage.name} does not copy {sorted(missing)}"


def _image_commands() -> list[list[str]]:
    return [
        without_env_prefix(command)
        for stage in dockerfile_stages()
        for run in stage.all("RUN")
        for command in shell_commands(run)
    ]


def test_the_image_installs_the_project_as_make_run_does() -> None:
    recipe = makefile_recipe("$(INSTALLED)")
    [make_install] = [c for c in recipe if c[1:4] == ["-m", "pip", "install"] and "-e" in c]
    [image_install] = [c for c in _image_commands() if c[:2] == ["pip", "install"]]
    # Both install the checkout from pyproject.toml; make adds the test extra, editable.
    make_target = make_install[-1].split("[")[0]
    image_target = image_install[-1]
    assert make_target == image_target == "."


def test_the_image_collects_static_files_as_make_run_does() -> None:
    make = manage_py_commands(makefile_recipe("run"))
    image = manage_py_commands(_image_commands())
    assert image["collectstatic"] == make["collectstatic"]


def test_the_migrate_jobs_migrate_as_make_run_does() -> None:
    make = manage_py_commands(makefile_recipe("run"))["migrate"]
    compose_migrate = _command(compose()["services"]["migrate"])
    [job] = _objects("Job").values()
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert compose_migrate == ["python", "manage.py", "migrate", *make]
    assert container["command"] == ["python", "manage.py", "migrate", *make]


def test_compose_and_kubernetes_start_the_same_commands() -> None:
    services = compose()["services"]
    containers = {
        name: doc["spec"]["template"]["spec"]["containers"][0]["command"]
        for name, doc in _objects("Deployment").items()
    }
    assert containers["chatkit-web"] == _command(services["web"])
    for service, deployment in (("worker", "chatkit-worker"),
                                ("platform-worker", "chatkit-platform-worker")):  # fmt: skip
        assert _queues(containers[deployment]) == _queues(_command(services[service]))
    dockerfile_cmd = json.loads(dockerfile_stages()[-1].all("CMD")[0])
    assert dockerfile_cmd == _command(services["web"])
