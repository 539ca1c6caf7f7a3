"""The offline check that a wheel bundle installs on the image: every requirement met, nothing missing.

    unmet = check_closure(wheels, image, target, extras={"foo": {"bar"}})
    for line in unmet: print(line)   # "peft 0.21.2 needs transformers>=5.3: the image has 5.0.0"

Each bundled wheel's Requires-Dist (with the target's environment markers, and the extras that
anything asked of it) must be met by another bundled wheel or, failing that, by the image
snapshot; each wheel must also accept the target's Python and tags. A bundled version replaces the
image's, which is why a bundled wheel is checked first. What the snapshot cannot tell is whether
the image's own packages accept a bundled replacement (their requirements are not in a freeze).
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from arenakit.kaggle_build.image import ImageSnapshot
from arenakit.kaggle_build.target import Target
from arenakit.kaggle_build.wheel_info import WheelInfo


@dataclass(frozen=True)
class Unmet:
    wheel: str  # "name version" of the wheel whose requirement is not met
    requirement: str
    reason: str

    def __str__(self) -> str:
        return f"{self.wheel} needs {self.requirement}: {self.reason}"


def requested_extras(requirements, wheels: list[WheelInfo], target: Target) -> dict:
    """name -> extras asked of it by the top-level requirements or by any bundled wheel, to a fixed point."""
    extras: dict = {}
    pending = [Requirement(str(r)) for r in requirements]
    by_name = {wheel.name: wheel for wheel in wheels}
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate(target.marker_environment()):
            continue
        name = canonicalize_name(requirement.name)
        new = set(requirement.extras) - extras.get(name, set())
        if name in extras and not new:
            continue
        extras.setdefault(name, set()).update(new)
        if name in by_name:
            pending.extend(by_name[name].requirements_for(target.marker_environment(), extras[name]))
    return extras


def check_closure(
    wheels: list[WheelInfo], image: ImageSnapshot, target: Target, extras: dict | None = None
) -> list[Unmet]:
    """Every requirement of the bundle that neither another bundled wheel nor the image meets."""
    extras = extras or {}
    bundled = {wheel.name: wheel for wheel in wheels}
    supported = target.supported_tags()
    unmet = []
    for wheel in sorted(wheels, key=lambda w: w.name):
        label = f"{wheel.name} {wheel.version}"
        if not wheel.requires_python.contains(f"{target.python_version}.0", prereleases=True):
            unmet.append(
                Unmet(label, f"Python {wheel.requires_python}", f"the target is Python {target.python_version}")
            )
        if not wheel.tags & supported:
            unmet.append(Unmet(label, "a compatible build", f"{wheel.path.name} does not run on {target.describe()}"))
        for requirement in wheel.requirements_for(target.marker_environment(), extras.get(wheel.name, ())):
            reason = _why_unmet(requirement, bundled, image)
            if reason:
                unmet.append(Unmet(label, str(requirement), reason))
    return unmet


def _why_unmet(requirement: Requirement, bundled: dict, image: ImageSnapshot) -> str | None:
    name = canonicalize_name(requirement.name)
    if name in bundled:
        version = bundled[name].version
        return None if requirement.specifier.contains(version, prereleases=True) else f"the bundle has {version}"
    if image.satisfies(requirement):
        return None
    if image.has(name):
        return f"the image has {image.version(name) or 'a version the snapshot does not name'}"
    return "neither bundled nor in the image"
