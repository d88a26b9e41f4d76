"""What each service's image holds: exactly what its Dockerfile installs (the
service's requirements.txt and, without its dependencies, cotoami_common),
which is all that the service's code and cotoami_common import, and which has
neither pytest nor PyYAML nor the test helpers (services/testing) in it.

The installs are resolved against the dev venv's installed metadata rather
than by installing each image for real: tools/install.sh puts every pinned
requirement into that venv (the test checks that the versions are the pins),
so the dependency graph is the one pip would follow, read offline in
milliseconds instead of minutes of downloads. cotoami_common is installed from
its folder whole (`packages = ["cotoami_common"]`), so its files are what the
import check reads.
"""

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SERVICES_DIR = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "cotos", "cotonomas", "mailer")
COMMON = SERVICES_DIR / "common"
# What only tests use: none of it may reach an image.
TEST_ONLY = {"pytest", "pyyaml", "cotoami-testing", "openapi-spec-validator"}


def pip_installs(dockerfile: Path) -> set[tuple[str, ...]]:
    """Each `pip install` of the Dockerfile, as its options with the folders of
    the build context it installs from (what COPY put at the path it names)."""
    copied: dict[str, str] = {}
    installs = set()
    for line in dockerfile.read_text().splitlines():
        if copy := re.fullmatch(r"COPY (?!--)(\S+) (\S+)", line):
            copied[copy[2]] = copy[1]
        elif install := re.fullmatch(r"RUN /venv/bin/pip install (.*)", line):
            words = [word for word in install[1].split() if word != "--no-cache-dir"]
            installs.add(tuple(copied.get(word, word) for word in words))
    return installs


def pinned(requirements: Path) -> list[Requirement]:
    lines = (line.split("#")[0].strip() for line in requirements.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def installed_closure(requirements: list[Requirement]) -> dict[str, str]:
    """Every distribution pip installs for these requirements, with its version."""
    found: dict[str, str] = {}
    wanted = [(requirement, requirement.extras) for requirement in requirements]
    while wanted:
        requirement, extras = wanted.pop()
        name = canonicalize_name(requirement.name)
        version = metadata.version(name)
        assert requirement.specifier.contains(version, prereleases=True), (
            f"the dev venv holds {name} {version}, not {requirement}: run tools/install.sh"
        )
        if name in found:
            continue
        found[name] = version
        for dependency in map(Requirement, metadata.requires(name) or []):
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if dependency.marker is None or any(dependency.marker.evaluate(env) for env in environments):
                wanted.append((dependency, dependency.extras))
    return found


def imported_modules(package: Path) -> set[str]:
    """The top-level names of everything the package's modules import from outside it."""
    names = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_an_image_installs_its_requirements_and_common_alone(service):
    assert pip_installs(SERVICES_DIR / service / "Dockerfile") == {
        ("-r", f"{service}/requirements.txt"),
        ("--no-deps", "common"),
    }


@pytest.mark.parametrize("service", SERVICES)
def test_an_image_has_what_its_code_imports_and_nothing_only_tests_use(service):
    image = installed_closure(pinned(SERVICES_DIR / service / "requirements.txt"))
    assert not TEST_ONLY & image.keys(), f"{service}'s image would hold {sorted(TEST_ONLY & image.keys())}"

    common = tomllib.loads((COMMON / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in map(Requirement, common):
        name = canonicalize_name(requirement.name)
        assert name in image, f"cotoami_common requires {requirement}, which {service}/requirements.txt lacks"
        assert requirement.specifier.contains(image[name], prereleases=True), f"{requirement}: {image[name]}"

    providers = metadata.packages_distributions()
    code = imported_modules(SERVICES_DIR / service / service) | imported_modules(COMMON / "cotoami_common")
    outside = code - set(sys.stdlib_module_names) - {service, "cotoami_common"}
    missing = {
        module
        for module in outside
        if not {canonicalize_name(dist) for dist in providers.get(module, [])} & image.keys()
    }
    assert not missing, f"{service}'s image lacks what its code imports: {sorted(missing)}"
