"""environment.yml and pyproject.toml must pin the same packages at the same versions."""
import re
import tomllib

import yaml

from helpers.core.paths import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements) -> dict:
    found = {}
    for requirement in requirements:
        match = PIN.match(requirement.strip())
        assert match, f"not an exact pin: {requirement!r}"
        found[normalise(match[1])] = match[2]
    return found


def pyproject_pins() -> dict:
    return pins(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def environment_pins() -> dict:
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in spec["dependencies"] if isinstance(item, dict))
    return pins(r for r in pip_section if not r.startswith("-e"))


def test_same_pins_in_both_files():
    assert pyproject_pins() == environment_pins()


def test_torch_pins_are_the_required_ones():
    assert pyproject_pins()["torch"] == "2.14.1"
    assert pyproject_pins()["torchvision"] == "0.29.1"


def test_pin_parser_rejects_ranges():
    import pytest

    with pytest.raises(AssertionError):
        pins(["torch>=2"])
