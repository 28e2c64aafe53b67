"""axe-core in the browser tests: the serious and critical violations of the page shown.

axe is JavaScript: the page's context must have JavaScript on and bypass the CSP (which
refuses the injected script); the pages under test work without it."""

from functools import cache
from pathlib import Path

SERIOUS = ("serious", "critical")


@cache
def _axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def serious_violations(page) -> list[dict]:
    """The serious and critical violations of `page` as loaded: id, impact and targets."""
    page.add_script_tag(content=_axe_source())
    violations = page.evaluate(
        "async () => (await axe.run()).violations.map("
        "v => ({id: v.id, impact: v.impact, targets: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [violation for violation in violations if violation["impact"] in SERIOUS]
